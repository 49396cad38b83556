# pragma version ~=0.4.3
"""
@title Stub sparse perceptron (tests only)
@notice A throwaway model with the model-module API of the interface document:
        `_predict`, `_update`, `_num_classes`, `_init`, `uses: setup`. Four
        int64 weights per storage slot. Used by the incentive and entry tests so
        that they do not depend on a particular real model.
"""

import setup

uses: setup

MAX_TOKENS: constant(uint256) = 128
MAX_CLASSES: constant(uint256) = 8
MAX_WEIGHTS_PER_CALL: constant(uint256) = 256

_words: HashMap[uint256, uint256]
intercept: public(int256)
learning_rate: public(int256)
_classes: DynArray[String[64], MAX_CLASSES]


@internal
def _init(classes: DynArray[String[64], MAX_CLASSES], intercept: int256, learning_rate: int256):
    assert len(classes) == 2, "model: a perceptron has 2 classes"
    self._classes = classes
    self.intercept = intercept
    self.learning_rate = learning_rate


@external
def load_weights(start: uint256, weights: DynArray[int256, MAX_WEIGHTS_PER_CALL]):
    """
    @notice Set weights start .. start+len-1 (setup phase only).
    """
    setup._check_setup()
    i: uint256 = start
    for w: int256 in weights:
        self._set_weight(i, w)
        i += 1


@external
@view
def class_name(i: uint256) -> String[64]:
    return self._classes[i]


@internal
@view
def _weight(i: uint256) -> int256:
    v: uint256 = (self._words[i >> 2] >> ((i & 3) << 6)) & 2**64 - 1
    if v >= 2**63:
        return convert(v, int256) - 2**64
    return convert(v, int256)


@internal
def _set_weight(i: uint256, w: int256):
    assert w >= convert(min_value(int64), int256) and w <= convert(max_value(int64), int256), "model: weight out of range"
    s: uint256 = (i & 3) << 6
    word: uint256 = self._words[i >> 2]
    word = (word & ~((2**64 - 1) << s)) | ((convert(convert(w, bytes32), uint256) & (2**64 - 1)) << s)
    self._words[i >> 2] = word


@internal
@view
def _score(x: DynArray[uint256, MAX_TOKENS]) -> int256:
    total: int256 = self.intercept
    prev: uint256 = 0
    first: bool = True
    for i: uint256 in x:
        assert first or i > prev, "model: indices must be strictly increasing"
        assert i < 2**32, "model: feature index out of range"
        first = False
        prev = i
        total += self._weight(i)
    return total


@internal
@view
def _predict(x: DynArray[uint256, MAX_TOKENS]) -> uint256:
    if self._score(x) > 0:
        return 1
    return 0


@internal
def _update(x: DynArray[uint256, MAX_TOKENS], label: uint256):
    assert label < 2, "model: label out of range"
    p: uint256 = self._predict(x)
    if p == label:
        return
    lr: int256 = self.learning_rate
    if label == 0:
        lr = -lr
    for i: uint256 in x:
        self._set_weight(i, self._weight(i) + lr)


@internal
@view
def _num_classes() -> uint256:
    return 2
