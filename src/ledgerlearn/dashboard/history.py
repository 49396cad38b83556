"""Chart data for the dashboard, from events and records (JSON-ready dicts, money as integer wei).

- :class:`AccuracyReplay` replays a shared model's ``DataAdded`` events on an
  exact off-chain mirror of its initial model (a model only changes in
  ``add_data``, and every mirror is bit-exact), which gives its accuracy on a
  labelled evaluation set after any number of contributions, the prequential
  agreement (did the model, just before a contribution, predict its label?),
  and the current model for fast predictions. It is incremental: the backend
  feeds it the events it has not seen yet.
- :func:`balance_series`: each account's net wei over time from a model's
  ``DataAdded`` / ``Refund`` / ``Report`` events (:class:`EventClock` gives
  events without a time field their block's timestamp).
- :func:`list_runs` / :func:`load_run`: simulation and bounty-market records
  (JSON files) and the series their charts need.
- :func:`market_rounds`: a recorded market's rounds as its events tell them
  (bounty market, data market, training market).

Nothing here sends a transaction; the chain is read through the clients.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import threading
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from ledgerlearn.chain.base import Chain, checksum
from ledgerlearn.errors import LedgerlearnError, NotFoundError, ValidationError
from ledgerlearn.models import DenseCentroid, DensePerceptron, ModelMirror, NaiveBayes, SparseCentroid, SparsePerceptron
from ledgerlearn.models.base import NORM_TOLERANCE, check_dense_input, check_sparse_input, check_token_input
from ledgerlearn.models.dense_perceptron import WEIGHT_MAX as _DP_WEIGHT_MAX
from ledgerlearn.models.dense_perceptron import WEIGHT_MIN as _DP_WEIGHT_MIN
from ledgerlearn.models.dense_centroid import U64 as _DC_U64
from ledgerlearn.models.fixedpoint import SCALE, tdiv
from ledgerlearn.models.naive_bayes import COUNT_MAX as _NB_COUNT_MAX
from ledgerlearn.models.naive_bayes import MAX_TOKENS as _NB_MAX_TOKENS
from ledgerlearn.models.naive_bayes import U64 as _NB_U64
from ledgerlearn.models.sparse_centroid import SUM_MAX as _SC_SUM_MAX
from ledgerlearn.models.sparse_centroid import U64 as _SC_U64
from ledgerlearn.shared_models.client import hex_str
from ledgerlearn.simulation.evaluate import Evaluator

__all__ = [
    "AccuracyReplay",
    "EventClock",
    "balance_series",
    "list_runs",
    "load_run",
    "market_kind",
    "market_rounds",
    "MARKET_KINDS",
]

#: Naive Bayes decisions whose float log-scores are closer than this (natural
#: log units) are recomputed exactly; the float error is below 1e-9 and the
#: contract's own error below 1e-15, so farther ones cannot differ.
NB_TIE_MARGIN = 1e-6


def _pos(ev: Mapping) -> tuple[int, int]:
    log = ev["_log"]
    return (int(log.block_number), int(log.log_index))



# =========================================================== accuracy replay
class _Ops:
    """Prediction, update and many-sample prediction of one mirror (generic: the mirror's own methods).

    ``plan(X)`` prepares validated inputs once (matrices, compact feature
    ids); ``run(plan)`` predicts them all with the current model, exactly as
    ``predict`` would one by one.
    """

    def __init__(self, mirror: ModelMirror, X: Sequence[Sequence[int]] | None):
        self.m = mirror
        self.X = X
        self._eval_plan = None if X is None else self.plan(X)

    def plan(self, X: Sequence[Sequence[int]]) -> Any:
        m = self.m
        if isinstance(m, SparsePerceptron):
            feats = sorted({int(i) for x in X for i in x})
            ids = {f: k for k, f in enumerate(feats)}
            return feats, _csr([[ids[int(i)] for i in x] for x in X], len(feats), np.int64)
        if isinstance(m, DensePerceptron):
            return np.array(X, dtype=np.int64).reshape(len(X), m.n_features_in_)
        return Evaluator(X)

    def run(self, plan: Any) -> np.ndarray:
        m = self.m
        if isinstance(m, SparsePerceptron):
            feats, M = plan
            w = np.fromiter((m.weights_.get(f, 0) for f in feats), dtype=np.int64, count=len(feats))
            return _greater(M @ w, -m.intercept_)  # |sum| <= 512 * 2**47 < 2**63
        if isinstance(m, DensePerceptron):
            # Exact int64 products: weights (int48) in 16-bit limbs, |x_i| < 2**31, at most 784 dimensions.
            w = np.array(m.coef_, dtype=np.int64)
            s0 = (plan @ (w & 0xFFFF)).tolist()
            s1 = (plan @ ((w >> 16) & 0xFFFF)).tolist()
            s2 = (plan @ (w >> 32)).tolist()
            base = m.intercept_ * SCALE
            return np.fromiter(
                ((1 if base + (c << 32) + (b << 16) + a > 0 else 0) for a, b, c in zip(s0, s1, s2)),
                dtype=np.int64, count=len(s0),
            )
        return plan.predict(m)

    def evaluate(self) -> np.ndarray:
        """Predictions for the evaluation set."""
        return self.run(self._eval_plan)

    def predict(self, x: Sequence[int]) -> int:
        return self.m.predict(x)

    def step(self, x: Sequence[int], label: int) -> int:
        """The prediction before the update, then the update (ValidationError if the mirror refuses)."""
        pred = self.m.predict(x)
        self.m.update(x, label)
        return pred


def _greater(scores: np.ndarray, threshold: int) -> np.ndarray:
    """``scores > threshold`` for int64 scores within +-2**60 and any Python int threshold."""
    if threshold >= 2**62:
        return np.zeros(len(scores), dtype=np.int64)
    if threshold < -(2**62):
        return np.ones(len(scores), dtype=np.int64)
    return (scores > threshold).astype(np.int64)


def _csr(rows: Sequence[Sequence[int]], ncols: int, dtype=np.float64) -> sparse.csr_matrix:
    """Count matrix (duplicates add up) with one row per list of column indices."""
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=indptr[1:])
    indices = np.fromiter((i for r in rows for i in r), dtype=np.int64, count=int(indptr[-1]))
    m = sparse.csr_matrix((np.ones(len(indices), dtype=dtype), indices, indptr), shape=(len(rows), max(ncols, 1)))
    m.sum_duplicates()
    return m


class _NaiveBayesOps(_Ops):
    """Naive Bayes, fast and still exact.

    The mirror's ``update`` copies a class's whole count table and its
    ``predict`` sums every count (both O(vocabulary)); here counts are updated
    in place with the same checks, class totals are kept, and predictions use
    float64 log-scores (a sparse product for the evaluation set) with the exact
    integer computation only for near ties (:data:`NB_TIE_MARGIN`).
    """

    def __init__(self, mirror: NaiveBayes, X: Sequence[Sequence[int]] | None):
        self.m = mirror
        self.X = X
        C = mirror.num_classes
        self.a = mirror.smoothing_
        self.F = mirror.n_features_in_
        self.totals = mirror.total_count_
        # Compact feature ids, and per class and id: the count (as in the mirror's dicts) and ln(count * 1e9 + a).
        self.ids: dict[int, int] = {}
        self.size = 0
        self.feats = np.zeros(64, dtype=np.int64)
        self.cnt = np.zeros((C, 64), dtype=np.int64)
        self.lf = np.zeros((C, 64), dtype=np.float64)
        self.ln_docs = [math.log(d) if d else -math.inf for d in mirror.class_count_]
        self.ln_tot = [math.log(t * SCALE + self.a * self.F) for t in self.totals]
        self._eval_plan = None if X is None else self.plan(X)

    def plan(self, X: Sequence[Sequence[int]]) -> Any:
        rows = [[self._id(int(t)) for t in x] for x in X]
        return _csr(rows, self.size), np.array([len(x) for x in X], dtype=np.float64), X

    def _id(self, t: int) -> int:
        k = self.ids.get(t)
        if k is None:
            k = self.size
            if k >= len(self.feats):
                cap = 2 * len(self.feats)
                self.feats = np.concatenate([self.feats, np.zeros(cap - len(self.feats), dtype=np.int64)])
                self.cnt = np.concatenate([self.cnt, np.zeros((self.cnt.shape[0], cap - self.cnt.shape[1]), dtype=np.int64)], axis=1)
                self.lf = np.concatenate([self.lf, np.zeros((self.lf.shape[0], cap - self.lf.shape[1]))], axis=1)
            self.ids[t] = k
            self.feats[k] = t
            self.size = k + 1
            for c, counts in enumerate(self.m.feature_count_):
                n = counts.get(t, 0)
                self.cnt[c, k] = n
                self.lf[c, k] = math.log(n * SCALE + self.a)
        return k

    def _decide(self, scores: Sequence[float]) -> int | None:
        """The argmax (lowest class on ties) when certain; None when the top two are too close."""
        best, best_c, second = -math.inf, 0, -math.inf
        for c, s in enumerate(scores):
            if s > best:
                best, best_c, second = s, c, best
            elif s > second:
                second = s
        if best == -math.inf:
            return 0  # no class has documents: the contract answers 0
        if best - second < NB_TIE_MARGIN:
            return None
        return best_c

    def predict(self, x: Sequence[int]) -> int:
        return self.m.predict(x, totals=self.totals)

    def step(self, x: Sequence[int], label: int) -> int:
        m = self.m
        label = m._check_label(label)
        xs = x if isinstance(x, list) else list(x)
        if len(xs) > _NB_MAX_TOKENS or (xs and (min(xs) < 0 or max(xs) >= self.F)):
            check_token_input(xs, self.F, _NB_MAX_TOKENS)  # raises the mirror's error
        get = self.ids.get
        ids = [get(t) for t in xs]
        if None in ids:
            for i, k in enumerate(ids):
                if k is None:
                    ids[i] = self._id(xs[i])
        arr = np.array(ids, dtype=np.int64)
        n = len(xs)
        sums = self.lf[:, arr].sum(axis=1).tolist()
        pred = self._decide([ld + s - n * lt if ld != -math.inf else -math.inf
                             for ld, s, lt in zip(self.ln_docs, sums, self.ln_tot)])
        if pred is None:
            pred = m.predict(xs, totals=self.totals)
        # The mirror's update, in place, with the same checks (it refuses a count that would
        # pass COUNT_MAX, or totals past 2**64 - 1) and nothing changed on failure.
        uid, k = np.unique(arr, return_counts=True)
        values = self.cnt[label, uid] + k
        if n and int(values.max()) > _NB_COUNT_MAX:
            raise ValidationError("model: count overflow")
        if m.class_count_[label] + 1 > _NB_U64 or self.totals[label] + n > _NB_U64:
            raise ValidationError("model: count overflow")
        self.cnt[label, uid] = values
        self.lf[label, uid] = np.log(values * float(SCALE) + self.a)
        m.feature_count_[label].update(zip(self.feats[uid].tolist(), values.tolist()))
        m.class_count_[label] += 1
        self.totals[label] += n
        self.ln_docs[label] = math.log(m.class_count_[label])
        self.ln_tot[label] = math.log(self.totals[label] * SCALE + self.a * self.F)
        return pred

    def run(self, plan: Any) -> np.ndarray:
        M, n, X = plan
        S = np.asarray(M @ self.lf[:, : M.shape[1]].T)  # (samples, classes)
        for c, (ld, lt) in enumerate(zip(self.ln_docs, self.ln_tot)):
            S[:, c] = S[:, c] + ld - n * lt if ld != -math.inf else -math.inf
        if S.shape[1] == 1:
            return np.zeros(S.shape[0], dtype=np.int64)
        pred = np.argmax(S, axis=1).astype(np.int64)  # the first maximum: the lowest class, as the contract
        top2 = np.sort(S, axis=1)[:, -2:]
        with np.errstate(invalid="ignore"):
            close = ~((top2[:, 1] - top2[:, 0]) >= NB_TIE_MARGIN)  # NaN (both -inf) counts as close
        for i in np.flatnonzero(close):
            pred[i] = self.m.predict(X[i], totals=self.totals)
        return pred


def _dense_vector(x: Sequence[int], nf: int) -> np.ndarray:
    """A dense input as int64, checked exactly as ``check_dense_input`` (which raises its error otherwise)."""
    try:
        v = np.array(x, dtype=np.int64)
    except (OverflowError, ValueError, TypeError):
        v = None
    if v is not None and v.shape == (nf,) and int(np.abs(v).max(initial=0)) < 2**31:
        sq = v * v  # < 2**62 each; summed exactly in 32-bit halves
        total = (int((sq >> 32).sum()) << 32) + int((sq & 0xFFFFFFFF).sum())
        if abs(total - SCALE * SCALE) <= NORM_TOLERANCE:
            return v
    check_dense_input(x, nf)  # raises the mirror's error
    raise ValidationError("model: input value out of range")  # pragma: no cover - the check above raises


def _limbs(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``w = top << 32 | mid << 16 | low`` for int64 values below 2**47 in magnitude (top signed)."""
    return w & 0xFFFF, (w >> 16) & 0xFFFF, w >> 32


def _tdiv_np(a: np.ndarray, b: int) -> np.ndarray:
    """``tdiv`` (truncation toward zero) elementwise, for int64 ``a`` and a positive ``b``."""
    q = np.abs(a) // b
    return np.where(a < 0, -q, q)


class _DensePerceptronOps(_Ops):
    """Dense perceptron with numpy, exact.

    Inputs are checked as the mirror checks them (any input the fast check
    does not clear goes to the mirror, which raises its error); scores and
    updates are exact int64 arithmetic: weights (int48) in 16-bit limbs times
    inputs below 2**31, and ``tdiv(lr * x, 1e9)`` as ``a * |x| + (b * |x|) // 1e9``
    with ``lr = a * 1e9 + b``. The mirror's ``coef_`` is kept in step.
    """

    def __init__(self, mirror: DensePerceptron, X: Sequence[Sequence[int]] | None):
        super().__init__(mirror, X)
        self._set_w(np.array(mirror.coef_, dtype=np.int64))

    def _set_w(self, w: np.ndarray) -> None:
        self.w = w
        self.limbs = _limbs(w)

    def step(self, x: Sequence[int], label: int) -> int:
        m = self.m
        label = m._check_label(label)
        v = _dense_vector(x, m.n_features_in_)
        l0, l1, l2 = self.limbs
        score = m.intercept_ * SCALE + int(v @ l0) + (int(v @ l1) << 16) + (int(v @ l2) << 32)
        pred = 1 if score > 0 else 0
        if pred == label:
            return pred
        lr = m.learning_rate_
        a, b = divmod(lr, SCALE)
        mag = np.abs(v)
        q = a * mag + (b * mag) // SCALE  # |lr * x| // 1e9: b * |x| < 2**61
        delta = np.where(v < 0, -q, q) if label == 1 else np.where(v < 0, q, -q)
        new = self.w + delta
        if int(new.min(initial=0)) < _DP_WEIGHT_MIN or int(new.max(initial=0)) > _DP_WEIGHT_MAX:
            raise ValidationError("model: weight overflow")
        self._set_w(new)
        m.coef_ = new.tolist()
        return pred


class _DenseCentroidOps(_Ops):
    """Nearest centroid (dense) with numpy, exact.

    ``argmin_c sum((c_i - x_i)**2)`` is ``argmin_c |c|**2 - 2 c.x`` (``|x|**2``
    is common): dot products in 16-bit limbs (coordinates below 2**47, inputs
    below 2**31), squared norms as Python ints. The update
    ``tdiv(c * n + x, n + 1)`` runs in int64 while ``|c| * n < 2**62`` and on
    the mirror otherwise.
    """

    def __init__(self, mirror: DenseCentroid, X: Sequence[Sequence[int]] | None):
        super().__init__(mirror, X)
        self._sync()

    def _sync(self) -> None:
        m = self.m
        self.cm = np.array(m.centroids_, dtype=np.int64).reshape(m.num_classes, m.n_features_in_)
        self.limbs = _limbs(self.cm)
        self.norms = [sum(v * v for v in row) for row in m.centroids_]

    def plan(self, X: Sequence[Sequence[int]]) -> Any:
        return np.array(X, dtype=np.int64).reshape(len(X), self.m.n_features_in_)

    def _argmin(self, s0: list, s1: list, s2: list) -> int:
        best, best_c = None, 0
        for c, (a, b, d, q) in enumerate(zip(s0, s1, s2, self.norms)):
            v = q - 2 * (a + (b << 16) + (d << 32))
            if best is None or v < best:  # strictly smaller: ties go to the lower class, as the contract
                best, best_c = v, c
        return best_c

    def run(self, plan: Any) -> np.ndarray:
        l0, l1, l2 = self.limbs
        S0, S1, S2 = (plan @ l0.T).tolist(), (plan @ l1.T).tolist(), (plan @ l2.T).tolist()
        return np.fromiter((self._argmin(a, b, c) for a, b, c in zip(S0, S1, S2)), dtype=np.int64, count=len(S0))

    def step(self, x: Sequence[int], label: int) -> int:
        m = self.m
        label = m._check_label(label)
        if len(x) != m.n_features_in_:
            raise ValidationError("model: wrong input dimension")
        n = m.data_counts_[label]
        if n >= _DC_U64:
            raise ValidationError("model: data count out of range")
        v = _dense_vector(x, m.n_features_in_)
        l0, l1, l2 = self.limbs
        pred = self._argmin((l0 @ v).tolist(), (l1 @ v).tolist(), (l2 @ v).tolist())
        row = self.cm[label]
        if n < 2**62 and int(np.abs(row).max(initial=0)) * n < 2**62:
            new = _tdiv_np(row * n + v, n + 1)
            self.cm[label] = new
            for limb, part in zip(self.limbs, _limbs(new)):
                limb[label] = part
            m.centroids_[label] = new.tolist()
            m.data_counts_[label] = n + 1
            self.norms[label] = sum(c * c for c in m.centroids_[label])
        else:  # pragma: no cover - needs about 2**27 contributions to one class
            m.update(list(x), label)
            self._sync()
        return pred


class _SparseCentroidOps(_Ops):
    """Nearest centroid (sparse), exact: squared norms are kept, not recomputed, and updates are in place.

    The mirror's ``update`` copies a class's sums and recomputes its squared
    norm, and its ``predict`` recomputes every norm unless given them (all
    O(vocabulary)); here the same checks run on the changed entries only.
    The evaluation uses compact feature ids (hashed features: 2**32).
    """

    def __init__(self, mirror: SparseCentroid, X: Sequence[Sequence[int]] | None):
        self.q = mirror.sq_norms_
        super().__init__(mirror, X)

    def plan(self, X: Sequence[Sequence[int]]) -> Any:
        feats = sorted({int(i) for x in X for i in x})
        ids = {f: k for k, f in enumerate(feats)}
        M = _csr([[ids[int(i)] for i in x] for x in X], len(feats), np.int64)
        return feats, M, [len(x) * SCALE * SCALE for x in X]

    def run(self, plan: Any) -> np.ndarray:
        feats, M, L = plan
        m = self.m
        dists = []
        for c, d in enumerate(m.sums_):
            n = m.data_counts_[c]
            if n == 0:
                dists.append(L)
                continue
            v = np.fromiter((d.get(f, 0) for f in feats), dtype=np.int64, count=len(feats))
            t = (M @ v).tolist()  # |sum| <= 512 * 2**47 < 2**63
            q, nn = self.q[c], n * n
            dists.append([tdiv(q - 2 * SCALE * ti * n, nn) + li for ti, li in zip(t, L)])
        out = np.zeros(len(L), dtype=np.int64)
        best = list(dists[0])
        for c in range(1, len(dists)):
            for i, (dc, db) in enumerate(zip(dists[c], best)):
                if dc < db:  # strictly smaller: ties go to the lower class
                    best[i] = dc
                    out[i] = c
        return out

    def predict(self, x: Sequence[int]) -> int:
        return self.m.predict(x, sq_norms=self.q)

    def step(self, x: Sequence[int], label: int) -> int:
        m = self.m
        label = m._check_label(label)
        xs = [int(i) for i in x]
        pred = m.predict(xs, sq_norms=self.q)  # checks xs as the update does (length, order, range)
        d = m.sums_[label]
        get = d.get
        new = []
        dq = 0
        for i in xs:
            v = get(i, 0)
            if v > _SC_SUM_MAX - SCALE:
                raise ValidationError("model: centroid overflow")
            nv = v + SCALE
            dq += nv * nv - v * v
            new.append(nv)
        if m.data_counts_[label] + 1 >= _SC_U64:
            raise ValidationError("model: data count out of range")
        if self.q[label] + dq >= 2**192:
            raise ValidationError("model: centroid overflow")
        for i, nv in zip(xs, new):
            if nv:
                d[i] = nv
            else:
                d.pop(i, None)
        m.data_counts_[label] += 1
        self.q[label] += dq
        return pred


def _ops_for(mirror: ModelMirror, X) -> _Ops:
    if isinstance(mirror, NaiveBayes):
        return _NaiveBayesOps(mirror, X)
    if isinstance(mirror, DensePerceptron):
        return _DensePerceptronOps(mirror, X)
    if isinstance(mirror, DenseCentroid):
        return _DenseCentroidOps(mirror, X)
    if isinstance(mirror, SparseCentroid):
        return _SparseCentroidOps(mirror, X)
    return _Ops(mirror, X)


def _check_inputs(mirror: ModelMirror, X: Iterable[Sequence[int]], what: str) -> list[list[int]]:
    """Encoded inputs as the contract would accept them (ValidationError naming the sample)."""
    out = [[int(v) for v in x] for x in X]
    kind = mirror.input_kind
    nf = mirror.n_features_in_
    for i, x in enumerate(out):
        try:
            if kind == "dense":
                check_dense_input(x, nf)
            elif kind == "tokens":
                check_token_input(x, nf, mirror.max_input)
            else:
                check_sparse_input(x, nf, mirror.max_input)
        except ValidationError as exc:
            raise ValidationError(f"{what}: sample {i}: {exc}") from None
    return out


def _check_evaluation(mirror: ModelMirror, X, y) -> tuple[list[list[int]], np.ndarray]:
    X = _check_inputs(mirror, X, "evaluation")
    y_arr = np.asarray([int(v) for v in y], dtype=np.int64)
    if len(X) != len(y_arr):
        raise ValidationError(f"evaluation: {len(X)} inputs but {len(y_arr)} labels")
    if len(X) == 0:
        raise ValidationError("evaluation: the evaluation set is empty")
    bad = np.flatnonzero((y_arr < 0) | (y_arr >= mirror.num_classes))
    if len(bad):
        i = int(bad[0])
        raise ValidationError(f"evaluation: sample {i}: label {int(y_arr[i])} is not a class index (0..{mirror.num_classes - 1})")
    return X, y_arr


class AccuracyReplay:
    """Accuracy over time of a shared model, by exact replay of its contributions.

        replay = AccuracyReplay(load_model("model.json"), evaluation=(X, y), deploy_time=t0, deploy_block=b0)
        replay.feed(model.contract.events("DataAdded", from_block=model.from_block))   # then only new events
        replay.verify(model)                   # cheap probe: mirror predictions == contract predictions
        replay.series()                        # {available, reason, evaluation_size, points, agreement, ...}
        replay.predict(x)                      # the current model, off chain (exact)
        replay.predict_many(xs)                # many at once (vectorised where the model allows)

    Args:
        initial: the mirror of the model as deployed (the model file); it is
            copied, never changed.
        evaluation: ``(X, y)``: encoded inputs (lists of ints) and class
            indices. Without it there are no accuracy points, only agreement.
            To change it, build a new replay and feed every event again.
        checkpoints: at most this many accuracy points (at least 3).
        window: agreement is the rate over the last ``max(window, spacing)``
            contributions at each point.
        deploy_time, deploy_block: time and block of the point at 0 contributions.
        probes: recent contributions :meth:`verify` asks the contract about.

    Checkpoints: points are kept at every multiple of a spacing ``k`` (a power
    of two, starting at 1) plus the latest count; when there would be more
    than ``checkpoints - 1`` multiples, ``k`` doubles and every other point is
    dropped. ``k`` depends only on the number of contributions, so feeding
    events in any number of batches gives the same points as feeding them at
    once (a batch evaluates only at multiples of the spacing its end needs).
    Feeding is idempotent: events at or before the last one applied (block,
    log index) are skipped, as are events other than ``DataAdded``.
    """

    def __init__(
        self,
        initial: ModelMirror,
        evaluation: tuple[Sequence[Sequence[int]], Sequence[int]] | None = None,
        *,
        checkpoints: int = 60,
        window: int = 100,
        deploy_time: int | None = None,
        deploy_block: int | None = None,
        probes: int = 8,
    ):
        if checkpoints < 3:
            raise ValidationError("checkpoints: at least 3")
        if window < 1:
            raise ValidationError("window: at least 1")
        mirror = initial.copy()
        self._X: list[list[int]] | None = None
        self._y: np.ndarray | None = None
        if evaluation is not None:
            self._X, self._y = _check_evaluation(mirror, *evaluation)
        self._ops = _ops_for(mirror, self._X)
        self.checkpoints = int(checkpoints)
        self.window = int(window)
        self.deploy_time = deploy_time
        self.deploy_block = deploy_block
        self._lock = threading.RLock()
        self._n = 0
        self._stride = 1
        self._last: tuple[int, int] = (-1, -1)
        self._times = array("q")
        self._blocks = array("q")
        self._agree_cum = array("q", [0])
        self._points: dict[int, float] = {}  # contributions -> accuracy (multiples of the stride)
        self._tail: tuple[int, float] | None = None  # accuracy at the latest count, when off the stride
        self._recent: deque[list[int]] = deque(maxlen=max(1, int(probes)))
        self._failed: str | None = None
        self._matches: bool | None = None
        self._mismatch: str | None = None
        if self._X is not None:
            self._points[0] = self._accuracy()

    # ------------------------------------------------------------ state
    @property
    def mirror(self) -> ModelMirror:
        """The replayed model (live: do not change it; ``.copy()`` it to keep one)."""
        return self._ops.m

    @property
    def contributions(self) -> int:
        return self._n

    @property
    def spacing(self) -> int:
        return self._stride

    @property
    def evaluation_size(self) -> int:
        return 0 if self._X is None else len(self._X)

    def predict(self, x: Sequence[int]) -> int:
        """The replayed model's prediction (exact: what the contract's ``predict`` answers when in step)."""
        with self._lock:
            return self._ops.predict(x)

    def predict_many(self, X: Iterable[Sequence[int]]) -> list[int]:
        """The replayed model's predictions for many encoded inputs (exact; vectorised where the model allows)."""
        with self._lock:
            xs = _check_inputs(self._ops.m, X, "x")
            if not xs:
                return []
            return self._ops.run(self._ops.plan(xs)).tolist()

    def _accuracy(self) -> float:
        assert self._y is not None
        return float(np.mean(self._ops.evaluate() == self._y))

    def _stride_for(self, n: int) -> int:
        k = self._stride
        while n // k + 1 > self.checkpoints - 1:
            k *= 2
        return k

    # ------------------------------------------------------------- feed
    def feed(self, events: Iterable[Mapping]) -> int:
        """Apply new ``DataAdded`` events (in chain order); returns how many were applied."""
        with self._lock:
            if self._failed is not None:
                return 0
            new = sorted(
                (e for e in events if e.get("event", "DataAdded") == "DataAdded" and "x" in e and _pos(e) > self._last),
                key=_pos,
            )
            if not new:
                return 0
            stride = self._stride_for(self._n + len(new))
            ops = self._ops
            evaluate = self._X is not None
            applied = 0
            for ev in new:
                x = list(ev["x"])
                try:
                    pred = ops.step(x, int(ev["label"]))
                except ValidationError as exc:
                    log = ev["_log"]
                    self._failed = (
                        f"contribution {self._n + 1} (transaction {log.tx_hash}) cannot be replayed on the initial model: {exc}"
                        " (was the model deployed from another model file?)"
                    )
                    break
                self._n += 1
                applied += 1
                self._last = _pos(ev)
                self._times.append(int(ev.get("added_time", 0)))
                self._blocks.append(int(ev["_log"].block_number))
                self._agree_cum.append(self._agree_cum[-1] + (1 if pred == int(ev["label"]) else 0))
                self._recent.append(x)
                if evaluate and self._n % stride == 0:
                    self._points[self._n] = self._accuracy()
            if stride != self._stride:
                self._stride = stride
                self._points = {c: a for c, a in self._points.items() if c % stride == 0}
            if applied:
                self._tail = None
                self._matches = None
            return applied

    # ----------------------------------------------------------- verify
    def verify(self, chain_predict: Any, *, probes: int | None = None) -> bool:
        """Compare the replayed model's predictions with the contract's on recent contributions.

        ``chain_predict`` is a :class:`~ledgerlearn.shared_models.client.SharedModel`
        (its contract's ``predict`` is called on encoded inputs) or a callable
        ``x -> class index``. Evaluation samples fill in when there are fewer
        contributions than ``probes``. The answer is kept for :meth:`series`
        until more events are fed.
        """
        if hasattr(chain_predict, "contract"):
            contract = chain_predict.contract
            chain_predict = lambda x: contract.call("predict", list(x))  # noqa: E731
        with self._lock:
            xs = list(self._recent)[-(probes or self._recent.maxlen):]
            want = (probes or self._recent.maxlen) - len(xs)
            if want > 0 and self._X is not None:
                xs += self._X[:want]
            bad = 0
            for x in xs:
                try:
                    if int(chain_predict(x)) != self._ops.predict(x):
                        bad += 1
                except LedgerlearnError:
                    bad += 1
            self._matches = bad == 0 and self._failed is None
            self._mismatch = None if bad == 0 else (
                f"the replayed model predicts differently from the contract on {bad} of {len(xs)} probes"
                " (was the model deployed from another model file?)"
            )
            return self._matches

    # ----------------------------------------------------------- series
    def _time(self, c: int) -> int | None:
        return self.deploy_time if c == 0 else int(self._times[c - 1])

    def _block(self, c: int) -> int | None:
        return self.deploy_block if c == 0 else int(self._blocks[c - 1])

    def _agreement(self, c: int) -> dict:
        w = max(self.window, self._stride)
        lo = max(0, c - w)
        rate = (self._agree_cum[c] - self._agree_cum[lo]) / (c - lo)
        return {"time": self._time(c), "block": self._block(c), "contributions": c, "rate": rate, "window": c - lo}

    def series(self) -> dict:
        """``{available, reason, evaluation_size, contributions, spacing, points, agreement, replay_matches_chain}``.

        ``points``: ``[{time, block, contributions, accuracy}]`` at 0, every
        multiple of the spacing and the latest count (time: the ``added_time``
        of the last contribution applied; the deploy time at 0). ``agreement``:
        ``[{time, block, contributions, rate, window}]`` at the same counts
        (except 0): the share of the last ``window`` contributions whose label
        the model predicted just before it was updated with them.
        ``replay_matches_chain`` is None until :meth:`verify` is called after
        the last feed. ``available`` is whether accuracy points can be trusted
        and shown; ``reason`` says why not.
        """
        with self._lock:
            n = self._n
            counts = sorted(self._points) if self._X is not None else list(range(self._stride, n + 1, self._stride))
            points = []
            if self._X is not None:
                if n not in self._points:
                    if self._tail is None or self._tail[0] != n:
                        self._tail = (n, self._accuracy())
                acc = dict(self._points)
                if n not in acc:
                    acc[n] = self._tail[1]  # type: ignore[index]
                    counts.append(n)
                points = [
                    {"time": self._time(c), "block": self._block(c), "contributions": c, "accuracy": acc[c]} for c in counts
                ]
            elif n and (not counts or counts[-1] != n):
                counts.append(n)
            agreement = [self._agreement(c) for c in counts if c > 0]
            reason = None
            if self._failed is not None:
                reason = self._failed
            elif self._matches is False:
                reason = self._mismatch
            elif self._X is None:
                reason = "no evaluation set: attach one (POST /api/models/{model}/evaluation) to see accuracy; agreement needs none"
            matches = None if self._failed is None and self._matches is None else bool(self._matches) and self._failed is None
            return {
                "available": reason is None,
                "reason": reason,
                "evaluation_size": self.evaluation_size,
                "contributions": n,
                "spacing": self._stride,
                "points": points,
                "agreement": agreement,
                "replay_matches_chain": matches,
            }


# ================================================================= balances
class EventClock:
    """Timestamps of events' blocks, learnt from ``added_time`` fields and, failing that, from receipts.

    ``chain.receipt(tx_hash).timestamp`` exists on every ledgerlearn chain
    (the embedded ones keep receipts in memory and in checkpoints; a JSON-RPC
    node answers ``eth_getTransactionReceipt``, plus ``eth_getBlockByNumber``
    when the node does not add ``blockTimestamp``). Lookups are cached per block.
    """

    def __init__(self, chain: Chain | None = None):
        self.chain = chain
        self._by_block: dict[int, int] = {}

    def learn(self, block: int, timestamp: int) -> None:
        self._by_block[int(block)] = int(timestamp)

    def time(self, ev: Mapping) -> int | None:
        log = ev["_log"]
        b = int(log.block_number)
        if "added_time" in ev:
            self._by_block[b] = int(ev["added_time"])
        t = self._by_block.get(b)
        if t is None and self.chain is not None and hasattr(self.chain, "receipt"):
            try:
                t = int(self.chain.receipt(log.tx_hash).timestamp)
            except (LedgerlearnError, KeyError, TypeError, ValueError):
                t = None
            if t is not None and t >= 0:
                self._by_block[b] = t
            else:
                t = None
        return t


#: (event name, account field, sign of the amount field) of a shared model's money events.
_FLOWS = {"DataAdded": ("author", "deposit", -1), "Refund": ("author", "amount", 1), "Report": ("reporter", "amount", 1)}


def _thin(points: list[dict], max_points: int) -> list[dict]:
    """At most ``max_points`` (at least 2) evenly spread points, the first and the last kept."""
    max_points = max(2, int(max_points))
    if len(points) <= max_points:
        return points
    step = (len(points) - 1) / (max_points - 1)
    keep = sorted({round(i * step) for i in range(max_points)} | {len(points) - 1})
    return [points[i] for i in keep]


def balance_series(
    events: Iterable[Mapping],
    *,
    top: int = 10,
    clock: EventClock | None = None,
    max_points: int = 1000,
) -> dict:
    """Each account's cumulative net wei with one shared model, from its events.

    ``-deposit`` at each ``DataAdded`` (its author), ``+amount`` at each
    ``Refund`` (the author) and ``Report`` (the reporter: what it took).
    ``Withdrawal`` changes nothing: it pays out what a failed push had
    credited (the ``Refund``/``Report`` that credited it was counted), and
    excess value sent with ``add_data`` is returned in the same transaction.
    Gas is not counted. Other events are ignored.

    Returns ``{series: [{address, events, net_wei, points: [{time, net_wei}]}],
    accounts, approximate_times}``: the ``top`` accounts with the most events
    (ties: larger wei flow, then address), then, when there are more, an
    ``{"address": "others", "accounts": n, ...}`` series of their sum. Points
    follow each event (same-time events merged: the last value), thinned to
    ``max_points`` per series (the last kept). Times: ``added_time``, or the
    block's timestamp from ``clock`` (:class:`EventClock`); without one (or
    when it cannot tell), the time of the previous event, and
    ``approximate_times`` is true.
    """
    evs = sorted((e for e in events if e.get("event") in _FLOWS), key=_pos)
    clock = clock or EventClock()
    for e in evs:  # learn the blocks DataAdded events date first
        if "added_time" in e:
            clock.learn(e["_log"].block_number, e["added_time"])
    approximate = False
    last_time = 0
    rows: list[tuple[int, str, int]] = []
    for e in evs:
        t = clock.time(e)
        if t is None:
            t, approximate = last_time, True
        last_time = max(last_time, t)
        field, amount_field, sign = _FLOWS[e["event"]]
        rows.append((t, checksum(e[field]), sign * int(e[amount_field])))
    activity: dict[str, list[int]] = {}
    for _, a, v in rows:
        s = activity.setdefault(a, [0, 0])
        s[0] += 1
        s[1] += abs(v)
    ranked = sorted(activity, key=lambda a: (-activity[a][0], -activity[a][1], a.lower()))
    chosen = set(ranked[:top])
    nets: dict[str, int] = {}
    pts: dict[str, list[dict]] = {a: [] for a in ranked[:top]}
    others: list[dict] = []
    others_net = 0

    def push(lst: list[dict], t: int, net: int) -> None:
        if lst and lst[-1]["time"] == t:
            lst[-1]["net_wei"] = net
        else:
            lst.append({"time": t, "net_wei": net})

    for t, a, v in rows:
        nets[a] = nets.get(a, 0) + v
        if a in chosen:
            push(pts[a], t, nets[a])
        else:
            others_net += v
            push(others, t, others_net)
    series = [
        {"address": a, "events": activity[a][0], "net_wei": nets[a], "points": _thin(pts[a], max_points)} for a in ranked[:top]
    ]
    if len(ranked) > top:
        rest = ranked[top:]
        series.append({
            "address": "others", "accounts": len(rest), "events": sum(activity[a][0] for a in rest), "net_wei": others_net,
            "points": _thin(others, max_points),
        })
    return {"series": series, "accounts": len(ranked), "approximate_times": approximate}


# ===================================================================== runs
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,199}$")
_run_cache: dict[str, tuple[tuple, Any]] = {}
_run_cache_lock = threading.Lock()


