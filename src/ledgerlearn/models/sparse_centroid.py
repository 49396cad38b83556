"""Mirror of ``contracts/models/sparse_centroid.vy``: nearest centroid over sparse binary inputs.

Lazy rescaling: each class keeps the *sums* ``V = c * n`` (fixed point) and
``n``; the centroid is ``V / n``. An update adds 1e9 to ``V[i]`` for the present
indices and 1 to ``n``: the exact moving average, touching only those indices.
Prediction with ``Q = sum V^2``, ``T = sum_{i in x} V[i]``, ``L = len(x)``:
``D = tdiv(Q - 2e9 * T * n, n * n) + L * 1e18`` (``L * 1e18`` when ``n == 0``),
argmin with ties to the lower index.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ledgerlearn.errors import ValidationError
from ledgerlearn.models.base import ModelMirror, check_classes, check_sparse_input, word_load_calls
from ledgerlearn.models.fixedpoint import SCALE, from_fixed, pack_signed, tdiv, to_fixed, unpack_signed

LANES = 5
LANE_BITS = 48
SUM_MAX = 2**47 - 1
SUM_MIN = -(2**47)
MAX_TOKENS = 512
MAX_CLASSES = 64
MAX_FEATURES = 2**32
U64 = 2**64 - 1


class SparseCentroid(ModelMirror):
    """Nearest centroid classifier on sorted unique feature indices (value 1)."""

    kind = "sparse_centroid"
    model_type = "sparse nearest centroid classifier"
    input_kind = "sparse"
    max_input = MAX_TOKENS

    def __init__(
        self,
        classes: Sequence[str] = ("0", "1"),
        sums: Sequence[Mapping[int, int]] | None = None,
        data_counts: Sequence[int] | None = None,
        num_features: int = MAX_FEATURES,
    ):
        """``sums[c]`` maps feature -> ``V = centroid * dataCount`` in fixed point (see :meth:`from_centroids`)."""
        self.classes_ = check_classes(classes, max_classes=MAX_CLASSES)
        C = len(self.classes_)
        if not 0 < int(num_features) <= MAX_FEATURES:
            raise ValidationError(f"num_features: must be in 1..2**32, got {num_features}")
        self.n_features_in_ = int(num_features)
        counts = [0] * C if data_counts is None else [int(n) for n in data_counts]
        if len(counts) != C or any(not 0 <= n < U64 for n in counts):
            raise ValidationError("dataCount: one count per class, in 0..2**64-2")
        raw = [{} for _ in range(C)] if sums is None else list(sums)
        if len(raw) != C:
            raise ValidationError(f"centroids: one centroid per class ({C}), got {len(raw)}")
        self.sums_: list[dict[int, int]] = []
        for c, d in enumerate(raw):
            out: dict[int, int] = {}
            for i, v in d.items():
                i, v = int(i), int(v)
                if not 0 <= i < self.n_features_in_:
                    raise ValidationError(f"centroids: feature {i} of class {self.classes_[c]!r} is outside 0..{self.n_features_in_ - 1}")
                if not SUM_MIN <= v <= SUM_MAX:
                    raise ValidationError(f"centroids: class {self.classes_[c]!r} feature {i}: centroid * dataCount is outside the int48 bound")
                if v:
                    out[i] = v
            if out and counts[c] == 0:
                raise ValidationError(f"centroids.{self.classes_[c]}.dataCount: must be at least 1 for a non-zero centroid")
            self.sums_.append(out)
        self.data_counts_ = counts
        if any(q >= 2**192 for q in self.sq_norms_):
            raise ValidationError("centroids: squared norm out of range")

    @classmethod
    def from_centroids(cls, classes: Sequence[str], centroids: Sequence[Mapping[int, int]], data_counts: Sequence[int], **kw: Any) -> "SparseCentroid":
        """From fixed-point centroid coordinates: ``V = c * n`` exactly."""
        return cls(classes, [{i: v * n for i, v in cv.items()} for cv, n in zip(centroids, data_counts, strict=True)], data_counts, **kw)

    @property
    def sq_norms_(self) -> list[int]:
        """Q per class: sum of V[i]^2 (1e18 scale)."""
        return [sum(v * v for v in d.values()) for d in self.sums_]

    def centroid(self, c: int) -> dict[int, float]:
        """Class c's centroid as real numbers."""
        n = self.data_counts_[c]
        return {i: v / SCALE / n for i, v in sorted(self.sums_[c].items())} if n else {}

    # -- behaviour ------------------------------------------------------------
    def distances(self, x: Sequence[int], *, sq_norms: Sequence[int] | None = None) -> list[int]:
        """The contract's D_c (squared distance * 1e18, one truncation)."""
        xs = check_sparse_input(x, self.n_features_in_, MAX_TOKENS)
        L = len(xs) * SCALE * SCALE
        out = []
        for c, d in enumerate(self.sums_):
            n = self.data_counts_[c]
            if n == 0:
                out.append(L)
                continue
            t = sum(d.get(i, 0) for i in xs)
            q = sum(v * v for v in d.values()) if sq_norms is None else sq_norms[c]
            out.append(tdiv(q - 2 * SCALE * t * n, n * n) + L)
        return out

    def predict(self, x: Sequence[int], *, sq_norms: Sequence[int] | None = None) -> int:
        d = self.distances(x, sq_norms=sq_norms)
        best = 0
        for c in range(1, len(d)):
            if d[c] < d[best]:
                best = c
        return best

    def update(self, x: Sequence[int], label: int) -> None:
        """V[i] += 1e9 for i in x, n += 1; indices are checked in order, as the contract does."""
        label = self._check_label(label)
        xs = [int(i) for i in x]
        if len(xs) > MAX_TOKENS:
            raise ValidationError(f"model: at most {MAX_TOKENS} features per input")
        d = dict(self.sums_[label])
        lo = 0
        for i in xs:
            if i < lo:
                raise ValidationError("model: indices must be strictly increasing")
            if i >= self.n_features_in_:
                raise ValidationError("model: feature index out of range")
            lo = i + 1
            v = d.get(i, 0)
            if v > SUM_MAX - SCALE:
                raise ValidationError("model: centroid overflow")
            d[i] = v + SCALE
        if self.data_counts_[label] + 1 >= U64:
            raise ValidationError("model: data count out of range")
        if sum(v * v for v in d.values()) >= 2**192:
            raise ValidationError("model: centroid overflow")
        self.sums_[label] = {i: v for i, v in d.items() if v}
        self.data_counts_[label] += 1

    def fit(self, X: Iterable[Sequence[int]], y: Iterable[int]) -> "SparseCentroid":
        """Exact: V[i] = 1e9 * (number of the class's samples containing i), n = samples."""
        C = self.num_classes
        self.sums_ = [{} for _ in range(C)]
        self.data_counts_ = [0] * C
        for x, label in zip(X, y, strict=True):
            self.update(x, int(label))
        return self

    # -- contract I/O ---------------------------------------------------------
    def words(self) -> dict[int, int]:
        C = self.num_classes
        lanes: dict[int, list[int]] = {}
        for c, d in enumerate(self.sums_):
            for i, v in d.items():
                p = i * C + c
                lanes.setdefault(p // LANES, [0] * LANES)[p % LANES] = v
        return {k: pack_signed(v, LANE_BITS, LANES)[0] for k, v in sorted(lanes.items())}

    def init_args(self) -> tuple:
        return (list(self.classes_), self.n_features_in_, list(self.data_counts_), self.sq_norms_)

    def setup_calls(self) -> list[tuple[str, tuple]]:
        return word_load_calls(self.words(), "load_sums", "load_sums_at")

    @classmethod
    def from_contract(cls, contract: Any, *, keys: Iterable[int] | None = None) -> "SparseCentroid":
        """Read back; ``keys`` (word indices) default to all words (needs F * C <= 2**20)."""
        C = contract.call("num_classes")
        nf = contract.call("num_features")
        if keys is None:
            if nf * C > 2**20:
                raise ValidationError("keys: give the word indices to read for a model with more than 2**20 coordinates")
            keys = range((nf * C + LANES - 1) // LANES)
        sums: list[dict[int, int]] = [{} for _ in range(C)]
        for k in keys:
            for j, v in enumerate(unpack_signed(contract.call("sums_word", int(k)), LANE_BITS, LANES)):
                if v:
                    p = int(k) * LANES + j
                    sums[p % C][p // C] = v
        stats = [contract.call("class_stats", c) for c in range(C)]
        m = cls(
            classes=[contract.call("class_name", c) for c in range(C)],
            sums=sums,
            data_counts=[s[0] for s in stats],
            num_features=nf,
        )
        if [s[1] for s in stats] != m.sq_norms_:
            raise ValidationError("contract: stored squared norms differ from the sums read")
        return m

    # -- files ----------------------------------------------------------------
    def to_dict(self) -> dict:
        cents = {}
        for name, d, n in zip(self.classes_, self.sums_, self.data_counts_):
            cents[name] = {"centroid": {str(i): (v / n / SCALE if n else 0.0) for i, v in sorted(d.items())}, "dataCount": n}
        return {"type": self.model_type, "centroids": cents}

    @classmethod
    def from_dict(cls, d: dict) -> "SparseCentroid":
        from ledgerlearn.models.files import _centroid_entries, _int

        names, cents, counts = [], [], []
        for name, entry in _centroid_entries(d):
            cv = entry.get("centroid")
            if not isinstance(cv, dict):
                raise ValidationError(f"centroids.{name}.centroid: must be an object {{index: value}}")
            coords = {}
            for k, v in cv.items():
                try:
                    i = int(k)
                except (TypeError, ValueError):
                    raise ValidationError(f"centroids.{name}.centroid: key {k!r} is not an integer index") from None
                if not 0 <= i < MAX_FEATURES:
                    raise ValidationError(f"centroids.{name}.centroid: index {i} is outside 0..2**32-1")
                coords[i] = to_fixed(v, f"centroids.{name}.centroid.{k}")
            n = _int(entry.get("dataCount"), f"centroids.{name}.dataCount")
            if n == 0 and any(coords.values()):
                raise ValidationError(f"centroids.{name}.dataCount: must be at least 1 for a non-zero centroid")
            names.append(name)
            cents.append(coords)
            counts.append(n)
        return cls.from_centroids(names, cents, counts)

    def _state(self) -> tuple:
        return (self.classes_, self.n_features_in_, [sorted(d.items()) for d in self.sums_], self.data_counts_)
