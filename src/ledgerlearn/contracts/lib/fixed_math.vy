# pragma version ~=0.4.3
"""
@title Fixed-point natural logarithm and packed-lane helpers
@notice Stateless helpers shared by the model modules (import, no `initializes`).
@dev    `_ln(x, e)` returns ln(x * 2**e) scaled by 1e18 (WAD), for integers
        x >= 1. Exact integer algorithm, mirrored bit for bit by
        `ledgerlearn.models.fixedpoint.ln_wad`:
          1. k = floor(log2(x)); m = x normalised to Q96 in [2**96, 2**97)
             (x >> (k - 96) or x << (96 - k); the shift right truncates).
          2. one = 2**96; if m > floor(sqrt(2) * 2**96): one = 2**97, k += 1,
             so that m / one lies in [1/sqrt(2), sqrt(2)].
          3. z = ((m - one) * 2**96) / (m + one)   (signed, truncated toward 0)
             z2 = (z * z) >> 96
             s = sum_{j=0..11} z2**j / (2j+1) by Horner in Q96 (each step
                 s = C_j + ((s * z2) >> 96), C_j = 2**96 // (2j+1))
             ln_m = (z * s) >> 95          (= 2 z s in Q96; arithmetic shift)
          4. result = (((k + e) * LN2_Q96 + ln_m) * 10**18) >> 96
        |z| <= 0.1716 so the truncated series is accurate to ~1e-20; the
        result is within a few 1e-18 of ln(x * 2**e).
"""

WAD: constant(int256) = 10**18
Q96: constant(int256) = 2**96
SQRT2_Q96: constant(uint256) = 112045541949572279837463876454
LN2_Q96: constant(int256) = 54916777467707473351141471128
C0: constant(int256) = 2**96
C1: constant(int256) = 2**96 // 3
C2: constant(int256) = 2**96 // 5
C3: constant(int256) = 2**96 // 7
C4: constant(int256) = 2**96 // 9
C5: constant(int256) = 2**96 // 11
C6: constant(int256) = 2**96 // 13
C7: constant(int256) = 2**96 // 15
C8: constant(int256) = 2**96 // 17
C9: constant(int256) = 2**96 // 19
C10: constant(int256) = 2**96 // 21
C11: constant(int256) = 2**96 // 23


@internal
@pure
def _log2_floor(x: uint256) -> uint256:
    """
    @dev floor(log2(x)) for x > 0 (0 for x == 0), by binary search.
    """
    r: uint256 = 0
    y: uint256 = x
    if y >= 2**128:
        y = y >> 128
        r = 128
    if y >= 2**64:
        y = y >> 64
        r = r | 64
    if y >= 2**32:
        y = y >> 32
        r = r | 32
    if y >= 2**16:
        y = y >> 16
        r = r | 16
    if y >= 2**8:
        y = y >> 8
        r = r | 8
    if y >= 2**4:
        y = y >> 4
        r = r | 4
    if y >= 2**2:
        y = y >> 2
        r = r | 2
    if y >= 2:
        r = r | 1
    return r


@internal
@pure
def _ln(x: uint256, e: uint256) -> int256:
    """
    @dev ln(x * 2**e) * 1e18 for x >= 1, e < 2**64 (see the module docstring).
    """
    assert x != 0, "math: ln of zero"
    k: uint256 = self._log2_floor(x)
    m: uint256 = 0
    if k >= 96:
        m = x >> unsafe_sub(k, 96)
    else:
        m = x << unsafe_sub(96, k)
    one: uint256 = 2**96
    if m > SQRT2_Q96:
        one = 2**97
        k = unsafe_add(k, 1)
    # |m - one| < 2**96 and m + one < 2**98: the casts and products fit
    num: int256 = unsafe_sub(convert(m, int256), convert(one, int256))
    den: int256 = convert(unsafe_add(m, one), int256)
    z: int256 = unsafe_div(num << 96, den)
    z2: int256 = unsafe_mul(z, z) >> 96
    s: int256 = C11
    s = unsafe_add(C10, unsafe_mul(s, z2) >> 96)
    s = unsafe_add(C9, unsafe_mul(s, z2) >> 96)
    s = unsafe_add(C8, unsafe_mul(s, z2) >> 96)
    s = unsafe_add(C7, unsafe_mul(s, z2) >> 96)
    s = unsafe_add(C6, unsafe_mul(s, z2) >> 96)
    s = unsafe_add(C5, unsafe_mul(s, z2) >> 96)
    s = unsafe_add(C4, unsafe_mul(s, z2) >> 96)
    s = unsafe_add(C3, unsafe_mul(s, z2) >> 96)
    s = unsafe_add(C2, unsafe_mul(s, z2) >> 96)
    s = unsafe_add(C1, unsafe_mul(s, z2) >> 96)
    s = unsafe_add(C0, unsafe_mul(s, z2) >> 96)
    ln_m: int256 = unsafe_mul(z, s) >> 95
    kk: int256 = convert(k + e, int256)
    return (unsafe_add(kk * LN2_Q96, ln_m) * WAD) >> 96
