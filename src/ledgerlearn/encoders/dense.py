"""Dense encoders: real vectors to the fixed-point integers dense models take.

- :class:`FixedPointEncoder` (on-chain name ``"Multiply by 1E9, then round"``):
  ``round(x * 1e9)`` per component; the input is expected to be normalised
  already when the model is a dense one.
- :class:`NormalizeEncoder` (on-chain name :data:`NORMALIZE`): scale the vector
  to L2 norm 1 first, then convert. Dense models check that the norm is 1
  within a relative tolerance of 1e-7; the result is within about
  ``sqrt(d) * 1e-9``.

:func:`l2_normalize_fixed_rows` is the vectorised batch form (numpy), equal
to :func:`l2_normalize_fixed` row by row.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence

import numpy as np

from ledgerlearn.errors import ValidationError

SCALE = 10**9
MULTIPLY_1E9 = "Multiply by 1E9, then round"
NORMALIZE = "Normalize to L2 norm 1, multiply by 1E9, then round"
#: Relative tolerance of the norm check in the dense model contracts.
NORM_TOLERANCE = 1e-7


_NUM_SPLIT = re.compile(r"[\s,]+")


def parse_vector(raw) -> list:
    """A list of numbers from a list, a JSON array string, or "1, 2, 3"/"1 2 3"."""
    if isinstance(raw, str):
        s = raw.strip()
        if s.startswith("["):
            try:
                raw = json.loads(s)
            except ValueError as exc:
                raise ValidationError(f"x: not a JSON array of numbers ({exc})") from exc
        else:
            parts = [p for p in _NUM_SPLIT.split(s) if p]
            out = []
            for p in parts:
                try:
                    out.append(int(p))
                except ValueError:
                    try:
                        out.append(float(p))
                    except ValueError:
                        raise ValidationError(f"x: {p!r} is not a number") from None
            return out
    if isinstance(raw, Mapping) or not isinstance(raw, Sequence) and not hasattr(raw, "tolist"):
        raise ValidationError(f"x: expected a list of numbers, got {type(raw).__name__}")
    if hasattr(raw, "tolist"):
        raw = raw.tolist()
    return list(raw)


def _floats(values, what: str = "x") -> list[float]:
    values = parse_vector(values)
    out = []
    for i, v in enumerate(values):
        if isinstance(v, bool):
            raise ValidationError(f"{what}[{i}]: expected a number, got {v!r}")
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValidationError(f"{what}[{i}]: expected a number, got {v!r}") from None
        if not math.isfinite(f):
            raise ValidationError(f"{what}[{i}]: {v!r} is not a finite number")
        out.append(f)
    if not out:
        raise ValidationError(f"{what}: the vector is empty")
    return out


def to_fixed(values) -> list[int]:
    """``round(v * 1e9)`` for each component (Python's round: half to even)."""
    return [round(f * SCALE) for f in _floats(values)]


def l2_normalize_fixed(values) -> list[int]:
    """Scale ``values`` to L2 norm 1 and convert to fixed point (SCALE 1e9)."""
    fs = _floats(values)
    norm = math.sqrt(math.fsum(f * f for f in fs))
    if norm == 0.0:
        raise ValidationError("x: the zero vector cannot be normalised to L2 norm 1")
    return [round(f / norm * SCALE) for f in fs]


def l2_normalize_fixed_rows(rows) -> np.ndarray:
    """:func:`l2_normalize_fixed` of each row of a 2-D float array, vectorised.

    Returns an int64 array; row ``i`` equals ``l2_normalize_fixed(rows[i])``
    exactly (same fsum norm, same IEEE division and multiplication, rint
    rounds half to even like ``round``). A zero or non-finite row raises a
    :class:`ValidationError` naming ``rows[i]``.
    """
    try:
        x = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"rows: not a 2-D array of numbers ({exc})") from None
    if x.ndim != 2:
        raise ValidationError(f"rows: expected a 2-D array, got shape {x.shape}")
    out = np.empty(x.shape, dtype=np.int64)
    for i, row in enumerate(x):
        if not np.isfinite(row).all():
            raise ValidationError(f"rows[{i}]: not all values are finite numbers")
        norm = math.sqrt(math.fsum((row * row).tolist()))
        if norm == 0.0:
            raise ValidationError(f"rows[{i}]: the zero vector cannot be normalised to L2 norm 1")
        out[i] = np.rint(row / norm * SCALE)
    return out


def fixed_norm_error(x: Sequence[int]) -> float:
    """Relative distance of a fixed-point vector's L2 norm from 1 (0.0 is exact)."""
    sq = sum(int(v) * int(v) for v in x)
    return abs(math.sqrt(sq) / SCALE - 1.0)


class _DenseEncoder:
    name: str = ""
    kind = "dense"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class FixedPointEncoder(_DenseEncoder):
    """``"Multiply by 1E9, then round"``."""

    name = MULTIPLY_1E9

    def encode(self, raw, model_type: str | None = None) -> list[int]:
        return to_fixed(raw)


class NormalizeEncoder(_DenseEncoder):
    """L2-normalise, then multiply by 1e9 and round."""

    name = NORMALIZE

    def encode(self, raw, model_type: str | None = None) -> list[int]:
        return l2_normalize_fixed(raw)
