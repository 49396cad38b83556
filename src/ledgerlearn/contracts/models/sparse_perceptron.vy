# pragma version ~=0.4.3
"""
@title Sparse perceptron
@notice Binary perceptron over sparse binary inputs: the input is the sorted
        list of present feature indices (value 1). score = intercept +
        sum(w[i] for i in x); class 1 iff score > 0. Mistake-driven update:
        when the prediction differs from the label, every present weight moves
        by the learning rate (+lr for label 1, -lr for label 0). The intercept
        does not change.
@dev    Fixed point, SCALE = 1e9. Storage:
          _params: intercept int128 (two's complement, bits 0..127)
                   | learning rate (bits 128..191) | num_features (bits 192..255)
          _weights[i // 5]: five int48 lanes, lane j (bits 48j..48j+47) holds
                   the weight of feature 5 * (i // 5) + j, two's complement,
                   so an unset word reads as five zero weights.
        Weights are bounded to [-2**47, 2**47 - 1] (about +-140,737.49 in real
        units); an update that would leave the bound reverts with
        "model: weight overflow". Indices must be < num_features (<= 2**32).
"""

import setup

uses: setup

MAX_TOKENS: constant(uint256) = 512
MAX_WORDS_PER_CALL: constant(uint256) = 512
MAX_CLASS_NAME: constant(uint256) = 64
# accepted length of the class list (a perceptron needs exactly 2; more reverts clearly)
MAX_CLASSES: constant(uint256) = 8
MAX_FEATURES: constant(uint256) = 2**32
MASK64: constant(uint256) = 2**64 - 1
MASK128: constant(uint256) = 2**128 - 1
LANES: constant(uint256) = 5
LANE_BITS: constant(uint256) = 48
LANE_MASK: constant(uint256) = 2**48 - 1
WEIGHT_MAX: constant(int256) = 2**47 - 1
WEIGHT_MIN: constant(int256) = -(2**47)

_params: uint256
_weights: HashMap[uint256, uint256]
_class_names: HashMap[uint256, String[MAX_CLASS_NAME]]


@internal
def _init(classes: DynArray[String[MAX_CLASS_NAME], MAX_CLASSES], num_features: uint256, intercept: int256, learning_rate: int256):
    """
    @dev Set the class names (exactly 2), the feature count (indices must be
         below it, at most 2**32), the intercept (fits int128) and the learning
         rate (0 <= lr <= 2**47 - 1), all fixed point.
    """
    assert len(classes) == 2, "model: a perceptron has 2 classes"
    assert num_features > 0 and num_features <= MAX_FEATURES, "model: bad feature count"
    assert intercept >= convert(min_value(int128), int256) and intercept <= convert(max_value(int128), int256), "model: intercept out of range"
    assert learning_rate >= 0 and learning_rate <= WEIGHT_MAX, "model: learning rate out of range"
    self._class_names[0] = classes[0]
    self._class_names[1] = classes[1]
    self._params = (convert(convert(intercept, bytes32), uint256) & MASK128) | (convert(learning_rate, uint256) << 128) | (num_features << 192)


@external
def load_weights(start: uint256, words: DynArray[uint256, MAX_WORDS_PER_CALL]):
    """
    @notice Store packed weight words start .. start + len(words) - 1 (setup phase).
    @dev    Word k holds the int48 weights of features 5k .. 5k+4 (see the
            module notes); ledgerlearn.models.sparse_perceptron packs them.
    @param start Index of the first word (feature index // 5).
    @param words Packed words.
    """
    setup._check_setup()
    k: uint256 = start
    for w: uint256 in words:
        assert w < 2**240, "model: bad weight word"
        self._weights[k] = w
        k += 1