def _read_record(path: Path) -> tuple[str, Any] | None:
    """``(kind, record)`` for a record file, None for other JSON; ValueError/ValidationError when unreadable."""
    st = path.stat()
    key = (st.st_mtime_ns, st.st_size)
    with _run_cache_lock:
        hit = _run_cache.get(str(path))
    if hit is not None and hit[0] == key:
        return hit[1]
    from ledgerlearn.simulation.bounty import BountyRecord
    from ledgerlearn.simulation.record import SimulationRecord

    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(f"not JSON ({exc})") from None
    out: tuple[str, Any] | None = None
    if isinstance(d, dict) and "scenario" in d and "agents" in d:
        if "passes" in d or "bounty_wei" in d:
            out = ("bounty", BountyRecord.from_dict(d))
        elif "accuracies" in d or "balances" in d:
            out = ("simulation", SimulationRecord.from_dict(d))
        else:
            raise ValidationError("has a scenario and agents but is neither a simulation nor a bounty-market record")
    with _run_cache_lock:
        if len(_run_cache) > 256:
            _run_cache.clear()
        _run_cache[str(path)] = (key, out)
    return out


def _run_title(kind: str, rec: Any) -> str:
    sc = rec.scenario
    if kind == "bounty":
        return f"{sc.get('dataset')} · bounty market · {rec.contributions} contributions · seed {sc.get('seed')}"
    return f"{sc.get('dataset')} · {sc.get('model')} · {str(sc.get('incentive', '')).upper()}"


