"""What tests and benchmarks measure of this process."""

from __future__ import annotations


def rss_mb() -> float:
    """This process's resident memory, in MiB (NaN where /proc is not there)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")
