# pragma version ~=0.4.3
"""
@title Nearest centroid classifier (dense)
@notice Input: dense fixed-point vector of L2 norm 1. Prediction: the class
        whose centroid has the smallest squared Euclidean distance
        sum((c[i] - x[i])**2) (exact, 1e18 scale), ties to the lower index.
        Update: moving average of the label's centroid,
          c[i] = trunc((c[i] * n + x[i]) / (n + 1))   (toward zero, as SDIV)
          n += 1
        (with n = 0 the centroid becomes x).
@dev    Input checks as the dense perceptron (dimension, |x[i]| < 2**62,
        |sum x^2 - 1e18| <= 1e11), same revert reasons.
        Storage:
          _params: num_features (bits 0..63) | num_classes (64..127)
          _centroids[c * WORDS + k]: seven int36 lanes (two's complement), lane j
                   at bits 36j = coordinate 7k + j of class c's centroid
          _counts[c]: the class's data count n
        Coordinates are bounded to [-2**35, 2**35 - 1] (about +-34.36 in real
        units) when loaded; updates stay inside (a moving average of values
        inside the bound and of |x[i]| <= ~1).
"""

import setup

uses: setup

MAX_DIM: constant(uint256) = 784
MAX_CLASSES: constant(uint256) = 64
MAX_CLASS_NAME: constant(uint256) = 64
LANES: constant(uint256) = 7
LANE_BITS: constant(uint256) = 36
WORDS: constant(uint256) = 112
LANE_MASK: constant(uint256) = 2**36 - 1
MASK64: constant(uint256) = 2**64 - 1
NORM_LO: constant(int256) = 10**18 - 10**11
NORM_HI: constant(int256) = 10**18 + 10**11
GUARD_OFFSET: constant(uint256) = 2**62
GUARD_LIMIT: constant(uint256) = 2**63

_params: uint256
_centroids: uint256[MAX_CLASSES * WORDS]
_counts: uint256[MAX_CLASSES]
_class_names: HashMap[uint256, String[MAX_CLASS_NAME]]


@internal
def _init(classes: DynArray[String[MAX_CLASS_NAME], MAX_CLASSES], num_features: uint256, data_counts: DynArray[uint256, MAX_CLASSES]):
    """
    @dev Class names (1 .. 64), dimension (1 .. 784) and each class's data
         count; centroids are loaded afterwards with `load_centroid`.
    """
    nc: uint256 = len(classes)
    assert nc > 0, "model: no classes"
    assert num_features > 0 and num_features <= MAX_DIM, "model: bad feature count"
    assert len(data_counts) == nc, "model: one data count per class"
    for c: uint256 in range(nc, bound=MAX_CLASSES):
        self._class_names[c] = classes[c]
        assert data_counts[c] < MASK64, "model: data count out of range"
        if data_counts[c] != 0:
            self._counts[c] = data_counts[c]
    self._params = num_features | (nc << 64)


@external
def load_centroid(c: uint256, start: uint256, words: DynArray[uint256, WORDS]):
    """
    @notice Store packed words start .. start + len(words) - 1 of class c's centroid (setup phase).
    @dev    Word k holds the int36 coordinates 7k .. 7k+6.
    """
    setup._check_setup()
    assert c < (self._params >> 64), "model: class index out of range"
    assert start + len(words) <= WORDS, "model: centroid words out of range"
    k: uint256 = unsafe_add(unsafe_mul(c, WORDS), start)
    for w: uint256 in words:
        assert w < 2**252, "model: bad centroid word"
        self._centroids[k] = w
        k += 1


@external
@view
def centroid_word(c: uint256, k: uint256) -> uint256:
    """
    @notice Packed word k (coordinates 7k .. 7k+6) of class c's centroid.
    """
    assert c < MAX_CLASSES and k < WORDS, "model: index out of range"
    return self._centroids[c * WORDS + k]


@external
@view
def data_count(c: uint256) -> uint256:
    """
    @notice Number of samples averaged into class c's centroid.
    """
    return self._counts[c]