def _run_summary(path: Path, kind: str, rec: Any) -> dict:
    sc = rec.scenario
    item = {
        "id": path.stem, "file": path.name, "kind": kind, "title": _run_title(kind, rec),
        "dataset": sc.get("dataset"), "contributions": rec.contributions, "modified": path.stat().st_mtime,
    }
    if kind == "bounty":
        item.update(model="perceptron", incentive="bounty market",
                    initial_accuracy=rec.accuracy.get("initial"), final_accuracy=rec.accuracy.get("all_contributions"))
    else:
        item.update(model=sc.get("model"), incentive=sc.get("incentive"),
                    initial_accuracy=rec.initial_accuracy, final_accuracy=rec.final_accuracy)
    return item


def list_runs(runs_dir: str | os.PathLike) -> list[dict]:
    """Simulation and bounty-market records in ``runs_dir`` (``*.json``), newest first.

    Each: ``{id, file, kind ("simulation" | "bounty"), title, dataset, model,
    incentive, contributions, initial_accuracy, final_accuracy, modified}``
    (``modified``: the file's mtime, seconds). JSON files that are not records
    are left out; files that cannot be read, or look like records but are not
    valid ones, are listed as ``{id, file, kind: null, modified, error}``.
    A missing folder lists nothing.
    """
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    out = []
    for path in sorted(root.glob("*.json")):
        if not path.is_file() or not _RUN_ID.match(path.stem):
            continue
        try:
            found = _read_record(path)
        except (OSError, ValueError, TypeError, AttributeError, KeyError, LedgerlearnError) as exc:
            try:
                modified = path.stat().st_mtime
            except OSError:
                modified = None
            out.append({"id": path.stem, "file": path.name, "kind": None, "modified": modified, "error": str(exc)})
            continue
        if found is not None:
            try:
                out.append(_run_summary(path, *found))
            except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
                out.append({"id": path.stem, "file": path.name, "kind": None, "modified": None,
                            "error": f"not a valid record ({exc})"})
    out.sort(key=lambda r: (-(r.get("modified") or 0), r["id"]))
    return out


