"""Mirror of ``contracts/models/sparse_perceptron.vy``.

Binary perceptron over sparse binary inputs (sorted unique feature indices).
``score = intercept + sum(w[i] for i in x)`` (fixed point, SCALE = 1e9); class 1
iff ``score > 0``. On a mistake each present weight moves by ``+lr`` (label 1)
or ``-lr`` (label 0); the intercept is fixed. Weights are int48 (five per
storage word, word ``i // 5``, lane ``i % 5``); an update leaving
``[-2**47, 2**47 - 1]`` raises "model: weight overflow" like the contract.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ledgerlearn.errors import ValidationError
from ledgerlearn.models.base import ModelMirror, check_classes, check_sparse_input, word_load_calls
from ledgerlearn.models.fixedpoint import SCALE, from_fixed, pack_signed, to_fixed, unpack_signed

LANES = 5
LANE_BITS = 48
WEIGHT_MAX = 2**47 - 1
WEIGHT_MIN = -(2**47)
MAX_TOKENS = 512
MAX_FEATURES = 2**32
INT128_MIN, INT128_MAX = -(2**127), 2**127 - 1


def _check_weight(i: int, w: int) -> None:
    if not WEIGHT_MIN <= w <= WEIGHT_MAX:
        raise ValidationError(f"weights: weight {i} = {w / SCALE} is outside the int48 bound (+-{WEIGHT_MAX / SCALE:.3f})")


class SparsePerceptron(ModelMirror):
    """Sparse binary perceptron (2 classes)."""

    kind = "sparse_perceptron"
    model_type = "sparse perceptron"
    input_kind = "sparse"
    max_input = MAX_TOKENS

    def __init__(
        self,
        classes: Sequence[str] = ("0", "1"),
        num_features: int = MAX_FEATURES,
        weights: Mapping[int, int] | Sequence[int] | None = None,
        intercept: int = 0,
        learning_rate: int = SCALE,
    ):
        """All reals are fixed point (ints scaled by 1e9); ``weights`` maps index -> weight or is a dense list."""
        self.classes_ = check_classes(classes, exactly=2)
        if not 0 < int(num_features) <= MAX_FEATURES:
            raise ValidationError(f"num_features: must be in 1..2**32, got {num_features}")
        self.n_features_in_ = int(num_features)
        if not INT128_MIN <= int(intercept) <= INT128_MAX:
            raise ValidationError("intercept: out of the int128 range")
        if not 0 <= int(learning_rate) <= WEIGHT_MAX:
            raise ValidationError(f"learningRate: must be in 0..{WEIGHT_MAX / SCALE:.3f}")
        self.intercept_ = int(intercept)
        self.learning_rate_ = int(learning_rate)
        items = enumerate(weights) if isinstance(weights, (list, tuple)) else (weights or {}).items()
        self.weights_: dict[int, int] = {}
        for i, w in items:
            i, w = int(i), int(w)
            if not 0 <= i < self.n_features_in_:
                raise ValidationError(f"weights: feature index {i} is outside 0..{self.n_features_in_ - 1}")
            _check_weight(i, w)
            if w:
                self.weights_[i] = w

    # -- behaviour ------------------------------------------------------------
    def decision_function(self, x: Sequence[int]) -> int:
        """The fixed-point score ``intercept + sum(w[i])``."""
        xs = check_sparse_input(x, self.n_features_in_, MAX_TOKENS)
        return self.intercept_ + sum(self.weights_.get(i, 0) for i in xs)

    def predict(self, x: Sequence[int]) -> int:
        return 1 if self.decision_function(x) > 0 else 0

    def update(self, x: Sequence[int], label: int) -> None:
        label = self._check_label(label)
        score = self.decision_function(x)
        if (score > 0) == (label == 1):
            return
        delta = self.learning_rate_ if label == 1 else -self.learning_rate_
        new = {}
        for i in x:
            w = self.weights_.get(int(i), 0) + delta
            if not WEIGHT_MIN <= w <= WEIGHT_MAX:
                raise ValidationError("model: weight overflow")
            new[int(i)] = w
        for i, w in new.items():
            if w:
                self.weights_[i] = w
            else:
                self.weights_.pop(i, None)

    def fit(self, X: Iterable[Sequence[int]], y: Iterable[int], *, epochs: int = 1) -> "SparsePerceptron":
        """Train from zero weights (intercept kept) with ``epochs`` passes of the update rule."""
        X, y = list(X), [int(v) for v in y]
        self.weights_ = {}
        for _ in range(epochs):
            self.partial_fit(X, y)
        return self

    def weight(self, i: int) -> int:
        return self.weights_.get(int(i), 0)

    # -- contract I/O ---------------------------------------------------------
    def words(self) -> dict[int, int]:
        """Packed storage words by word index (non-zero words only)."""
        by_key: dict[int, list[int]] = {}
        for i, w in self.weights_.items():
            by_key.setdefault(i // LANES, [0] * LANES)[i % LANES] = w
        return {k: pack_signed(v, LANE_BITS, LANES)[0] for k, v in sorted(by_key.items()) if any(v)}

    def init_args(self) -> tuple:
        return (list(self.classes_), self.n_features_in_, self.intercept_, self.learning_rate_)

    def setup_calls(self) -> list[tuple[str, tuple]]:
        return word_load_calls(self.words(), "load_weights", "load_weights_at")

    @classmethod
    def from_contract(cls, contract: Any, *, keys: Iterable[int] | None = None) -> "SparsePerceptron":
        """Read back; ``keys`` (word indices) default to every word below ``num_features`` (at most 2**20 features)."""
        nf = contract.call("num_features")
        if keys is None:
            if nf > 2**20:
                raise ValidationError("keys: give the word indices to read for a model with more than 2**20 features")
            keys = range((nf + LANES - 1) // LANES)
        weights = {}
        for k in keys:
            for j, w in enumerate(unpack_signed(contract.call("weights_word", int(k)), LANE_BITS, LANES)):
                if w:
                    weights[int(k) * LANES + j] = w
        return cls(
            classes=[contract.call("class_name", i) for i in range(2)],
            num_features=nf,
            weights=weights,
            intercept=contract.call("intercept"),
            learning_rate=contract.call("learning_rate"),
        )

    # -- files ----------------------------------------------------------------
    def to_dict(self) -> dict:
        dense_n = self.n_features_in_ if self.n_features_in_ < MAX_FEATURES else 0
        d: dict = {
            "type": self.model_type,
            "classifications": list(self.classes_),
            "weights": [from_fixed(self.weights_.get(i, 0)) for i in range(dense_n)],
            "intercept": from_fixed(self.intercept_),
            "learningRate": from_fixed(self.learning_rate_),
        }
        if not dense_n:
            d["sparseWeights"] = {str(i): from_fixed(w) for i, w in sorted(self.weights_.items())}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SparsePerceptron":
        from ledgerlearn.models.files import _classes, _real, _real_list, _get

        weights = _real_list(d, "weights", default=[])
        sparse = _get(d, "sparseWeights", default=None)
        w: dict[int, int] = {i: v for i, v in enumerate(weights) if v}
        if sparse is not None:
            if not isinstance(sparse, dict):
                raise ValidationError("sparseWeights: must be an object {index: weight}")
            for k, v in sparse.items():
                try:
                    idx = int(k)
                except (TypeError, ValueError):
                    raise ValidationError(f"sparseWeights: key {k!r} is not an integer index") from None
                if not 0 <= idx < MAX_FEATURES:
                    raise ValidationError(f"sparseWeights: index {idx} is outside 0..2**32-1")
                w[idx] = to_fixed(v, f"sparseWeights.{k}")
        nf = MAX_FEATURES if sparse is not None or not weights else len(weights)
        for i, v in w.items():
            _check_weight(i, v)
        return cls(
            classes=_classes(d, exactly=2),
            num_features=nf,
            weights={i: v for i, v in w.items() if v},
            intercept=_real(d, "intercept", aliases=("bias",), default=0.0),
            learning_rate=_real(d, "learningRate", default=1.0),
        )

    def _state(self) -> tuple:
        return (self.classes_, self.n_features_in_, self.intercept_, self.learning_rate_, sorted(self.weights_.items()))

