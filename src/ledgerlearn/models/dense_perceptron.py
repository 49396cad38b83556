"""Mirror of ``contracts/models/dense_perceptron.vy``.

Binary perceptron over dense fixed-point inputs of L2 norm 1 (see
:func:`ledgerlearn.models.base.normalize`). ``score = intercept * 1e9 +
sum(w[i] * x[i])`` (exact, 1e18 scale), class 1 iff ``score > 0``. On a
mistake ``w[i] += tdiv(lr * x[i], 1e9)`` (label 1) or ``-=`` (label 0), with
truncation toward zero as the EVM's signed division. Weights are int48, five
per storage word.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ledgerlearn.errors import ValidationError
from ledgerlearn.models.base import ModelMirror, check_classes, check_dense_input
from ledgerlearn.models.fixedpoint import SCALE, chunks, from_fixed, pack_signed, tdiv, unpack_signed

LANES = 5
LANE_BITS = 48
WEIGHT_MAX = 2**47 - 1
WEIGHT_MIN = -(2**47)
MAX_DIM = 784
WORDS = 157
INT128_MIN, INT128_MAX = -(2**127), 2**127 - 1


class DensePerceptron(ModelMirror):
    """Dense binary perceptron (2 classes)."""

    kind = "dense_perceptron"
    model_type = "dense perceptron"
    input_kind = "dense"
    max_input = MAX_DIM

    def __init__(
        self,
        classes: Sequence[str] = ("0", "1"),
        weights: Sequence[int] = (),
        intercept: int = 0,
        learning_rate: int = SCALE,
        feature_indices: Sequence[int] | None = None,
        num_features: int | None = None,
    ):
        """Fixed-point ``weights`` (their length is the dimension unless ``num_features`` is given)."""
        self.classes_ = check_classes(classes, exactly=2)
        w = [int(v) for v in weights]
        nf = len(w) if num_features is None else int(num_features)
        if not 0 < nf <= MAX_DIM:
            raise ValidationError(f"weights: the dimension must be in 1..{MAX_DIM}, got {nf}")
        if len(w) < nf:
            w += [0] * (nf - len(w))
        if len(w) != nf:
            raise ValidationError(f"weights: {len(w)} weights for {nf} features")
        for i, v in enumerate(w):
            if not WEIGHT_MIN <= v <= WEIGHT_MAX:
                raise ValidationError(f"weights: weight {i} = {v / SCALE} is outside the int48 bound (+-{WEIGHT_MAX / SCALE:.3f})")
        if not INT128_MIN <= int(intercept) <= INT128_MAX:
            raise ValidationError("intercept: out of the int128 range")
        if not 0 <= int(learning_rate) <= WEIGHT_MAX:
            raise ValidationError(f"learningRate: must be in 0..{WEIGHT_MAX / SCALE:.3f}")
        self.n_features_in_ = nf
        self.coef_ = w
        self.intercept_ = int(intercept)
        self.learning_rate_ = int(learning_rate)
        self.feature_indices_ = None if feature_indices is None else [int(i) for i in feature_indices]
        if self.feature_indices_ is not None and len(self.feature_indices_) != nf:
            raise ValidationError(f"featureIndices: {len(self.feature_indices_)} indices for {nf} weights")

    # -- behaviour ------------------------------------------------------------
    def decision_function(self, x: Sequence[int]) -> int:
        """``intercept * 1e9 + sum(w[i] * x[i])`` (1e18 scale)."""
        xs = check_dense_input(x, self.n_features_in_)
        return self.intercept_ * SCALE + sum(w * v for w, v in zip(self.coef_, xs))

    def predict(self, x: Sequence[int]) -> int:
        return 1 if self.decision_function(x) > 0 else 0

    def update(self, x: Sequence[int], label: int) -> None:
        label = self._check_label(label)
        score = self.decision_function(x)
        if (score > 0) == (label == 1):
            return
        lr = self.learning_rate_ if label == 1 else -self.learning_rate_
        new = [w + tdiv(lr * int(v), SCALE) for w, v in zip(self.coef_, x)]
        if any(not WEIGHT_MIN <= w <= WEIGHT_MAX for w in new):
            raise ValidationError("model: weight overflow")
        self.coef_ = new

    def fit(self, X: Iterable[Sequence[int]], y: Iterable[int], *, epochs: int = 1) -> "DensePerceptron":
        """Train from zero weights (intercept kept) with ``epochs`` passes of the update rule."""
        X, y = list(X), [int(v) for v in y]
        self.coef_ = [0] * self.n_features_in_
        for _ in range(epochs):
            self.partial_fit(X, y)
        return self

    def select(self, vec: Sequence[float]) -> list[float]:
        """Apply ``featureIndices`` (when set) to an encoder's output."""
        if self.feature_indices_ is None:
            return list(vec)
        return [vec[i] for i in self.feature_indices_]

    # -- contract I/O ---------------------------------------------------------
    def words(self) -> list[int]:
        return pack_signed(self.coef_, LANE_BITS, LANES)

    def init_args(self) -> tuple:
        return (list(self.classes_), self.n_features_in_, self.intercept_, self.learning_rate_)

    def setup_calls(self) -> list[tuple[str, tuple]]:
        words = self.words()
        # skip trailing all-zero words (storage is zero already)
        while words and words[-1] == 0:
            words.pop()
        return [("load_weights", (start, list(part))) for start, part in chunks(words, WORDS)]

    @classmethod
    def from_contract(cls, contract: Any, *, feature_indices: Sequence[int] | None = None) -> "DensePerceptron":
        nf = contract.call("num_features")
        w: list[int] = []
        for k in range((nf + LANES - 1) // LANES):
            w += unpack_signed(contract.call("weights_word", k), LANE_BITS, LANES)
        return cls(
            classes=[contract.call("class_name", i) for i in range(2)],
            weights=w[:nf],
            intercept=contract.call("intercept"),
            learning_rate=contract.call("learning_rate"),
            feature_indices=feature_indices,
        )

    # -- files ----------------------------------------------------------------
    def to_dict(self) -> dict:
        d: dict = {
            "type": self.model_type,
            "classifications": list(self.classes_),
            "weights": [from_fixed(w) for w in self.coef_],
            "intercept": from_fixed(self.intercept_),
            "learningRate": from_fixed(self.learning_rate_),
        }
        if self.feature_indices_ is not None:
            d["featureIndices"] = list(self.feature_indices_)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DensePerceptron":
        from ledgerlearn.models.files import _classes, _get, _int, _real, _real_list

        weights = _real_list(d, "weights")
        fi = _get(d, "featureIndices", default=None)
        if fi is not None:
            if not isinstance(fi, list):
                raise ValidationError("featureIndices: must be a list of integers")
            fi = [_int(v, f"featureIndices[{i}]") for i, v in enumerate(fi)]
            if len(fi) != len(weights):
                raise ValidationError(f"featureIndices: {len(fi)} indices for {len(weights)} weights")
        if not weights:
            raise ValidationError("weights: a dense perceptron needs at least one weight")
        if len(weights) > MAX_DIM:
            raise ValidationError(f"weights: at most {MAX_DIM} weights, got {len(weights)}")
        for i, v in enumerate(weights):
            if not WEIGHT_MIN <= v <= WEIGHT_MAX:
                raise ValidationError(f"weights: weight {i} = {v / SCALE} is outside the int48 bound")
        return cls(
            classes=_classes(d, exactly=2),
            weights=weights,
            intercept=_real(d, "intercept", aliases=("bias",), default=0.0),
            learning_rate=_real(d, "learningRate", default=1.0),
            feature_indices=fi,
        )

    def _state(self) -> tuple:
        return (self.classes_, self.n_features_in_, self.intercept_, self.learning_rate_, self.coef_)