def _run_path(runs_dir: str | os.PathLike, run_id: str) -> Path:
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id) or ".." in run_id:
        raise ValidationError(f"id: {run_id!r} is not a run id (letters, digits, '.', '_', '-')")
    root = Path(runs_dir).resolve()
    path = (root / f"{run_id}.json").resolve()
    if path.parent != root:
        raise ValidationError(f"id: {run_id!r} is not a run id")
    if not path.is_file():
        raise NotFoundError(f"id: no run {run_id!r} in {str(root)!r}")
    return path


def load_run(runs_dir: str | os.PathLike, run_id: str) -> dict:
    """One record's chart series.

    Both kinds: ``{id, file, kind, title, summary (the list_runs item),
    scenario, agents: [the record's agent summaries], stats: {...}}``, plus

    - simulation: ``accuracy: [{time, accuracy}]`` (virtual seconds since the
      model went live; accuracy in 0..1 on the hidden test set) and
      ``balances: {unit: "units" | "points", unit_wei, series: [{name,
      behaviour, address, points: [{time, balance, percent}]}]}`` (``balance``
      in the scenario's units of ``unit_wei`` wei, or points; ``percent`` of
      the start balance, null under Points);
    - bounty: ``accuracy: {test_samples, initial, all_contributions,
      honest_only}``, ``balances: {unit: "wei", series: [{name, kind, address,
      points: [{pass, balance_wei}]}]}`` (pass 0: deposits, before the reward
      phase), ``by_kind``, ``passes: [{pass, rounds_applied, rounds_left,
      dropped: [{participant, agent, kind, balance_wei, forfeited_wei}]}]``
      and ``provider: {address, bounty_wei, bounty_left_wei, net_wei}``.

    Raises ValidationError for a bad id (path traversal included) or a file
    that is not a valid record, NotFoundError for an unknown id.
    """
    path = _run_path(runs_dir, run_id)
    try:
        found = _read_record(path)
    except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise ValidationError(f"id: run {run_id!r} cannot be read: {exc}") from None
    if found is None:
        raise NotFoundError(f"id: {path.name} is not a simulation or bounty-market record")
    kind, rec = found
    base = {
        "id": path.stem, "file": path.name, "kind": kind, "title": _run_title(kind, rec),
        "summary": _run_summary(path, kind, rec), "scenario": copy.deepcopy(rec.scenario),
        "agents": [asdict(a) for a in rec.agents],
    }
    if kind == "simulation":
        points = rec.scenario.get("incentive") == "points"
        series = []
        for a in rec.agents:
            pts = rec.balances.get(a.name, [])
            series.append({
                "name": a.name, "behaviour": a.behaviour, "address": a.address,
                "points": [{"time": t, "balance": b, "percent": None if points or not a.start else 100.0 * b / a.start}
                           for t, b in pts],
            })
        base.update(
            accuracy=[{"time": t, "accuracy": v} for t, v in rec.accuracies],
            balances={"unit": "points" if points else "units", "unit_wei": rec.scenario.get("unit_wei"), "series": series},
            stats={
                "initial_accuracy": rec.initial_accuracy, "final_accuracy": rec.final_accuracy, "n_train": rec.n_train,
                "n_test": rec.n_test, "n_init": rec.n_init, "transactions": rec.transactions, "gas_total": rec.gas_total,
                "gas_exact": rec.gas_exact, "reverted": rec.reverted, "virtual_seconds": rec.virtual_seconds,
                "wall_seconds": rec.wall_seconds, "contract_balance_wei": rec.contract_balance_wei,
                "unclaimed_deposits_wei": rec.unclaimed_deposits_wei, "mirror_mismatches": rec.mirror_mismatches,
                "address": rec.address,
            },
        )
        return base
    series = [
        {"name": a.name, "kind": a.kind, "address": a.address,
         "points": [{"pass": i, "balance_wei": int(v)} for i, v in enumerate(rec.balances.get(a.name, []))]}
        for a in rec.agents
    ]
    passes = [
        {"pass": p.get("pass"), "rounds_applied": p.get("rounds_applied"), "rounds_left": p.get("rounds_left"),
         "dropped": [{"participant": d.get("participant"), "agent": d.get("agent"), "kind": d.get("kind"),
                      "balance_wei": d.get("balance"), "forfeited_wei": d.get("forfeited")} for d in p.get("dropped", [])]}
        for p in rec.passes
    ]
    base.update(
        accuracy={"test_samples": rec.accuracy.get("test_samples", rec.n_test),
                  **{k: rec.accuracy.get(k) for k in ("initial", "all_contributions", "honest_only")}},
        balances={"unit": "wei", "series": series},
        by_kind=rec.by_kind(),
        passes=passes,
        provider={"address": rec.provider, "bounty_wei": rec.bounty_wei, "bounty_left_wei": rec.bounty_left_wei,
                  "net_wei": rec.bounty_left_wei - rec.bounty_wei},
        stats={
            "n_init": rec.n_init, "n_test": rec.n_test, "n_scored": rec.n_scored, "participants": rec.participants,
            "rounds_total": rec.rounds_total, "rounds_left": rec.rounds_left, "transactions": rec.transactions,
            "gas_exact": rec.gas_exact, "gas_totals": copy.deepcopy(rec.gas_totals), "mirror_agrees": rec.mirror_agrees,
            "virtual_seconds": rec.virtual_seconds, "address": rec.address, "engine": rec.engine,
        },
    )
    return base


