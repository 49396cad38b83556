"""Mirror of ``contracts/models/naive_bayes.vy``: multinomial naive Bayes in the log domain.

``score_c = ln(docs_c) + sum_t ln(count[c][t]*1e9 + a) - len(x) * ln(total_c*1e9 + a*F)``
computed exactly as the contract does (the product ``docs_c * prod(count*1e9 + a)``
kept as ``m * 2**e`` with a 128-bit mantissa, then two fixed-point logarithms
per class, see :func:`ledgerlearn.models.fixedpoint.ln_wad`); argmax with ties to the lower
index; classes without documents are never predicted. Agrees with
scikit-learn's ``MultinomialNB(alpha=a)`` up to ~1e-15 in the scores.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ledgerlearn.errors import ValidationError
from ledgerlearn.models.base import ModelMirror, check_classes, check_token_input, word_load_calls
from ledgerlearn.models.fixedpoint import SCALE, from_fixed, ln_wad, pack_unsigned, to_fixed, unpack_unsigned

LANES = 8
LANE_BITS = 32
COUNT_MAX = 2**32 - 1
MAX_TOKENS = 512
MAX_CLASSES = 64
MAX_FEATURES = 2**32
MAX_SMOOTHING = 2**60
U64 = 2**64 - 1


class NaiveBayes(ModelMirror):
    """Multinomial naive Bayes over token indices (repeats count)."""

    kind = "naive_bayes"
    model_type = "naive bayes"
    input_kind = "tokens"
    max_input = MAX_TOKENS

    def __init__(
        self,
        classes: Sequence[str] = ("0", "1"),
        num_features: int = MAX_FEATURES,
        smoothing: int = SCALE,
        class_count: Sequence[int] | None = None,
        feature_count: Sequence[Mapping[int, int]] | None = None,
    ):
        """``smoothing`` is fixed point; ``feature_count[c]`` maps feature -> count."""
        self.classes_ = check_classes(classes, max_classes=MAX_CLASSES)
        C = len(self.classes_)
        if not 0 < int(num_features) <= MAX_FEATURES:
            raise ValidationError(f"totalNumFeatures: must be in 1..2**32, got {num_features}")
        self.n_features_in_ = int(num_features)
        if not 0 < int(smoothing) <= MAX_SMOOTHING:
            raise ValidationError("smoothingFactor: must be positive (at least 1e-9) and at most 2**60 / 1e9")
        self.smoothing_ = int(smoothing)
        cc = [0] * C if class_count is None else [int(v) for v in class_count]
        if len(cc) != C:
            raise ValidationError(f"classCounts: one count per class ({C}), got {len(cc)}")
        if any(not 0 <= v <= U64 for v in cc):
            raise ValidationError("classCounts: counts must be in 0..2**64-1")
        self.class_count_ = cc
        fc = [{} for _ in range(C)] if feature_count is None else list(feature_count)
        if len(fc) != C:
            raise ValidationError(f"featureCounts: one list per class ({C}), got {len(fc)}")
        self.feature_count_: list[dict[int, int]] = []
        for c, counts in enumerate(fc):
            d: dict[int, int] = {}
            for f, n in counts.items():
                f, n = int(f), int(n)
                if not 0 <= f < self.n_features_in_:
                    raise ValidationError(f"featureCounts: feature {f} of class {c} is outside 0..{self.n_features_in_ - 1}")
                if not 0 <= n <= COUNT_MAX:
                    raise ValidationError(f"featureCounts: count {n} of feature {f} (class {c}) is outside 0..2**32-1")
                if n:
                    d[f] = n
            self.feature_count_.append(d)
        if any(t > U64 for t in self.total_count_):
            raise ValidationError("featureCounts: a class's total count exceeds 2**64-1")

    @property
    def total_count_(self) -> list[int]:
        """Per class, the sum of its feature counts."""
        return [sum(d.values()) for d in self.feature_count_]

    # -- behaviour ------------------------------------------------------------
    def joint_log_scores(self, x: Sequence[int], *, totals: Sequence[int] | None = None) -> list[int | None]:
        """The contract's integer scores S_c (1e18 scale; None for classes without documents).

        ``S_c = ln_wad(m_c, e_c) - len(x) * ln_wad(total_c * 1e9 + a * F)`` where
        ``m_c * 2**e_c`` is ``docs_c`` times the product of ``count*1e9 + a`` over the
        tokens in input order, renormalised (``m >>= 64``) whenever ``m >= 2**128``.
        """
        xs = check_token_input(x, self.n_features_in_, MAX_TOKENS)
        a = self.smoothing_
        n = len(xs)
        if totals is None:  # callers predicting many samples pass them (a sum over every count)
            totals = self.total_count_
        out: list[int | None] = []
        for c, counts in enumerate(self.feature_count_):
            docs = self.class_count_[c]
            if docs == 0:
                out.append(None)
                continue
            m, e = docs, 0
            for t in xs:
                m *= counts.get(t, 0) * SCALE + a
                if m >= 2**128:
                    m >>= 64
                    e += 64
            out.append(ln_wad(m, e) - n * ln_wad(totals[c] * SCALE + a * self.n_features_in_))
        return out

    def predict(self, x: Sequence[int], *, totals: Sequence[int] | None = None) -> int:
        best, best_c = None, 0
        for c, s in enumerate(self.joint_log_scores(x, totals=totals)):
            if s is not None and (best is None or s > best):
                best, best_c = s, c
        return best_c

    def update(self, x: Sequence[int], label: int) -> None:
        """Counts of ``label`` +1 per token occurrence; tokens are checked in order, as the contract does."""
        label = self._check_label(label)
        xs = [int(t) for t in x]
        if len(xs) > MAX_TOKENS:
            raise ValidationError(f"model: at most {MAX_TOKENS} tokens per input")
        new = dict(self.feature_count_[label])
        for t in xs:
            if not 0 <= t < self.n_features_in_:
                raise ValidationError("model: feature index out of range")
            if new.get(t, 0) >= COUNT_MAX:
                raise ValidationError("model: count overflow")
            new[t] = new.get(t, 0) + 1
        if self.class_count_[label] + 1 > U64 or sum(new.values()) > U64:
            raise ValidationError("model: count overflow")
        self.feature_count_[label] = new
        self.class_count_[label] += 1

    def fit(self, X: Iterable[Sequence[int]], y: Iterable[int]) -> "NaiveBayes":
        """Counts from scratch (documents per class, token occurrences per class)."""
        C = self.num_classes
        self.class_count_ = [0] * C
        self.feature_count_ = [{} for _ in range(C)]
        for x, label in zip(X, y, strict=True):
            label = self._check_label(int(label))
            xs = [int(t) for t in x]
            for t in xs:
                if not 0 <= t < self.n_features_in_:
                    raise ValidationError(f"X: feature index {t} is outside 0..{self.n_features_in_ - 1}")
            self.class_count_[label] += 1
            for t, k in Counter(xs).items():
                self.feature_count_[label][t] = self.feature_count_[label].get(t, 0) + k
        for c, d in enumerate(self.feature_count_):
            if any(v > COUNT_MAX for v in d.values()):
                raise ValidationError(f"X: a count of class {c} exceeds 2**32-1")
        return self

    # -- contract I/O ---------------------------------------------------------
    def words(self) -> dict[int, int]:
        """Packed count words by word index (position p = feature * C + class, 8 per word)."""
        C = self.num_classes
        lanes: dict[int, list[int]] = {}
        for c, d in enumerate(self.feature_count_):
            for f, n in d.items():
                p = f * C + c
                lanes.setdefault(p // LANES, [0] * LANES)[p % LANES] = n
        return {k: pack_unsigned(v, LANE_BITS, LANES)[0] for k, v in sorted(lanes.items())}

    def init_args(self) -> tuple:
        return (list(self.classes_), self.n_features_in_, self.smoothing_, list(self.class_count_), self.total_count_)

    def setup_calls(self) -> list[tuple[str, tuple]]:
        return word_load_calls(self.words(), "load_counts", "load_counts_at")

    @classmethod
    def from_contract(cls, contract: Any, *, keys: Iterable[int] | None = None) -> "NaiveBayes":
        """Read back; ``keys`` (word indices) default to all words (needs F * C <= 2**20)."""
        C = contract.call("num_classes")
        nf = contract.call("num_features")
        if keys is None:
            if nf * C > 2**20:
                raise ValidationError("keys: give the word indices to read for a model with more than 2**20 counts")
            keys = range((nf * C + LANES - 1) // LANES)
        fc: list[dict[int, int]] = [{} for _ in range(C)]
        for k in keys:
            for j, n in enumerate(unpack_unsigned(contract.call("counts_word", int(k)), LANE_BITS, LANES)):
                if n:
                    p = int(k) * LANES + j
                    fc[p % C][p // C] = n
        stats = [contract.call("class_stats", c) for c in range(C)]
        m = cls(
            classes=[contract.call("class_name", c) for c in range(C)],
            num_features=nf,
            smoothing=contract.call("smoothing"),
            class_count=[s[0] for s in stats],
            feature_count=fc,
        )
        if [s[1] for s in stats] != m.total_count_:
            raise ValidationError("contract: stored class totals differ from the sum of the counts read")
        return m

    # -- files ----------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "type": self.model_type,
            "classifications": list(self.classes_),
            "classCounts": list(self.class_count_),
            "featureCounts": [[[f, n] for f, n in sorted(d.items())] for d in self.feature_count_],
            "totalNumFeatures": self.n_features_in_,
            "smoothingFactor": from_fixed(self.smoothing_),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "NaiveBayes":
        from ledgerlearn.models.files import _classes, _get, _int, _real

        classes = _classes(d)
        cc = _get(d, "classCounts")
        if not isinstance(cc, list):
            raise ValidationError("classCounts: must be a list of counts")
        class_count = [_int(v, f"classCounts[{i}]") for i, v in enumerate(cc)]
        fcs = _get(d, "featureCounts")
        if not isinstance(fcs, list):
            raise ValidationError("featureCounts: must be a list (per class) of [index, count] pairs")
        feature_count: list[dict[int, int]] = []
        for c, pairs in enumerate(fcs):
            if not isinstance(pairs, list):
                raise ValidationError(f"featureCounts[{c}]: must be a list of [index, count] pairs")
            counts: dict[int, int] = {}
            for j, pair in enumerate(pairs):
                if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                    raise ValidationError(f"featureCounts[{c}][{j}]: must be an [index, count] pair")
                f = _int(pair[0], f"featureCounts[{c}][{j}][0]")
                counts[f] = counts.get(f, 0) + _int(pair[1], f"featureCounts[{c}][{j}][1]")
            feature_count.append(counts)
        return cls(
            classes=classes,
            num_features=_int(_get(d, "totalNumFeatures"), "totalNumFeatures"),
            smoothing=_real(d, "smoothingFactor", default=1.0),
            class_count=class_count,
            feature_count=feature_count,
        )

    def _state(self) -> tuple:
        return (self.classes_, self.n_features_in_, self.smoothing_, self.class_count_, [sorted(d.items()) for d in self.feature_count_])
