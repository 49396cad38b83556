"""Integer helpers of the mirrors: truncating division, the fixed-point ln, packing."""

from __future__ import annotations

import math
import random
from decimal import Decimal, localcontext

import pytest

from ledgerlearn.errors import ValidationError
from ledgerlearn.models.fixedpoint import WAD, ln_wad, pack_signed, pack_unsigned, tdiv, to_fixed, unpack_signed, unpack_unsigned


def test_tdiv_truncates_toward_zero():
    assert tdiv(7, 2) == 3 and tdiv(-7, 2) == -3 and tdiv(7, -2) == -3 and tdiv(-7, -2) == 3
    assert tdiv(-1, 10**9) == 0 and tdiv(0, 5) == 0
    with pytest.raises(ZeroDivisionError):
        tdiv(1, 0)


def test_ln_is_accurate_to_a_few_wad_units():
    rng = random.Random(0)
    xs = [1, 2, 3, 10, 10**9, 2**96, 2**97, 2**255] + [rng.randrange(1, 2 ** rng.randrange(1, 256)) for _ in range(300)]
    with localcontext() as ctx:
        ctx.prec = 80
        for x in xs:
            exact = Decimal(x).ln() * WAD
            assert abs(Decimal(ln_wad(x)) - exact) < 2
            e = 6400
            assert abs(Decimal(ln_wad(x, e)) - (exact + e * Decimal(2).ln() * WAD)) < 2
    assert ln_wad(1) == 0
    assert abs(ln_wad(3, 64) / WAD - (math.log(3) + 64 * math.log(2))) < 1e-13
    with pytest.raises(ValueError):
        ln_wad(0)


def test_packing_round_trips_and_bounds():
    vals = [0, 1, -1, 2**47 - 1, -(2**47), 12345]
    words = pack_signed(vals, 48, 5)
    assert len(words) == 2 and all(w < 2**240 for w in words)
    assert unpack_signed(words[0], 48, 5) + unpack_signed(words[1], 48, 5)[:1] == vals
    with pytest.raises(ValidationError):
        pack_signed([2**47], 48, 5)
    u = [0, 2**32 - 1, 5, 7, 9, 11, 13, 15, 17]
    assert sum((unpack_unsigned(w, 32, 8) for w in pack_unsigned(u, 32, 8)), [])[:9] == u
    with pytest.raises(ValidationError):
        pack_unsigned([-1], 32, 8)


def test_to_fixed():
    assert to_fixed(0.5) == 500_000_000 and to_fixed(4.88) == 4_880_000_000 and to_fixed(-1) == -(10**9)
    for bad in (float("inf"), float("nan"), "x", None, True):
        with pytest.raises(ValidationError):
            to_fixed(bad, "f")
