# pragma version ~=0.4.3
"""
@title Nearest centroid classifier (sparse binary inputs)
@notice Input: sorted unique feature indices (value 1). Prediction: the class
        with the smallest squared distance |c - x|^2, ties to the lower
        index. Update: moving average of the label's centroid,
        c = (c * n + x) / (n + 1), n += 1, touching only the present indices
        and one per-class word (lazy rescaling).
@dev    Lazy rescaling: each class keeps its *sum* V = c * n (fixed point,
        1e9) instead of c; the scale factor 1/n is applied when reading, so
        an update is V[i] += 1e9 for the present i and n += 1, exactly the
        moving average with no rounding at all. Per class also
        Q = sum_i V[i]^2 (1e18 scale), maintained by updates:
        Q += sum_{i in x} (2 * 1e9 * V[i] + 1e18) (V[i] before the update).
        Prediction, with T_c = sum_{i in x} V_c[i] and L = len(x):
          n_c >= 1:  D_c = trunc((Q_c - 2 * 1e9 * T_c * n_c) / n_c^2) + L * 1e18
          n_c == 0:  D_c = L * 1e18       (the empty centroid is the origin)
        which is |c - x|^2 * 1e18 up to the one truncation (toward zero);
        argmin with strict <. A class with n = 0 must have V = 0 (the loader
        files enforce it).
        Storage:
          _params: num_features (bits 0..63) | num_classes (64..127)
          _sums[p // 5]: five int48 lanes (two's complement) at bits 48 * (p % 5),
                   position p = i * C + c (a feature's classes are adjacent)
          _stats[c]: n (bits 0..63) | Q (bits 64..255)
        Sums are bounded to 2**47 - 1 (c * n <= ~140,737); an update beyond
        reverts with "model: centroid overflow".
"""

import setup

uses: setup

MAX_TOKENS: constant(uint256) = 512
MAX_CLASSES: constant(uint256) = 64
MAX_WORDS_PER_CALL: constant(uint256) = 512
MAX_CLASS_NAME: constant(uint256) = 64
MAX_FEATURES: constant(uint256) = 2**32
LANES: constant(uint256) = 5
LANE_BITS: constant(uint256) = 48
LANE_MASK: constant(uint256) = 2**48 - 1
MASK64: constant(uint256) = 2**64 - 1
SUM_MAX: constant(int256) = 2**47 - 1
SCALE: constant(int256) = 10**9
SCALE_SQ: constant(int256) = 10**18

_params: uint256
_sums: HashMap[uint256, uint256]
_stats: uint256[MAX_CLASSES]
_class_names: HashMap[uint256, String[MAX_CLASS_NAME]]


@internal
def _init(classes: DynArray[String[MAX_CLASS_NAME], MAX_CLASSES], num_features: uint256, data_counts: DynArray[uint256, MAX_CLASSES], sq_norms: DynArray[uint256, MAX_CLASSES]):
    """
    @dev Class names (1 .. 64), F (1 .. 2**32), and per class the data count
         n and Q = sum of the squared sums V[i]^2 (1e18 scale) of the sums
         loaded afterwards with `load_sums`.
    """
    nc: uint256 = len(classes)
    assert nc > 0, "model: no classes"
    assert num_features > 0 and num_features <= MAX_FEATURES, "model: bad feature count"
    assert len(data_counts) == nc and len(sq_norms) == nc, "model: one count and one norm per class"
    for c: uint256 in range(nc, bound=MAX_CLASSES):
        self._class_names[c] = classes[c]
        assert data_counts[c] < MASK64 and sq_norms[c] < 2**192, "model: class stats out of range"
        self._stats[c] = data_counts[c] | (sq_norms[c] << 64)
    self._params = num_features | (nc << 64)


@external
def load_sums(start: uint256, words: DynArray[uint256, MAX_WORDS_PER_CALL]):
    """
    @notice Store packed sum words start .. start + len(words) - 1 (setup phase).
    @dev    Word k holds the int48 sums V of positions 5k .. 5k+4, position
            p = feature * num_classes + class.
    """
    setup._check_setup()
    k: uint256 = start
    for w: uint256 in words:
        assert w < 2**240, "model: bad sum word"
        self._sums[k] = w
        k += 1


@external
def load_sums_at(keys: DynArray[uint256, MAX_WORDS_PER_CALL], words: DynArray[uint256, MAX_WORDS_PER_CALL]):
    """
    @notice Store packed sum words at arbitrary word indices (setup phase).
    """
    setup._check_setup()
    assert len(keys) == len(words), "model: keys and words differ in length"
    i: uint256 = 0
    for k: uint256 in keys:
        w: uint256 = words[i]
        assert w < 2**240, "model: bad sum word"
        self._sums[k] = w
        i += 1


@external
@view
def sums_word(key: uint256) -> uint256:
    """
    @notice Packed sum word `key` (positions 5 * key .. 5 * key + 4).
    """
    return self._sums[key]