@external
@view
def num_features() -> uint256:
    """
    @notice Input dimension.
    """
    return self._params & MASK64


@internal
@view
def _num_features() -> uint256:
    return self._params & MASK64


@internal
@view
def _num_classes() -> uint256:
    return self._params >> 64


@internal
@view
def _class_name(i: uint256) -> String[MAX_CLASS_NAME]:
    assert i < self._params >> 64, "model: class index out of range"
    return self._class_names[i]


@internal
@view
def _predict(x: DynArray[int256, MAX_DIM]) -> uint256:
    """
    @dev Validates x; argmin over classes of sum((c[i] - x[i])**2), ties to
         the lower index. Seven coordinates per storage word, unrolled (lane j:
         shift left 220 - 36j, arithmetic shift right 220); class 0's
         distance is computed in the validation pass.
    """
    params: uint256 = self._params
    nf: uint256 = params & MASK64
    assert len(x) == nf, "model: wrong input dimension"
    nc: uint256 = params >> 64
    full: uint256 = nf // LANES
    sq: int256 = 0
    guard: uint256 = 0
    d: int256 = 0
    i: uint256 = 0
    k: uint256 = 0
    for _: uint256 in range(full, bound=WORDS):
        w: int256 = convert(convert(self._centroids[k], bytes32), int256)
        x0: int256 = x[i]
        x1: int256 = x[unsafe_add(i, 1)]
        x2: int256 = x[unsafe_add(i, 2)]
        x3: int256 = x[unsafe_add(i, 3)]
        x4: int256 = x[unsafe_add(i, 4)]
        x5: int256 = x[unsafe_add(i, 5)]
        x6: int256 = x[unsafe_add(i, 6)]
        d0: int256 = unsafe_sub((w << 220) >> 220, x0)
        d1: int256 = unsafe_sub((w << 184) >> 220, x1)
        d2: int256 = unsafe_sub((w << 148) >> 220, x2)
        d3: int256 = unsafe_sub((w << 112) >> 220, x3)
        d4: int256 = unsafe_sub((w << 76) >> 220, x4)
        d5: int256 = unsafe_sub((w << 40) >> 220, x5)
        d6: int256 = unsafe_sub((w << 4) >> 220, x6)
        guard = guard | unsafe_add(convert(convert(x0, bytes32), uint256), GUARD_OFFSET) | unsafe_add(convert(convert(x1, bytes32), uint256), GUARD_OFFSET) | unsafe_add(convert(convert(x2, bytes32), uint256), GUARD_OFFSET) | unsafe_add(convert(convert(x3, bytes32), uint256), GUARD_OFFSET) | unsafe_add(convert(convert(x4, bytes32), uint256), GUARD_OFFSET) | unsafe_add(convert(convert(x5, bytes32), uint256), GUARD_OFFSET) | unsafe_add(convert(convert(x6, bytes32), uint256), GUARD_OFFSET)
        sq = unsafe_add(sq, unsafe_add(unsafe_add(unsafe_add(unsafe_add(unsafe_add(unsafe_add(unsafe_mul(x0, x0), unsafe_mul(x1, x1)), unsafe_mul(x2, x2)), unsafe_mul(x3, x3)), unsafe_mul(x4, x4)), unsafe_mul(x5, x5)), unsafe_mul(x6, x6)))
        d = unsafe_add(d, unsafe_add(unsafe_add(unsafe_add(unsafe_add(unsafe_add(unsafe_add(unsafe_mul(d0, d0), unsafe_mul(d1, d1)), unsafe_mul(d2, d2)), unsafe_mul(d3, d3)), unsafe_mul(d4, d4)), unsafe_mul(d5, d5)), unsafe_mul(d6, d6)))
        k = unsafe_add(k, 1)
        i = unsafe_add(i, LANES)
    if i < nf:
        w: int256 = convert(convert(self._centroids[k], bytes32), int256)
        for j: uint256 in range(unsafe_sub(nf, i), bound=LANES):
            xi: int256 = x[unsafe_add(i, j)]
            guard = guard | unsafe_add(convert(convert(xi, bytes32), uint256), GUARD_OFFSET)
            sq = unsafe_add(sq, unsafe_mul(xi, xi))
            di: int256 = unsafe_sub((w << unsafe_sub(220, unsafe_mul(j, LANE_BITS))) >> 220, xi)
            d = unsafe_add(d, unsafe_mul(di, di))
    assert guard < GUARD_LIMIT, "model: input value out of range"
    assert sq >= NORM_LO and sq <= NORM_HI, "model: input norm is not 1"
    best: int256 = d
    best_c: uint256 = 0
    for c: uint256 in range(1, nc, bound=MAX_CLASSES):
        d = 0
        i = 0
        k = c * WORDS
        for _: uint256 in range(full, bound=WORDS):
            w: int256 = convert(convert(self._centroids[k], bytes32), int256)
            x0: int256 = x[i]
            x1: int256 = x[unsafe_add(i, 1)]
            x2: int256 = x[unsafe_add(i, 2)]
            x3: int256 = x[unsafe_add(i, 3)]
            x4: int256 = x[unsafe_add(i, 4)]
            x5: int256 = x[unsafe_add(i, 5)]
            x6: int256 = x[unsafe_add(i, 6)]
            d0: int256 = unsafe_sub((w << 220) >> 220, x0)
            d1: int256 = unsafe_sub((w << 184) >> 220, x1)
            d2: int256 = unsafe_sub((w << 148) >> 220, x2)
            d3: int256 = unsafe_sub((w << 112) >> 220, x3)
            d4: int256 = unsafe_sub((w << 76) >> 220, x4)
            d5: int256 = unsafe_sub((w << 40) >> 220, x5)
            d6: int256 = unsafe_sub((w << 4) >> 220, x6)
            d = unsafe_add(d, unsafe_add(unsafe_add(unsafe_add(unsafe_add(unsafe_add(unsafe_add(unsafe_mul(d0, d0), unsafe_mul(d1, d1)), unsafe_mul(d2, d2)), unsafe_mul(d3, d3)), unsafe_mul(d4, d4)), unsafe_mul(d5, d5)), unsafe_mul(d6, d6)))
            k = unsafe_add(k, 1)
            i = unsafe_add(i, LANES)
        if i < nf:
            w: int256 = convert(convert(self._centroids[k], bytes32), int256)
            for j: uint256 in range(unsafe_sub(nf, i), bound=LANES):
                di: int256 = unsafe_sub((w << unsafe_sub(220, unsafe_mul(j, LANE_BITS))) >> 220, x[unsafe_add(i, j)])
                d = unsafe_add(d, unsafe_mul(di, di))
        if d < best:
            best = d
            best_c = c
    return best_c


