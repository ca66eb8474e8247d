"""Amounts of money in checks and limits (R22), and how the model compares them.

stock pycasbin has no number type in its matcher that a CSV value could be compared with
safely, but it compares strings. Every amount the service hands to Casbin is therefore
written at one width - twelve digits, a point, two digits ("000000000200.00") - so text
order is numeric order, and a limited grant is the action followed by "<=" and its limit
("approve<=000000000200.00"): an auditor reads "approve up to 200.00".

Amounts arrive as decimal strings only ("200.01"): a JSON number is a binary float that
cannot carry every cent exactly, so it is refused rather than rounded.
"""

from __future__ import annotations

import re
from decimal import Decimal

from .errors import InvalidInput

INTEGER_DIGITS = 12
WIDTH = INTEGER_DIGITS + 3  # "000000000200.00"
MAX = Decimal("999999999999.99")
LIMITED = "<="  # action<=limit: a grant that applies to amounts up to the limit
# What a caller may send: digits, optionally a point and one or two decimals. ASCII digits
# only ('\d' would take other scripts' digits), no sign, exponent, spaces or NaN.
_INPUT = re.compile(r"(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?")
_STORED = re.compile(r"[0-9]{12}\.[0-9]{2}")
RULE = "a decimal string of at most 12 digits and 2 decimals, such as \"200.01\""


def parse(value: object, field: str = "amount") -> str:
    """The amount a caller sent, as the model's fixed-width text; else an input error
    naming `field`."""
    if not isinstance(value, str) or not _INPUT.fullmatch(value):
        raise InvalidInput(f"{field} must be {RULE}", {field: [f"must be {RULE}"]})
    return fixed(Decimal(value))


def fixed(amount: Decimal) -> str:
    """`amount` (0 to MAX, whole cents) at the model's width."""
    return f"{amount:0{WIDTH}.2f}"


def shown(text: str) -> str:
    """A fixed-width amount as people write it: "000000000200.00" -> "200.00"."""
    return f"{Decimal(text):.2f}"


def is_stored(text: str) -> bool:
    return bool(_STORED.fullmatch(text))


def limited(action: str, limit: str) -> str:
    """The rule action of a grant of `action` up to `limit` (fixed width)."""
    return f"{action}{LIMITED}{limit}"


def split(act: str) -> tuple[str, str]:
    """(action, limit) of a rule's action: ("approve", "000000000200.00") for a limited
    grant, ("approve", "") for any other."""
    action, sep, limit = act.partition(LIMITED)
    return (action, limit) if sep else (act, "")