@external
@view
def class_stats(c: uint256) -> (uint256, uint256):
    """
    @notice Data count n and squared norm Q of class c's sums.
    """
    s: uint256 = self._stats[c]
    return s & MASK64, s >> 64


@external
@view
def num_features() -> uint256:
    """
    @notice Number of features: indices must be below it.
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
def _distance(c: uint256, t: int256, base: int256) -> int256:
    """
    @dev D_c from the class's stats, T_c and L * 1e18 (see the module notes).
    """
    s: uint256 = self._stats[c]
    n: int256 = convert(s & MASK64, int256)
    if n == 0:
        return base
    # |T| <= 256 * 2**47, n < 2**64, Q < 2**192: fits int256
    return unsafe_add(base, unsafe_div(unsafe_sub(convert(s >> 64, int256), unsafe_mul(unsafe_mul(2 * SCALE, t), n)), unsafe_mul(n, n)))


@internal
@view
def _predict(x: DynArray[uint256, MAX_TOKENS]) -> uint256:
    """
    @dev Validates x (strictly increasing, below num_features) in class 0's
         pass; argmin of D_c with ties to the lower index. One pass over the
         tokens per class (a token's classes share storage words, so later
         passes mostly read warm slots).
    """
    params: uint256 = self._params
    nf: uint256 = params & MASK64
    nc: uint256 = params >> 64
    t: int256 = 0
    lo: uint256 = 0
    key: uint256 = max_value(uint256)
    word: uint256 = 0
    for i: uint256 in x:
        if unsafe_sub(i, lo) >= unsafe_sub(nf, lo):
            assert i >= lo, "model: indices must be strictly increasing"
            raise "model: feature index out of range"
        lo = unsafe_add(i, 1)
        p: uint256 = unsafe_mul(i, nc)
        k: uint256 = unsafe_div(p, LANES)
        if k != key:
            key = k
            word = self._sums[k]
        t = unsafe_add(t, convert(convert(word << unsafe_sub(208, unsafe_mul(unsafe_sub(p, unsafe_mul(k, LANES)), LANE_BITS)), bytes32), int256) >> 208)
    base: int256 = convert(len(x), int256) * SCALE_SQ
    best: int256 = self._distance(0, t, base)
    best_c: uint256 = 0
    for c: uint256 in range(1, nc, bound=MAX_CLASSES):
        t = 0
        key = max_value(uint256)
        for i: uint256 in x:
            p: uint256 = unsafe_add(unsafe_mul(i, nc), c)
            k: uint256 = unsafe_div(p, LANES)
            if k != key:
                key = k
                word = self._sums[k]
            t = unsafe_add(t, convert(convert(word << unsafe_sub(208, unsafe_mul(unsafe_sub(p, unsafe_mul(k, LANES)), LANE_BITS)), bytes32), int256) >> 208)
        d: int256 = self._distance(c, t, base)
        if d < best:
            best = d
            best_c = c
    return best_c


@internal
def _update(x: DynArray[uint256, MAX_TOKENS], label: uint256):
    """
    @dev V_label[i] += 1e9 for i in x, Q_label += sum(2e9 * V[i] + 1e18), n += 1.
    """
    params: uint256 = self._params
    nf: uint256 = params & MASK64
    nc: uint256 = params >> 64
    assert label < nc, "model: unknown class label"
    lo: uint256 = 0
    key: uint256 = max_value(uint256)
    word: uint256 = 0
    dq: int256 = 0
    for i: uint256 in x:
        if unsafe_sub(i, lo) >= unsafe_sub(nf, lo):
            assert i >= lo, "model: indices must be strictly increasing"
            raise "model: feature index out of range"
        lo = unsafe_add(i, 1)
        p: uint256 = unsafe_add(unsafe_mul(i, nc), label)
        k: uint256 = unsafe_div(p, LANES)
        if k != key:
            if key != max_value(uint256):
                self._sums[key] = word
            key = k
            word = self._sums[k]
        sh: uint256 = unsafe_mul(unsafe_sub(p, unsafe_mul(k, LANES)), LANE_BITS)
        v: int256 = convert(convert(word << unsafe_sub(208, sh), bytes32), int256) >> 208
        assert v <= SUM_MAX - SCALE, "model: centroid overflow"
        dq = unsafe_add(dq, unsafe_add(unsafe_mul(2 * SCALE, v), SCALE_SQ))
        word = (word & ~(LANE_MASK << sh)) | ((convert(convert(unsafe_add(v, SCALE), bytes32), uint256) & LANE_MASK) << sh)
    if key != max_value(uint256):
        self._sums[key] = word
    s: uint256 = self._stats[label]
    n: uint256 = (s & MASK64) + 1
    assert n < MASK64, "model: data count out of range"
    q: int256 = convert(s >> 64, int256) + dq
    assert q >= 0 and q < 2**192, "model: centroid overflow"
    self._stats[label] = n | (convert(q, uint256) << 64)
