"""Common base of the model mirrors.

A mirror is a scikit-learn style estimator that reproduces its contract module
bit for bit: same integer arithmetic (fixed point, SCALE = 1e9), same rounding,
same validation (a malformed input raises :class:`~ledgerlearn.errors.ValidationError`
carrying the contract's revert reason). Learned attributes end with ``_``.

    m = SparsePerceptron.from_file("model.json")   # or .fit(X, y)
    m.predict([1, 2, 3])                          # one sample -> class index
    m.update([1, 2, 3], 1)                        # the contract's update rule
    m.init_args(); m.setup_calls()                # load it into a contract
    SparsePerceptron.from_contract(contract)      # and read it back
"""

from __future__ import annotations

import abc
import copy
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import numpy as np

from ledgerlearn.errors import ValidationError
from ledgerlearn.models.fixedpoint import SCALE, chunks

#: Relative tolerance of the L2 norm check of dense inputs (on the squared norm).
NORM_TOLERANCE = SCALE * SCALE // 10**7
MAX_CLASS_NAME = 64
#: packed words per loader transaction (about 22,600 gas each when fresh: ~9M gas)
WORDS_PER_CALL = 400


class ModelMirror(abc.ABC):
    """A classifier hosted in a contract, mirrored off chain."""

    #: contract module name (``contracts/models/<kind>.vy``)
    kind: ClassVar[str]
    #: the spec's model type name (``model_type()`` of the entry contract)
    model_type: ClassVar[str]
    #: "sparse" (sorted unique indices), "tokens" (indices, repeats count), "dense"
    input_kind: ClassVar[str]
    #: largest input length the contract accepts
    max_input: ClassVar[int]

    classes_: list[str]
    n_features_in_: int

    # -- the contract's behaviour -------------------------------------------
    @abc.abstractmethod
    def predict(self, x: Sequence[int]) -> int:
        """Class index the contract's ``predict(x)`` returns (ValidationError if malformed)."""

    @abc.abstractmethod
    def update(self, x: Sequence[int], label: int) -> None:
        """Apply the contract's update rule for one sample (ValidationError if malformed)."""

    @property
    def num_classes(self) -> int:
        return len(self.classes_)

    def class_name(self, i: int) -> str:
        if not 0 <= i < self.num_classes:
            raise ValidationError("model: class index out of range")
        return self.classes_[i]

    def _check_label(self, label: int) -> int:
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= int(label) < self.num_classes:
            raise ValidationError("model: unknown class label")
        return int(label)

    # -- scikit-learn conveniences ------------------------------------------
    def partial_fit(self, X: Iterable[Sequence[int]], y: Iterable[int]) -> "ModelMirror":
        """``update`` for each sample in order."""
        for x, label in zip(X, y, strict=True):
            self.update(x, int(label))
        return self

    def predict_many(self, X: Iterable[Sequence[int]]) -> np.ndarray:
        return np.array([self.predict(x) for x in X], dtype=np.int64)

    def score(self, X: Iterable[Sequence[int]], y: Iterable[int]) -> float:
        """Accuracy on (X, y)."""
        y = np.asarray(list(y))
        if len(y) == 0:
            return 0.0
        return float(np.mean(self.predict_many(X) == y))

    def copy(self) -> "ModelMirror":
        return copy.deepcopy(self)

    # -- loading into / reading from a contract -----------------------------
    @abc.abstractmethod
    def init_args(self) -> tuple:
        """Arguments of the module's ``_init`` (the entry contract's model arguments), in order."""

    @abc.abstractmethod
    def setup_calls(self) -> list[tuple[str, tuple]]:
        """``(function_name, args)`` to send during the setup phase, each well under 30M gas."""

    @classmethod
    @abc.abstractmethod
    def from_contract(cls, contract: Any, **kwargs: Any) -> "ModelMirror":
        """Read the model back from a deployed contract (entry or harness)."""

    # -- files ----------------------------------------------------------------
    @abc.abstractmethod
    def to_dict(self) -> dict:
        """The reference JSON model file as a dict."""

    @classmethod
    @abc.abstractmethod
    def from_dict(cls, d: dict) -> "ModelMirror":
        """Build from a reference JSON model file dict (see :mod:`ledgerlearn.models.files`)."""

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._state() == other._state()  # type: ignore[attr-defined]

    def __hash__(self) -> int:  # mutable: identity hash
        return id(self)

    @abc.abstractmethod
    def _state(self) -> tuple:
        """Everything that defines the contract state (for equality)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(classes={self.classes_!r}, n_features={self.n_features_in_})"


# -- shared validation ---------------------------------------------------------

def check_classes(classes: Sequence[str], *, exactly: int | None = None, max_classes: int | None = None) -> list[str]:
    names = [str(c) for c in classes]
    if exactly is not None and len(names) != exactly:
        raise ValidationError(f"classifications: this model has exactly {exactly} classes, got {len(names)}")
    if len(names) < 1 or (max_classes is not None and len(names) > max_classes):
        raise ValidationError(f"classifications: between 1 and {max_classes} classes, got {len(names)}")
    for n in names:
        if len(n.encode()) > MAX_CLASS_NAME:
            raise ValidationError(f"classifications: class name {n!r} is longer than {MAX_CLASS_NAME} bytes")
    return names


def check_sparse_input(x: Sequence[int], num_features: int, max_tokens: int) -> list[int]:
    """Strictly increasing indices below ``num_features`` (the contracts' check, same reasons)."""
    xs = [int(i) for i in x]
    if len(xs) > max_tokens:
        raise ValidationError(f"model: at most {max_tokens} features per input")
    lo = 0
    for i in xs:
        if i < lo:
            raise ValidationError("model: indices must be strictly increasing")
        if i >= num_features:
            raise ValidationError("model: feature index out of range")
        lo = i + 1
    return xs


def check_token_input(x: Sequence[int], num_features: int, max_tokens: int) -> list[int]:
    xs = [int(i) for i in x]
    if len(xs) > max_tokens:
        raise ValidationError(f"model: at most {max_tokens} tokens per input")
    for i in xs:
        if not 0 <= i < num_features:
            raise ValidationError("model: feature index out of range")
    return xs


def check_dense_input(x: Sequence[int], num_features: int) -> list[int]:
    """Length ``num_features``, |x_i| < 2**62, |sum x_i^2 - SCALE^2| <= SCALE^2 * 1e-7."""
    xs = [int(v) for v in x]
    if len(xs) != num_features:
        raise ValidationError("model: wrong input dimension")
    if any(not -(2**62) <= v < 2**62 for v in xs):
        raise ValidationError("model: input value out of range")
    sq = sum(v * v for v in xs)
    if abs(sq - SCALE * SCALE) > NORM_TOLERANCE:
        raise ValidationError("model: input norm is not 1")
    return xs


def normalize(vec: Sequence[float]) -> list[int]:
    """A dense real vector scaled to L2 norm 1 in fixed point (what clients send to dense models)."""
    v = np.asarray(vec, dtype=np.float64)
    n = float(np.linalg.norm(v))
    if not np.isfinite(n) or n == 0.0:
        raise ValidationError("x: cannot normalise a zero or non-finite vector")
    return [int(round(float(t) * SCALE)) for t in v / n]


def word_load_calls(words: dict[int, int], contiguous_fn: str, at_fn: str, prefix: tuple = ()) -> list[tuple[str, tuple]]:
    """Loader calls for packed words by index: runs of consecutive indices go to
    ``contiguous_fn(*prefix, start, words)``, isolated words to ``at_fn(*prefix, keys, words)``."""
    keys = sorted(words)
    calls: list[tuple[str, tuple]] = []
    singles: list[int] = []
    run: list[int] = []

    def flush_run() -> None:
        if len(run) >= 2:
            for off, part in chunks([words[k] for k in run], WORDS_PER_CALL):
                calls.append((contiguous_fn, (*prefix, run[0] + off, list(part))))
        else:
            singles.extend(run)

    for k in keys:
        if run and k != run[-1] + 1:
            flush_run()
            run = []
        run.append(k)
    flush_run()
    for _, part in chunks(singles, WORDS_PER_CALL):
        calls.append((at_fn, (*prefix, list(part), [words[k] for k in part])))
    return calls