@internal
def _update(x: DynArray[int256, MAX_DIM], label: uint256):
    """
    @dev c[i] = trunc((c[i] * n + x[i]) / (n + 1)) for the label's centroid,
         n += 1. Validates x (a failed check reverts the whole update).
         |c[i]| < 2**35, n < 2**64, |x[i]| < 2**62: no overflow, and the new
         coordinate lies between c[i] and x[i] (|x[i]| < 1.0000001e9 after
         the norm check), so it stays in int36.
    """
    params: uint256 = self._params
    assert label < params >> 64, "model: unknown class label"
    nf: uint256 = params & MASK64
    assert len(x) == nf, "model: wrong input dimension"
    n: uint256 = self._counts[label]
    assert n < MASK64, "model: data count out of range"
    ni: int256 = convert(n, int256)
    n1: int256 = unsafe_add(ni, 1)
    sq: int256 = 0
    guard: uint256 = 0
    i: uint256 = 0
    k: uint256 = label * WORDS
    for _: uint256 in range(nf // LANES, bound=WORDS):
        w: int256 = convert(convert(self._centroids[k], bytes32), int256)
        x0: int256 = x[i]
        x1: int256 = x[unsafe_add(i, 1)]
        x2: int256 = x[unsafe_add(i, 2)]
        x3: int256 = x[unsafe_add(i, 3)]
        x4: int256 = x[unsafe_add(i, 4)]
        x5: int256 = x[unsafe_add(i, 5)]
        x6: int256 = x[unsafe_add(i, 6)]
        guard = guard | unsafe_add(convert(convert(x0, bytes32), uint256), GUARD_OFFSET) | unsafe_add(convert(convert(x1, bytes32), uint256), GUARD_OFFSET) | unsafe_add(convert(convert(x2, bytes32), uint256), GUARD_OFFSET) | unsafe_add(convert(convert(x3, bytes32), uint256), GUARD_OFFSET) | unsafe_add(convert(convert(x4, bytes32), uint256), GUARD_OFFSET) | unsafe_add(convert(convert(x5, bytes32), uint256), GUARD_OFFSET) | unsafe_add(convert(convert(x6, bytes32), uint256), GUARD_OFFSET)
        sq = unsafe_add(sq, unsafe_add(unsafe_add(unsafe_add(unsafe_add(unsafe_add(unsafe_add(unsafe_mul(x0, x0), unsafe_mul(x1, x1)), unsafe_mul(x2, x2)), unsafe_mul(x3, x3)), unsafe_mul(x4, x4)), unsafe_mul(x5, x5)), unsafe_mul(x6, x6)))
        c0: uint256 = convert(convert(unsafe_div(unsafe_add(unsafe_mul((w << 220) >> 220, ni), x0), n1), bytes32), uint256) & LANE_MASK
        c1: uint256 = convert(convert(unsafe_div(unsafe_add(unsafe_mul((w << 184) >> 220, ni), x1), n1), bytes32), uint256) & LANE_MASK
        c2: uint256 = convert(convert(unsafe_div(unsafe_add(unsafe_mul((w << 148) >> 220, ni), x2), n1), bytes32), uint256) & LANE_MASK
        c3: uint256 = convert(convert(unsafe_div(unsafe_add(unsafe_mul((w << 112) >> 220, ni), x3), n1), bytes32), uint256) & LANE_MASK
        c4: uint256 = convert(convert(unsafe_div(unsafe_add(unsafe_mul((w << 76) >> 220, ni), x4), n1), bytes32), uint256) & LANE_MASK
        c5: uint256 = convert(convert(unsafe_div(unsafe_add(unsafe_mul((w << 40) >> 220, ni), x5), n1), bytes32), uint256) & LANE_MASK
        c6: uint256 = convert(convert(unsafe_div(unsafe_add(unsafe_mul((w << 4) >> 220, ni), x6), n1), bytes32), uint256) & LANE_MASK
        self._centroids[k] = c0 | (c1 << 36) | (c2 << 72) | (c3 << 108) | (c4 << 144) | (c5 << 180) | (c6 << 216)
        k = unsafe_add(k, 1)
        i = unsafe_add(i, LANES)
    if i < nf:
        word: uint256 = self._centroids[k]
        for j: uint256 in range(unsafe_sub(nf, i), bound=LANES):
            xi: int256 = x[unsafe_add(i, j)]
            guard = guard | unsafe_add(convert(convert(xi, bytes32), uint256), GUARD_OFFSET)
            sq = unsafe_add(sq, unsafe_mul(xi, xi))
            sh: uint256 = unsafe_mul(j, LANE_BITS)
            ci: int256 = convert(convert(word << unsafe_sub(220, sh), bytes32), int256) >> 220
            ci = unsafe_div(unsafe_add(unsafe_mul(ci, ni), xi), n1)
            word = (word & ~(LANE_MASK << sh)) | ((convert(convert(ci, bytes32), uint256) & LANE_MASK) << sh)
        self._centroids[k] = word
    assert guard < GUARD_LIMIT, "model: input value out of range"
    assert sq >= NORM_LO and sq <= NORM_HI, "model: input norm is not 1"
    self._counts[label] = unsafe_add(n, 1)
