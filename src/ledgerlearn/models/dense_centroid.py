"""Mirror of ``contracts/models/dense_centroid.vy``: nearest centroid over dense unit vectors.

Prediction: smallest ``sum((c[i] - x[i])**2)`` (exact integers), ties to the
lower class index. Update: ``c[i] = tdiv(c[i] * n + x[i], n + 1)``, ``n += 1``
(truncation toward zero). Coordinates are int36 (seven per storage word, bound
about +-34.36).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any

from ledgerlearn.errors import ValidationError
from ledgerlearn.models.base import ModelMirror, check_classes, check_dense_input
from ledgerlearn.models.fixedpoint import SCALE, chunks, from_fixed, pack_signed, tdiv, to_fixed, unpack_signed

LANES = 7
LANE_BITS = 36
COORD_MAX = 2**35 - 1
COORD_MIN = -(2**35)
MAX_DIM = 784
MAX_CLASSES = 64
WORDS = 112
U64 = 2**64 - 1


class DenseCentroid(ModelMirror):
    """Nearest centroid classifier on dense fixed-point unit vectors."""

    kind = "dense_centroid"
    model_type = "nearest centroid classifier"
    input_kind = "dense"
    max_input = MAX_DIM

    def __init__(
        self,
        classes: Sequence[str] = ("0", "1"),
        centroids: Sequence[Sequence[int]] | None = None,
        data_counts: Sequence[int] | None = None,
        num_features: int | None = None,
    ):
        """Fixed-point ``centroids`` (one list per class) and their data counts."""
        self.classes_ = check_classes(classes, max_classes=MAX_CLASSES)
        C = len(self.classes_)
        if centroids is None:
            if num_features is None:
                raise ValidationError("num_features: give the centroids or the dimension")
            centroids = [[0] * int(num_features) for _ in range(C)]
        cents = [[int(v) for v in cv] for cv in centroids]
        if len(cents) != C:
            raise ValidationError(f"centroids: one centroid per class ({C}), got {len(cents)}")
        nf = len(cents[0]) if num_features is None else int(num_features)
        if not 0 < nf <= MAX_DIM:
            raise ValidationError(f"centroids: the dimension must be in 1..{MAX_DIM}, got {nf}")
        for c, cv in enumerate(cents):
            if len(cv) != nf:
                raise ValidationError(f"centroids: centroid of class {self.classes_[c]!r} has {len(cv)} coordinates, expected {nf}")
            for i, v in enumerate(cv):
                if not COORD_MIN <= v <= COORD_MAX:
                    raise ValidationError(f"centroids: coordinate {i} of class {self.classes_[c]!r} = {v / SCALE} is outside +-{COORD_MAX / SCALE:.3f}")
        counts = [0] * C if data_counts is None else [int(n) for n in data_counts]
        if len(counts) != C or any(not 0 <= n < U64 for n in counts):
            raise ValidationError("dataCount: one count per class, in 0..2**64-2")
        self.n_features_in_ = nf
        self.centroids_ = cents
        self.data_counts_ = counts

    # -- behaviour ------------------------------------------------------------
    def distances(self, x: Sequence[int]) -> list[int]:
        """Squared distances to each centroid (1e18 scale), exactly as the contract."""
        xs = check_dense_input(x, self.n_features_in_)
        return [sum((c - v) ** 2 for c, v in zip(cv, xs)) for cv in self.centroids_]

    def predict(self, x: Sequence[int]) -> int:
        d = self.distances(x)
        best = 0
        for c in range(1, len(d)):
            if d[c] < d[best]:
                best = c
        return best

    def update(self, x: Sequence[int], label: int) -> None:
        """``c = tdiv(c * n + x, n + 1)``, ``n += 1`` (checks in the contract's order)."""
        label = self._check_label(label)
        if len(x) != self.n_features_in_:
            raise ValidationError("model: wrong input dimension")
        n = self.data_counts_[label]
        if n >= U64:
            raise ValidationError("model: data count out of range")
        xs = check_dense_input(x, self.n_features_in_)
        self.centroids_[label] = [tdiv(c * n + v, n + 1) for c, v in zip(self.centroids_[label], xs)]
        self.data_counts_[label] = n + 1

    def fit(self, X: Iterable[Sequence[int]], y: Iterable[int]) -> "DenseCentroid":
        """Exact per-class means of the (fixed-point, unit) samples, rounded to the nearest unit."""
        C = self.num_classes
        sums = [[0] * self.n_features_in_ for _ in range(C)]
        counts = [0] * C
        for x, label in zip(X, y, strict=True):
            label = self._check_label(int(label))
            xs = check_dense_input(x, self.n_features_in_)
            counts[label] += 1
            sums[label] = [s + v for s, v in zip(sums[label], xs)]
        self.centroids_ = [[round(Fraction(s, n)) if n else 0 for s in sums[c]] for c, n in enumerate(counts)]
        self.data_counts_ = counts
        return self

    # -- contract I/O ---------------------------------------------------------
    def init_args(self) -> tuple:
        return (list(self.classes_), self.n_features_in_, list(self.data_counts_))

    def setup_calls(self) -> list[tuple[str, tuple]]:
        calls = []
        for c, cv in enumerate(self.centroids_):
            words = pack_signed(cv, LANE_BITS, LANES)
            while words and words[-1] == 0:
                words.pop()
            calls += [("load_centroid", (c, start, list(part))) for start, part in chunks(words, WORDS)]
        return calls

    @classmethod
    def from_contract(cls, contract: Any) -> "DenseCentroid":
        C = contract.call("num_classes")
        nf = contract.call("num_features")
        cents = []
        for c in range(C):
            cv: list[int] = []
            for k in range((nf + LANES - 1) // LANES):
                cv += unpack_signed(contract.call("centroid_word", c, k), LANE_BITS, LANES)
            cents.append(cv[:nf])
        return cls(
            classes=[contract.call("class_name", c) for c in range(C)],
            centroids=cents,
            data_counts=[contract.call("data_count", c) for c in range(C)],
        )

    # -- files ----------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "type": self.model_type,
            "centroids": {
                name: {"centroid": [from_fixed(v) for v in cv], "dataCount": n}
                for name, cv, n in zip(self.classes_, self.centroids_, self.data_counts_)
            },
        }

    @classmethod
    def from_dict(cls, d: dict) -> "DenseCentroid":
        from ledgerlearn.models.files import _centroid_entries, _int

        names, cents, counts = [], [], []
        for name, entry in _centroid_entries(d):
            cv = entry.get("centroid")
            if not isinstance(cv, list) or not cv:
                raise ValidationError(f"centroids.{name}.centroid: must be a non-empty list of numbers")
            names.append(name)
            cents.append([to_fixed(v, f"centroids.{name}.centroid[{i}]") for i, v in enumerate(cv)])
            counts.append(_int(entry.get("dataCount"), f"centroids.{name}.dataCount"))
        return cls(classes=names, centroids=cents, data_counts=counts)

    def _state(self) -> tuple:
        return (self.classes_, self.n_features_in_, self.centroids_, self.data_counts_)
