# pragma version ~=0.4.3
"""
@title Dense perceptron
@notice Binary perceptron over dense fixed-point inputs of L2 norm 1.
        Prediction: class 1 iff intercept + sum(w[i] * x[i]) > 0, computed
        exactly as intercept * 1e9 + sum(w[i] * x[i]) in the 1e18 scale.
        Mistake-driven update: w[i] += trunc(lr * x[i] / 1e9) for label 1,
        w[i] -= trunc(lr * x[i] / 1e9) for label 0 (trunc: toward zero, the
        EVM's signed division); the intercept does not change.
@dev    Input checks, in this order (each a clear revert):
          len(x) == num_features                  "model: wrong input dimension"
          every |x[i]| < 2**62 (x[i] in [-2**62, 2**62))
                                                  "model: input value out of range"
          |sum(x[i]**2) - 1e18| <= 1e11 (relative tolerance 1e-7)
                                                  "model: input norm is not 1"
        Storage:
          _params: intercept int128 (bits 0..127) | learning rate (128..191)
                   | num_features (192..255)
          _weights[k]: five int48 lanes (two's complement), lane j at bits
                   48j = weight of feature 5k + j.
        Weights are bounded to [-2**47, 2**47 - 1] ("model: weight overflow").
"""

import setup

uses: setup

MAX_DIM: constant(uint256) = 784
MAX_CLASS_NAME: constant(uint256) = 64
# accepted length of the class list (a perceptron needs exactly 2; more reverts clearly)
MAX_CLASSES: constant(uint256) = 8
LANES: constant(uint256) = 5
LANE_BITS: constant(uint256) = 48
WORDS: constant(uint256) = 157
LANE_MASK: constant(uint256) = 2**48 - 1
MASK64: constant(uint256) = 2**64 - 1
MASK128: constant(uint256) = 2**128 - 1
WEIGHT_MAX: constant(int256) = 2**47 - 1
WEIGHT_MIN: constant(int256) = -(2**47)
SCALE: constant(int256) = 10**9
NORM_LO: constant(int256) = 10**18 - 10**11
NORM_HI: constant(int256) = 10**18 + 10**11
GUARD_OFFSET: constant(uint256) = 2**62
GUARD_LIMIT: constant(uint256) = 2**63

_params: uint256
_weights: uint256[WORDS]
_class_names: HashMap[uint256, String[MAX_CLASS_NAME]]


@internal
def _init(classes: DynArray[String[MAX_CLASS_NAME], MAX_CLASSES], num_features: uint256, intercept: int256, learning_rate: int256):
    """
    @dev Class names (exactly 2), dimension (1 .. 784), intercept (int128)
         and learning rate (0 .. 2**47 - 1), fixed point.
    """
    assert len(classes) == 2, "model: a perceptron has 2 classes"
    assert num_features > 0 and num_features <= MAX_DIM, "model: bad feature count"
    assert intercept >= convert(min_value(int128), int256) and intercept <= convert(max_value(int128), int256), "model: intercept out of range"
    assert learning_rate >= 0 and learning_rate <= WEIGHT_MAX, "model: learning rate out of range"
    self._class_names[0] = classes[0]
    self._class_names[1] = classes[1]
    self._params = (convert(convert(intercept, bytes32), uint256) & MASK128) | (convert(learning_rate, uint256) << 128) | (num_features << 192)


@external
def load_weights(start: uint256, words: DynArray[uint256, WORDS]):
    """
    @notice Store packed weight words start .. start + len(words) - 1 (setup phase).
    @dev    Word k holds the int48 weights of features 5k .. 5k+4.
    """
    setup._check_setup()
    assert start + len(words) <= WORDS, "model: weight words out of range"
    k: uint256 = start
    for w: uint256 in words:
        assert w < 2**240, "model: bad weight word"
        self._weights[k] = w
        k += 1


@external
@view
def weights_word(key: uint256) -> uint256:
    """
    @notice Packed weight word `key` (features 5 * key .. 5 * key + 4).
    """
    return self._weights[key]


@external
@view
def intercept() -> int256:
    """
    @notice The intercept, fixed point (1e9).
    """
    return convert(convert(self._params << 128, bytes32), int256) >> 128


@external
@view
def learning_rate() -> int256:
    """
    @notice The learning rate, fixed point (1e9).
    """
    return convert((self._params >> 128) & MASK64, int256)


@external
@view
def num_features() -> uint256:
    """
    @notice Input dimension.
    """
    return self._params >> 192


@internal
@view
def _num_features() -> uint256:
    return self._params >> 192


@internal
@view
def _num_classes() -> uint256:
    return 2


