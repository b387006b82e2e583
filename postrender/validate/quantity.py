"""Kubernetes resource quantities as exact numbers: ``5Gi`` equals ``5120Mi``.

The grammar is apimachinery's ``ParseQuantity``: an optionally signed decimal number
(``1``, ``1.5``, ``1.``, ``.5``), then a binary suffix (``Ki`` ... ``Ei``, powers of 1024), a
decimal one (``n``, ``u``, ``m``, none, ``k``, ``M``, ``G``, ``T``, ``P``, ``E``) or an integer
decimal exponent (``1e3``, ``2E-2``; ``1E`` alone is an exa). Values are kept as reduced
fractions of integers, so comparing never rounds; no ``fractions`` import (it pulls in
``decimal``) on the post-renderer's path.
"""

from __future__ import annotations

import re
from math import gcd

_QUANTITY = re.compile(
    r"(?P<sign>[+-]?)(?P<int>[0-9]*)(?:\.(?P<frac>[0-9]*))?"
    r"(?:[eE](?P<exp>[+-]?[0-9]+)|(?P<suffix>[KMGTPE]i|[numkMGTPE]))?\Z"
)
_BINARY = {s: 1024**i for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"), start=1)}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}

_MAX_TEXT = 64

Fraction = tuple[int, int]  # (numerator, denominator > 0), reduced


def parse_quantity(value: object) -> Fraction | None:
    """The exact value of a quantity written as YAML gives it (int, float or string), else
    None. A YAML float (``4e0``, ``0.5``) is the JSON number the API server reads."""
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        text = repr(value)
    elif isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    else:
        text = str(value)
    # Longer than any real quantity: refused before int() meets thousands of digits.
    match = _QUANTITY.match(text) if len(text) <= _MAX_TEXT else None
    if not match or not (match["int"] or match["frac"]):
        return None
    frac = match["frac"] or ""
    num, den = int((match["int"] or "0") + frac), 10 ** len(frac)
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        num *= _BINARY[suffix]
    else:
        exponent = int(match["exp"]) if match["exp"] is not None else _DECIMAL[suffix]
        if abs(exponent) > _MAX_TEXT:
            return None
        if exponent >= 0:
            num *= 10**exponent
        else:
            den *= 10**-exponent
    if match["sign"] == "-":
        num = -num
    common = gcd(num, den)
    return num // common, den // common


def same_quantity(a: object, b: object) -> bool:
    """Whether two resource values mean the same amount (as text when either is no quantity)."""
    qa, qb = parse_quantity(a), parse_quantity(b)
    if qa is None or qb is None:
        return str(a) == str(b)
    return qa == qb


def whole_quantity(value: object) -> int | None:
    """The value as an integer when it is a quantity with no fractional part (``8``, ``1k``)."""
    q = parse_quantity(value)
    return q[0] if q is not None and q[1] == 1 else None


def quantity_float(value: object) -> float | None:
    """The value as a float, for sums and comparisons where rounding does not matter."""
    q = parse_quantity(value)
    return q[0] / q[1] if q is not None else None