# ================================================================== markets
#: Record kinds (``"kind"`` in a market record; bounty records have none).
MARKET_KINDS = ("bounty", "data-market", "training-market")


def market_kind(rec: Mapping) -> str:
    """A market record's kind (records the bounty CLI wrote carry none)."""
    kind = rec.get("kind") or "bounty"
    if kind in ("bounty", "bounty-market"):
        return "bounty"
    if kind not in MARKET_KINDS:
        raise ValidationError(f"market: unknown market kind {kind!r} (known: {', '.join(MARKET_KINDS)})")
    return kind


def _bits(mask: int) -> list[int]:
    return [i for i in range(int(mask).bit_length()) if mask >> i & 1]


def market_rounds(chain: Chain, name: str | None, rec: Mapping, *, clock: EventClock | None = None) -> dict:
    """A recorded market and its rounds, from its events (plus a few views for the current state).

    ``rec`` is the market's record (``MarketRecords``: ``{kind?, address,
    deploy_block?, ...}``). Returns ``{name, kind, address, phase, summary,
    rounds, timeline}``; money is integer wei (``*_wei``), times are block
    timestamps (null when unknown). What a round is depends on the kind:

    - bounty: a pass of the reward phase (``PassSettled``): ``{round, pass,
      state, time, rounds_applied, rounds_left, evaluations: [{contribution,
      correct, accuracy}], accuracy (the pass's last evaluation), dropped:
      [{participant, balance_wei, forfeited_wei}]}``; bounty rounds are paid
      in bulk per pass, and per-participant payments are not in the events
      (only drop-outs and the final ``Withdrawn`` amounts).
    - data-market: a training round: ``{round, state, time, keys_deadline,
      submit_deadline, recover_deadline, keys_posted, submitted, dropped,
      recovered, groups_valid, groups_kept, groups_rejected, kept_groups,
      paid, paid_wei, forfeited, forfeited_wei, finalized_time}``.
    - training-market: a round of a couple (model x dataset): ``{couple,
      round, state, time, subsets, jobs, updates, passed, fraud, missing,
      paid_wei, licence_paid_wei, settled_subsets: [{subset, agreeing}]}``.

    No kind records accuracy on chain except the bounty market's test-set
    evaluations. Raises NotFoundError when the chain has no contract there.
    """
    kind = market_kind(rec)
    address = checksum(rec.get("address", ""))
    code = getattr(chain, "code", None)
    if code is not None and not code(address):
        raise NotFoundError(f"market: {name or address!r} is recorded at {address}, but this chain has no contract there")
    clock = clock or EventClock(chain)
    from_block = int(rec.get("deploy_block") or 0)
    if kind == "bounty":
        body = _bounty_rounds(chain, address, from_block, clock)
    elif kind == "data-market":
        body = _data_market_rounds(chain, address, from_block, clock)
    else:
        body = _training_rounds(chain, address, from_block, clock)
    return {"name": name, "kind": kind, "address": address, **body}


