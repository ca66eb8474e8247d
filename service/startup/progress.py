"""Progress of long CLI operations: a bar on a terminal, plain lines in a log."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TypeVar

import click

T = TypeVar("T")


def progress(items: list[T], label: str) -> Iterator[T]:
    if sys.stderr.isatty():
        with click.progressbar(items, label=label, file=sys.stderr) as bar:
            yield from bar
        return
    total = len(items)
    step = max(1, total // 10)
    for done, item in enumerate(items, start=1):
        yield item
        if done % step == 0 or done == total:
            click.echo(f"{label}: {done}/{total} ({done * 100 // total}%)", err=True)