@internal
@view
def _class_name(i: uint256) -> String[MAX_CLASS_NAME]:
    assert i < 2, "model: class index out of range"
    return self._class_names[i]


@internal
@view
def _predict(x: DynArray[int256, MAX_DIM]) -> uint256:
    """
    @dev Validates x (dimension, range, norm); class 1 iff
         intercept * 1e9 + sum(w[i] * x[i]) > 0. Five inputs per storage
         word, unrolled (lane j: shift left 208 - 48j, arithmetic shift right
         208). (The scoring code is repeated in `_update` rather than shared:
         passing x to another internal function would copy it into another
         memory frame.)
    """
    params: uint256 = self._params
    nf: uint256 = params >> 192
    assert len(x) == nf, "model: wrong input dimension"
    acc: int256 = unsafe_mul(convert(convert(params << 128, bytes32), int256) >> 128, SCALE)
    sq: int256 = 0
    guard: uint256 = 0
    i: uint256 = 0
    for k: uint256 in range(nf // LANES, bound=WORDS):
        w: int256 = convert(convert(self._weights[k], bytes32), int256)
        x0: int256 = x[i]
        x1: int256 = x[unsafe_add(i, 1)]
        x2: int256 = x[unsafe_add(i, 2)]
        x3: int256 = x[unsafe_add(i, 3)]
        x4: int256 = x[unsafe_add(i, 4)]
        guard = guard | unsafe_add(convert(convert(x0, bytes32), uint256), GUARD_OFFSET) | unsafe_add(convert(convert(x1, bytes32), uint256), GUARD_OFFSET) | unsafe_add(convert(convert(x2, bytes32), uint256), GUARD_OFFSET) | unsafe_add(convert(convert(x3, bytes32), uint256), GUARD_OFFSET) | unsafe_add(convert(convert(x4, bytes32), uint256), GUARD_OFFSET)
        sq = unsafe_add(sq, unsafe_add(unsafe_add(unsafe_add(unsafe_add(unsafe_mul(x0, x0), unsafe_mul(x1, x1)), unsafe_mul(x2, x2)), unsafe_mul(x3, x3)), unsafe_mul(x4, x4)))
        acc = unsafe_add(acc, unsafe_add(unsafe_add(unsafe_add(unsafe_add(unsafe_mul((w << 208) >> 208, x0), unsafe_mul((w << 160) >> 208, x1)), unsafe_mul((w << 112) >> 208, x2)), unsafe_mul((w << 64) >> 208, x3)), unsafe_mul((w << 16) >> 208, x4)))
        i = unsafe_add(i, LANES)
    if i < nf:
        w: int256 = convert(convert(self._weights[nf // LANES], bytes32), int256)
        for j: uint256 in range(unsafe_sub(nf, i), bound=LANES):
            xi: int256 = x[unsafe_add(i, j)]
            guard = guard | unsafe_add(convert(convert(xi, bytes32), uint256), GUARD_OFFSET)
            sq = unsafe_add(sq, unsafe_mul(xi, xi))
            acc = unsafe_add(acc, unsafe_mul((w << unsafe_sub(208, unsafe_mul(j, LANE_BITS))) >> 208, xi))
    assert guard < GUARD_LIMIT, "model: input value out of range"
    assert sq >= NORM_LO and sq <= NORM_HI, "model: input norm is not 1"
    if acc > 0:
        return 1
    return 0


@internal
def _update(x: DynArray[int256, MAX_DIM], label: uint256):
    """
    @dev Predicts as `_predict` (same checks); on a mistake
         w[i] += trunc(lr * x[i] / 1e9) (label 1) or -= (label 0).
         Reverts with "model: weight overflow" if a weight would leave int48.
    """
    assert label < 2, "model: unknown class label"
    params: uint256 = self._params
    nf: uint256 = params >> 192
    assert len(x) == nf, "model: wrong input dimension"
    acc: int256 = unsafe_mul(convert(convert(params << 128, bytes32), int256) >> 128, SCALE)
    sq: int256 = 0
    guard: uint256 = 0
    i: uint256 = 0
    for k: uint256 in range(nf // LANES, bound=WORDS):
        w: int256 = convert(convert(self._weights[k], bytes32), int256)
        x0: int256 = x[i]
        x1: int256 = x[unsafe_add(i, 1)]
        x2: int256 = x[unsafe_add(i, 2)]
        x3: int256 = x[unsafe_add(i, 3)]
        x4: int256 = x[unsafe_add(i, 4)]
        guard = guard | unsafe_add(convert(convert(x0, bytes32), uint256), GUARD_OFFSET) | unsafe_add(convert(convert(x1, bytes32), uint256), GUARD_OFFSET) | unsafe_add(convert(convert(x2, bytes32), uint256), GUARD_OFFSET) | unsafe_add(convert(convert(x3, bytes32), uint256), GUARD_OFFSET) | unsafe_add(convert(convert(x4, bytes32), uint256), GUARD_OFFSET)
        sq = unsafe_add(sq, unsafe_add(unsafe_add(unsafe_add(unsafe_add(unsafe_mul(x0, x0), unsafe_mul(x1, x1)), unsafe_mul(x2, x2)), unsafe_mul(x3, x3)), unsafe_mul(x4, x4)))
        acc = unsafe_add(acc, unsafe_add(unsafe_add(unsafe_add(unsafe_add(unsafe_mul((w << 208) >> 208, x0), unsafe_mul((w << 160) >> 208, x1)), unsafe_mul((w << 112) >> 208, x2)), unsafe_mul((w << 64) >> 208, x3)), unsafe_mul((w << 16) >> 208, x4)))
        i = unsafe_add(i, LANES)
    if i < nf:
        w: int256 = convert(convert(self._weights[nf // LANES], bytes32), int256)
        for j: uint256 in range(unsafe_sub(nf, i), bound=LANES):
            xi: int256 = x[unsafe_add(i, j)]
            guard = guard | unsafe_add(convert(convert(xi, bytes32), uint256), GUARD_OFFSET)
            sq = unsafe_add(sq, unsafe_mul(xi, xi))
            acc = unsafe_add(acc, unsafe_mul((w << unsafe_sub(208, unsafe_mul(j, LANE_BITS))) >> 208, xi))
    assert guard < GUARD_LIMIT, "model: input value out of range"
    assert sq >= NORM_LO and sq <= NORM_HI, "model: input norm is not 1"
    if (acc > 0) == (label == 1):
        return
    lr: int256 = convert((params >> 128) & MASK64, int256)
    if label == 0:
        lr = -lr
    # |lr * x| < 2**47 * 2**62: no overflow; unsafe_div is SDIV (truncates toward zero).
    # A new weight v is in range iff v + 2**47 (as an unsigned word) < 2**48:
    # OR-ing those of a word's five weights checks them all at once.
    i = 0
    for k: uint256 in range(nf // LANES, bound=WORDS):
        w: int256 = convert(convert(self._weights[k], bytes32), int256)
        v0: int256 = unsafe_add((w << 208) >> 208, unsafe_div(unsafe_mul(lr, x[i]), SCALE))
        v1: int256 = unsafe_add((w << 160) >> 208, unsafe_div(unsafe_mul(lr, x[unsafe_add(i, 1)]), SCALE))
        v2: int256 = unsafe_add((w << 112) >> 208, unsafe_div(unsafe_mul(lr, x[unsafe_add(i, 2)]), SCALE))
        v3: int256 = unsafe_add((w << 64) >> 208, unsafe_div(unsafe_mul(lr, x[unsafe_add(i, 3)]), SCALE))
        v4: int256 = unsafe_add((w << 16) >> 208, unsafe_div(unsafe_mul(lr, x[unsafe_add(i, 4)]), SCALE))
        assert (unsafe_add(v0, 2**47) | unsafe_add(v1, 2**47) | unsafe_add(v2, 2**47) | unsafe_add(v3, 2**47) | unsafe_add(v4, 2**47)) >> 48 == 0, "model: weight overflow"
        self._weights[k] = (convert(convert(v0, bytes32), uint256) & LANE_MASK) | ((convert(convert(v1, bytes32), uint256) & LANE_MASK) << 48) | ((convert(convert(v2, bytes32), uint256) & LANE_MASK) << 96) | ((convert(convert(v3, bytes32), uint256) & LANE_MASK) << 144) | ((convert(convert(v4, bytes32), uint256) & LANE_MASK) << 192)
        i = unsafe_add(i, LANES)
    if i < nf:
        k: uint256 = nf // LANES
        word: uint256 = self._weights[k]
        for j: uint256 in range(unsafe_sub(nf, i), bound=LANES):
            sh: uint256 = unsafe_mul(j, LANE_BITS)
            v: int256 = unsafe_add(convert(convert(word << unsafe_sub(208, sh), bytes32), int256) >> 208, unsafe_div(unsafe_mul(lr, x[unsafe_add(i, j)]), SCALE))
            assert unsafe_add(v, 2**47) >> 48 == 0, "model: weight overflow"
            word = (word & ~(LANE_MASK << sh)) | ((convert(convert(v, bytes32), uint256) & LANE_MASK) << sh)
        self._weights[k] = word