@external
def load_weights_at(keys: DynArray[uint256, MAX_WORDS_PER_CALL], words: DynArray[uint256, MAX_WORDS_PER_CALL]):
    """
    @notice Store packed weight words at arbitrary word indices (setup phase).
    @param keys Word indices (feature index // 5).
    @param words Packed words, one per key.
    """
    setup._check_setup()
    assert len(keys) == len(words), "model: keys and words differ in length"
    i: uint256 = 0
    for k: uint256 in keys:
        w: uint256 = words[i]
        assert w < 2**240, "model: bad weight word"
        self._weights[k] = w
        i += 1


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
    @notice Number of features: input indices must be below it.
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
def _predict(x: DynArray[uint256, MAX_TOKENS]) -> uint256:
    """
    @dev Class 1 iff intercept + sum(w[i] for i in x) > 0. Validates x
         (strictly increasing, below num_features); reads each storage word
         once (consecutive indices of one word share the read).
    """
    params: uint256 = self._params
    n: uint256 = params >> 192
    acc: int256 = convert(convert(params << 128, bytes32), int256) >> 128
    lo: uint256 = 0
    key: uint256 = max_value(uint256)
    word: uint256 = 0
    for i: uint256 in x:
        if unsafe_sub(i, lo) >= unsafe_sub(n, lo):
            # one comparison on the hot path (lo <= i < n); sort out the reason here
            assert i >= lo, "model: indices must be strictly increasing"
            raise "model: feature index out of range"
        lo = unsafe_add(i, 1)
        k: uint256 = unsafe_div(i, LANES)
        if k != key:
            key = k
            word = self._weights[k]
        # lane to the top 48 bits, then arithmetic shift right: the sign-extended weight
        acc = unsafe_add(acc, convert(convert(word << unsafe_sub(208, unsafe_mul(unsafe_sub(i, unsafe_mul(k, LANES)), LANE_BITS)), bytes32), int256) >> 208)
    if acc > 0:
        return 1
    return 0


@internal
def _update(x: DynArray[uint256, MAX_TOKENS], label: uint256):
    """
    @dev Predicts as `_predict` (same validation); on a mistake,
         w[i] += lr (label 1) or w[i] -= lr (label 0) for every i in x.
         Reverts with "model: weight overflow" if a weight would leave
         [-2**47, 2**47 - 1]. (The scoring loop is repeated here rather than
         shared: passing x to another internal function would copy it into a
         second memory frame.)
    """
    assert label < 2, "model: unknown class label"
    params: uint256 = self._params
    n: uint256 = params >> 192
    acc: int256 = convert(convert(params << 128, bytes32), int256) >> 128
    lo: uint256 = 0
    key: uint256 = max_value(uint256)
    word: uint256 = 0
    for i: uint256 in x:
        if unsafe_sub(i, lo) >= unsafe_sub(n, lo):
            # one comparison on the hot path (lo <= i < n); sort out the reason here
            assert i >= lo, "model: indices must be strictly increasing"
            raise "model: feature index out of range"
        lo = unsafe_add(i, 1)
        k: uint256 = unsafe_div(i, LANES)
        if k != key:
            key = k
            word = self._weights[k]
        acc = unsafe_add(acc, convert(convert(word << unsafe_sub(208, unsafe_mul(unsafe_sub(i, unsafe_mul(k, LANES)), LANE_BITS)), bytes32), int256) >> 208)
    if (acc > 0) == (label == 1):
        return
    lr: int256 = convert((params >> 128) & MASK64, int256)
    if label == 0:
        lr = -lr
    key = max_value(uint256)
    for i: uint256 in x:
        k: uint256 = unsafe_div(i, LANES)
        if k != key:
            if key != max_value(uint256):
                self._weights[key] = word
            key = k
            word = self._weights[k]
        sh: uint256 = unsafe_mul(unsafe_sub(i, unsafe_mul(k, LANES)), LANE_BITS)
        w: int256 = unsafe_add(convert(convert(word << unsafe_sub(208, sh), bytes32), int256) >> 208, lr)
        assert w <= WEIGHT_MAX and w >= WEIGHT_MIN, "model: weight overflow"
        word = (word & ~(LANE_MASK << sh)) | ((convert(convert(w, bytes32), uint256) & LANE_MASK) << sh)
    if key != max_value(uint256):
        self._weights[key] = word