def _timeline(events: list[dict], names: Mapping[str, Callable[[dict], dict]], clock: EventClock) -> list[dict]:
    out = []
    for e in events:
        f = names.get(e["event"])
        if f is not None:
            out.append({"event": e["event"], "time": clock.time(e), "block": e["_log"].block_number, **f(e)})
    return out


def _bounty_rounds(chain: Chain, address: str, from_block: int, clock: EventClock) -> dict:
    from ledgerlearn.markets.bounty.client import PHASES, BountyMarket

    market = BountyMarket(chain, address)
    evs = market.contract.events(None, from_block=from_block)
    st = {n: market.call(n) for n in ("phase", "bounty", "bounty_left", "num_contributions", "num_participants",
                                        "active_participants", "test_samples", "rounds_left", "pass_number",
                                        "initial_correct", "min_stake", "group_contributions", "reset_model")}
    test_samples = 0
    rounds_total = None
    contributions = deposits = 0
    contributors: set[str] = set()
    withdrawals: dict[str, int] = {}
    passes: list[dict] = []
    current: dict | None = None
    initial_correct = None

    def new_pass(number: int) -> dict:
        return {"round": number, "pass": number, "state": "in progress", "time": None, "rounds_applied": None,
                "rounds_left": None, "evaluations": [], "accuracy": None, "dropped": []}

    for e in evs:
        name = e["event"]
        if name == "Contributed":
            contributions += 1
            deposits += int(e["deposit"])
            contributors.add(e["contributor"])
        elif name == "RewardStarted":
            test_samples, rounds_total = int(e["test_samples"]), int(e["rounds"])
        elif name == "Evaluated":
            acc = int(e["correct"]) / test_samples if test_samples else None
            if int(e["purpose"]) == 0:
                initial_correct = int(e["correct"])
                continue
            if current is None:
                current = new_pass(len(passes) + 1)
            current["evaluations"].append({"contribution": int(e["contribution"]), "correct": int(e["correct"]), "accuracy": acc})
            current["accuracy"] = acc
        elif name == "Dropped":
            if current is None:
                current = new_pass(len(passes) + 1)
            current["dropped"].append({"participant": int(e["participant"]), "balance_wei": int(e["balance"]),
                                       "forfeited_wei": int(e["forfeited"])})
        elif name == "PassSettled":
            p = current or new_pass(int(e["pass_number"]))
            p.update(round=int(e["pass_number"]), **{"pass": int(e["pass_number"])}, state="settled", time=clock.time(e),
                     rounds_applied=int(e["rounds_applied"]), rounds_left=int(e["rounds_left"]))
            passes.append(p)
            current = None
        elif name == "Withdrawn":
            withdrawals[e["account"]] = withdrawals.get(e["account"], 0) + int(e["amount"])
    if current is not None:
        passes.append(current)
    phase = PHASES[st["phase"]] if st["phase"] < len(PHASES) else str(st["phase"])
    summary = {
        "phase": phase, "bounty_wei": st["bounty"], "bounty_left_wei": st["bounty_left"], "min_stake_wei": st["min_stake"],
        "contributions": contributions, "contributors": len(contributors), "deposits_wei": deposits,
        "participants": st["num_participants"], "active_participants": st["active_participants"],
        "test_samples": test_samples or st["test_samples"], "rounds_total": rounds_total, "rounds_left": st["rounds_left"],
        "passes": len([p for p in passes if p["state"] == "settled"]),
        "initial_correct": initial_correct,
        "initial_accuracy": (initial_correct / test_samples) if initial_correct is not None and test_samples else None,
        "group_contributions": st["group_contributions"], "reset_model": st["reset_model"],
        "withdrawn_wei": sum(withdrawals.values()),
        "withdrawals": [{"account": a, "amount_wei": v} for a, v in withdrawals.items()],
    }
    timeline = _timeline(evs, {
        "IndexDrawn": lambda e: {"index": int(e["index"])},
        "MarketEnded": lambda e: {"contributions": int(e["contributions"]), "reveal_deadline": int(e["reveal_deadline"])},
        "RewardStarted": lambda e: {"test_samples": int(e["test_samples"]), "rounds": int(e["rounds"])},
        "Finished": lambda e: {"bounty_left_wei": int(e["bounty_left"])},
        "Failed": lambda e: {"share_per_contribution_wei": int(e["share_per_contribution"])},
        "Cancelled": lambda e: {"bounty_wei": int(e["bounty"])},
    }, clock)
    return {"phase": phase, "summary": summary, "rounds": passes, "timeline": timeline}


