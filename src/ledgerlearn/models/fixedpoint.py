"""Integer arithmetic shared by the model mirrors, bit-exact with the contracts.

``SCALE = 10**9`` is the fixed-point scale of weights, intercepts, learning
rates, smoothing factors and centroid coordinates. Vyper's signed division
truncates toward zero; :func:`tdiv` does the same (Python's ``//`` floors).
:func:`ln_wad` is the exact mirror of ``contracts/lib/fixed_math.vy``'s ``_ln``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from ledgerlearn.errors import ValidationError

SCALE = 10**9
WAD = 10**18
Q96 = 2**96
SQRT2_Q96 = 112045541949572279837463876454
LN2_Q96 = 54916777467707473351141471128
_HORNER = tuple(Q96 // (2 * j + 1) for j in range(12))


def tdiv(a: int, b: int) -> int:
    """Integer division truncating toward zero (EVM ``SDIV``, Vyper ``//`` on ints)."""
    if b == 0:
        raise ZeroDivisionError("tdiv by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def to_fixed(x: float, name: str = "value") -> int:
    """``round(x * 1e9)``, the spec's conversion of reals; rejects NaN and infinities."""
    try:
        xf = float(x)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name}: {x!r} is not a number") from exc
    if isinstance(x, bool) or not math.isfinite(xf):
        raise ValidationError(f"{name}: {x!r} is not a finite number")
    return round(xf * 1e9)


def from_fixed(v: int) -> float:
    """Fixed point to float."""
    return v / SCALE


def log2_floor(x: int) -> int:
    return x.bit_length() - 1 if x > 0 else 0


def ln_wad(x: int, e: int = 0) -> int:
    """``ln(x * 2**e) * 1e18`` exactly as the contracts compute it (x >= 1)."""
    if x <= 0:
        raise ValueError("ln of a non-positive number")
    k = log2_floor(x)
    m = x >> (k - 96) if k >= 96 else x << (96 - k)
    one = Q96
    if m > SQRT2_Q96:
        one = 2 * Q96
        k += 1
    z = tdiv((m - one) << 96, m + one)
    z2 = (z * z) >> 96
    s = _HORNER[11]
    for j in range(10, -1, -1):
        s = _HORNER[j] + ((s * z2) >> 96)
    ln_m = (z * s) >> 95
    return (((k + e) * LN2_Q96 + ln_m) * WAD) >> 96


# -- packed lanes -------------------------------------------------------------

def pack_signed(values: Sequence[int], bits: int, lanes: int) -> list[int]:
    """Pack signed ints into words of ``lanes`` two's complement lanes of ``bits`` each.

    Lane ``j`` of word ``k`` holds ``values[k * lanes + j]`` at bit ``j * bits``.
    """
    mask = (1 << bits) - 1
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    words = []
    for k in range(0, len(values), lanes):
        w = 0
        for j, v in enumerate(values[k : k + lanes]):
            if not lo <= v <= hi:
                raise ValidationError(f"value {v} does not fit a signed {bits}-bit lane")
            w |= (v & mask) << (j * bits)
        words.append(w)
    return words


def unpack_signed(word: int, bits: int, lanes: int) -> list[int]:
    mask = (1 << bits) - 1
    out = []
    for j in range(lanes):
        r = (word >> (j * bits)) & mask
        out.append(r - (1 << bits) if r >> (bits - 1) else r)
    return out


def pack_unsigned(values: Sequence[int], bits: int, lanes: int) -> list[int]:
    mask = (1 << bits) - 1
    words = []
    for k in range(0, len(values), lanes):
        w = 0
        for j, v in enumerate(values[k : k + lanes]):
            if not 0 <= v <= mask:
                raise ValidationError(f"value {v} does not fit an unsigned {bits}-bit lane")
            w |= v << (j * bits)
        words.append(w)
    return words


def unpack_unsigned(word: int, bits: int, lanes: int) -> list[int]:
    mask = (1 << bits) - 1
    return [(word >> (j * bits)) & mask for j in range(lanes)]


def chunks(items: Sequence, size: int) -> Iterable[tuple[int, Sequence]]:
    """``(start, items[start:start+size])`` for consecutive chunks."""
    for start in range(0, len(items), size):
        yield start, items[start : start + size]