def _data_market_rounds(chain: Chain, address: str, from_block: int, clock: EventClock) -> dict:
    from ledgerlearn.markets.data.client import PHASES, DataMarketTask

    task = DataMarketTask(chain, address)
    evs = task.contract.events(None, from_block=from_block)
    rounds: dict[int, dict] = {}

    def rnd(r: int) -> dict:
        r = int(r)
        if r not in rounds:
            rounds[r] = {"round": r, "state": "open", "time": None, "keys_deadline": None, "submit_deadline": None,
                         "recover_deadline": None, "keys_posted": 0, "submitted": 0, "dropped": 0, "recovered": 0,
                         "groups_valid": None, "groups_kept": None, "groups_rejected": None, "kept_groups": [],
                         "paid": 0, "paid_wei": 0, "forfeited": 0, "forfeited_wei": 0, "finalized_time": None,
                         "_keyed": set(), "_submitted": set()}
        return rounds[r]

    registered = 0
    groups = None
    withdrawn = 0
    for e in evs:
        name = e["event"]
        if name == "Registered":
            registered += 1
        elif name == "Started":
            groups = int(e["groups"])
        elif name == "RoundStarted":
            r = rnd(e["round"])
            r.update(time=clock.time(e), keys_deadline=int(e["keys_deadline"]), submit_deadline=int(e["submit_deadline"]),
                     recover_deadline=int(e["recover_deadline"]))
        elif name == "KeysPosted":
            rnd(e["round"])["_keyed"].add(e["member"])
        elif name == "Submitted":
            rnd(e["round"])["_submitted"].add(e["member"])
        elif name == "Recovered":
            rnd(e["round"])["recovered"] += 1
        elif name == "Paid":
            r = rnd(e["round"])
            r["paid"] += 1
            r["paid_wei"] += int(e["amount"])
        elif name == "Forfeited":
            r = rnd(e["round"])
            r["forfeited"] += 1
            r["forfeited_wei"] += int(e["amount"])
        elif name == "RoundFinalized":
            r = rnd(e["round"])
            valid, kept = int(e["valid"]), int(e["kept"])
            r.update(state="finalized", finalized_time=clock.time(e), groups_valid=len(_bits(valid)),
                     groups_kept=len(_bits(kept)), groups_rejected=len(_bits(valid & ~kept)), kept_groups=_bits(kept))
        elif name == "Withdrawn":
            withdrawn += int(e["amount"])
    out_rounds = []
    for r in sorted(rounds):
        d = rounds[r]
        keyed, submitted = d.pop("_keyed"), d.pop("_submitted")
        d["keys_posted"], d["submitted"] = len(keyed), len(submitted)
        d["dropped"] = len(keyed - submitted)
        out_rounds.append(d)
    phase_i = task.phase()
    phase = PHASES[phase_i] if phase_i < len(PHASES) else str(phase_i)
    c = task.call
    summary = {
        "phase": phase, "registered": registered, "groups": groups, "rounds_total": c("rounds"),
        "current_round": c("current_round"), "max_dos": c("max_dos"), "min_dos": c("min_dos"),
        "reward_wei": c("reward"), "deposit_wei": c("deposit"), "escrow_left_wei": c("escrow_left"),
        "paid_wei": sum(d["paid_wei"] for d in out_rounds), "forfeited_wei": sum(d["forfeited_wei"] for d in out_rounds),
        "withdrawn_wei": withdrawn,
    }
    timeline = _timeline(evs, {
        "Started": lambda e: {"groups": int(e["groups"])},
        "Failed": lambda e: {"registered": int(e["registered"])},
        "Cancelled": lambda e: {"escrow_wei": int(e["escrow"])},
        "Closed": lambda e: {"escrow_returned_wei": int(e["escrow_returned"])},
    }, clock)
    return {"phase": phase, "summary": summary, "rounds": out_rounds, "timeline": timeline}


def _training_rounds(chain: Chain, address: str, from_block: int, clock: EventClock) -> dict:
    from ledgerlearn.markets.training.client import COUPLE_STATUS, RESULT_STATUS, TrainingMarket

    market = TrainingMarket(chain, address)
    evs = market.events(None, from_block=from_block)
    couples: dict[str, dict] = {}
    rounds: dict[tuple[str, int], dict] = {}
    datasets = models = 0
    withdrawn = 0

    def rnd(cid: str, r: int) -> dict:
        key = (cid, int(r))
        if key not in rounds:
            rounds[key] = {"couple": cid, "round": int(r), "state": "requested", "time": None, "subsets": [], "jobs": 0,
                           "updates": 0, "passed": 0, "fraud": 0, "missing": 0, "paid_wei": 0, "licence_paid_wei": 0,
                           "settled_subsets": [], "closed_time": None}
        return rounds[key]

    for e in evs:
        name = e["event"]
        cid = hex_str(e["couple_id"]) if "couple_id" in e else None
        if name == "DatasetRegistered":
            datasets += 1
        elif name == "ModelRegistered":
            models += 1
        elif name == "CoupleRequested":
            couples[cid] = {"couple": cid, "model": hex_str(e["model_id"]), "dataset": hex_str(e["dataset_id"]), "model_owner": e["mo"],
                            "rounds": int(e["rounds"]), "picks": int(e["picks"]), "escrow_wei": int(e["escrow"]),
                            "status": "requested", "refund_wei": None, "time": clock.time(e)}
        elif name == "CoupleApproved" and cid in couples:
            couples[cid]["status"] = "active"
            couples[cid]["jobs"] = len(_bits(int(e["job_mask"])))
        elif name == "CoupleClosed" and cid in couples:
            s = int(e["status"])
            couples[cid]["status"] = COUPLE_STATUS[s] if s < len(COUPLE_STATUS) else str(s)
            couples[cid]["refund_wei"] = int(e["refund"])
        elif name == "RoundRequested":
            r = rnd(cid, e["round"])
            r["time"] = clock.time(e)
        elif name == "RoundStarted":
            r = rnd(cid, e["round"])
            r.update(state="training", subsets=_bits(int(e["subsets"])), jobs=int(e["jobs"]))
            if r["time"] is None:
                r["time"] = clock.time(e)
        elif name == "JobUpdated":
            rnd(cid, e["round"])["updates"] += 1
        elif name == "RoundComplete":
            r = rnd(cid, e["round"])
            if r["state"] != "closed":
                r["state"] = "complete"
        elif name == "JobSettled":
            r = rnd(cid, e["round"])
            s = int(e["status"])
            status = RESULT_STATUS[s] if s < len(RESULT_STATUS) else str(s)
            if status in ("passed", "fraud", "missing"):
                r[status] += 1
            r["paid_wei"] += int(e["paid"])
        elif name == "SubsetSettled":
            rnd(cid, e["round"])["settled_subsets"].append({"subset": int(e["subset"]), "agreeing": int(e["agreeing"])})
        elif name == "RoundClosed":
            r = rnd(cid, e["round"])
            r.update(state="closed", licence_paid_wei=int(e["licence_paid"]), closed_time=clock.time(e))
        elif name == "Withdrawal":
            withdrawn += int(e["amount"])
    for cid, c in couples.items():
        try:
            cur = market.couple(bytes.fromhex(cid[2:]))
            c["status"], c["round"], c["phase"], c["escrow_left_wei"] = cur.status, cur.round, cur.phase, cur.escrow
        except (LedgerlearnError, ValueError, IndexError):
            pass
    out_rounds = [rounds[k] for k in sorted(rounds, key=lambda k: (couples.get(k[0], {}).get("time") or 0, k[0], k[1]))]
    summary = {
        "datasets": datasets, "models": models, "couples": list(couples.values()),
        "paid_wei": sum(r["paid_wei"] + r["licence_paid_wei"] for r in out_rounds), "withdrawn_wei": withdrawn,
        "contract_balance_wei": chain.balance(address),
    }
    active = any(c.get("status") in ("requested", "active") for c in couples.values())
    return {"phase": "active" if active else ("idle" if couples else "open"), "summary": summary, "rounds": out_rounds,
            "timeline": []}
