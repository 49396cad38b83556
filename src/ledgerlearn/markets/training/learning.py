"""Plaintext side of the training market: skewed split, public features, deterministic local training.

The data owner (DO) cuts the training set into ``m`` *skewed* subsets
(:func:`skewed_split`): every subset lacks at least one class and no class
holds more than half of a subset. Each subset is replicated to several cloud
owners (COs). The model owner (MO) trains a linear classifier ``W`` (``d x
C``, float64) on the public features of :class:`FeatureMap` by federated
rounds: every replica of a chosen subset runs :func:`local_train` and returns
:func:`encode_model` bytes, the MO keeps the majority *by hash* and averages
the subset models (:func:`fedavg`).

Majority by hash needs local training to be a pure function of its input
bytes, on any machine. So nothing here depends on BLAS summation order, thread
count or CPU kernel:

* features are multiples of ``2**-12`` in ``[0, 1)`` computed from integer
  pixels and an integer projection, so every sum of products (the projection,
  ``X^T X``, ``X^T Y``) is an integer below ``2**53``, exact in float64 in any
  order;
* the only inexact products (the ``K`` gradient steps and, for the encrypted
  mode, the powers of the step matrix) go through :func:`exact_order_matmul`,
  whose summation order is fixed, built from elementwise IEEE-754 multiplies
  and adds that every CPU rounds the same way.

The training method (:class:`TrainingMethod`) is least-squares gradient
descent onto one-hot targets, ``W <- W - lr * ((X^T X W - X^T Y) / N + ridge * W)``
for ``steps`` full-batch steps: an affine map of ``W`` (:func:`affine_map`),
which is what lets a CO apply it to an encrypted model (:mod:`.he`).

Measured on MNIST (``FeatureMap()``, d = 384): the closed-form least-squares
fit on all 60,000 training images reaches 91.5% test accuracy (raw pixels:
about 86%). Federated figures are in :class:`TrainingMethod` and the tests.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ledgerlearn.errors import ValidationError

__all__ = [
    "FEATURE_BITS", "AffineMap", "FeatureMap", "FederatedRun", "TrainingMethod", "accuracy", "affine_map", "check_skew",
    "decode_model", "encode_model", "exact_order_matmul", "fedavg", "local_train", "one_hot", "skewed_split",
    "train_federated",
]

FEATURE_BITS = 12  # features are multiples of 2**-12 in [0, 1)
_FEATURE_ONE = 1 << FEATURE_BITS
_MAX_SAMPLES = 1 << 29  # keeps every entry of X^T X (in 2**-24 units) below 2**53, so it is exact
MODEL_MAGIC = b"LLTRAINW"


# --------------------------------------------------------------------------- split

def skewed_split(labels, m: int, *, seed: int, classes_per_subset: int | None = None) -> list[np.ndarray]:
    """``m`` disjoint skewed subsets of the indices of ``labels`` (sorted int64 arrays), deterministic from ``seed``.

    Subset ``i`` holds ``k_i`` of the ``C`` classes present in ``labels``, with
    ``max(2, ceil(C / m)) <= k_i <= C - 1`` drawn at random (or all equal to
    ``classes_per_subset``). Classes are dealt so that every class is held by at
    least one subset. The samples of a class are shuffled and divided among its
    holders; a subset takes the *same* number of samples from each of its
    classes (the smallest fair share among them), so every class is exactly
    ``1/k_i <= 1/2`` of it. Samples left over are used by no subset.
    """
    labels = np.asarray(labels)
    classes = np.unique(labels)
    n_cls = len(classes)
    if n_cls < 3:
        raise ValidationError(f"skewed_split needs at least 3 classes, got {n_cls}")
    if not isinstance(m, (int, np.integer)) or m < 2:
        raise ValidationError(
            f"m must be an integer >= 2 (one subset cannot both lack a class and cover all), got {m!r}")
    rng = np.random.default_rng(seed)
    if classes_per_subset is None:
        k_min = max(2, math.ceil(n_cls / m))
        ks = rng.integers(k_min, n_cls, size=m)  # k in [k_min, C-1]
    else:
        k = int(classes_per_subset)
        if not 2 <= k <= n_cls - 1 or m * k < n_cls:
            raise ValidationError(
                f"classes_per_subset must be in [2, {n_cls - 1}] and m * classes_per_subset >= {n_cls}, "
                f"got {k} with m={m}")
        ks = np.full(m, k)
    held: list[list[int]] = [[] for _ in range(m)]
    for c in rng.permutation(n_cls):  # coverage first: each class to a subset with the most room left
        room = np.array([ks[i] - len(held[i]) for i in range(m)])
        held[int(rng.choice(np.flatnonzero(room == room.max())))].append(int(c))
    for i in range(m):  # then fill every subset up to k_i with other classes
        others = np.array([c for c in range(n_cls) if c not in held[i]])
        held[i] += [int(c) for c in rng.choice(others, size=int(ks[i]) - len(held[i]), replace=False)]
    holders = [[i for i in range(m) if c in held[i]] for c in range(n_cls)]
    pools = [rng.permutation(np.flatnonzero(labels == classes[c])) for c in range(n_cls)]
    share = [len(pools[c]) // len(holders[c]) for c in range(n_cls)]
    per_class = [min(share[c] for c in held[i]) for i in range(m)]
    parts: list[list[np.ndarray]] = [[] for _ in range(m)]
    for c in range(n_cls):
        start = 0
        for i in holders[c]:
            parts[i].append(pools[c][start:start + per_class[i]])
            start += per_class[i]
    return [np.sort(np.concatenate(p)).astype(np.int64) for p in parts]


def check_skew(labels, subsets: Sequence[np.ndarray], n_classes: int, *, max_fraction: float = 0.5) -> None:
    """Raise :class:`~ledgerlearn.errors.ValidationError` (a ``ValueError``) unless ``subsets`` is a valid skewed split.

    Valid: every subset is non-empty, lacks at least one of the ``n_classes``
    classes and has no class above ``max_fraction`` of its samples; no index is
    used twice; every class appears in some subset.
    """
    labels = np.asarray(labels)
    seen = np.zeros(len(labels), dtype=bool)
    covered = np.zeros(n_classes, dtype=bool)
    for i, s in enumerate(subsets):
        s = np.asarray(s)
        if len(s) == 0:
            raise ValidationError(f"subset {i} is empty")
        if s.min() < 0 or s.max() >= len(labels):
            raise ValidationError(f"subset {i} has indices outside [0, {len(labels)})")
        if len(np.unique(s)) != len(s) or seen[s].any():
            raise ValidationError(f"subset {i} reuses a training index (subsets must be disjoint, no repeats)")
        seen[s] = True
        counts = np.bincount(labels[s], minlength=n_classes)
        if (counts > 0).all():
            raise ValidationError(f"subset {i} holds all {n_classes} classes; a skewed subset must lack one")
        top = int(counts.argmax())
        if counts[top] > max_fraction * len(s):
            raise ValidationError(
                f"subset {i} is dominated by class {top}: {counts[top]} of {len(s)} samples "
                f"({counts[top] / len(s):.0%} > {max_fraction:.0%})")
        covered |= counts > 0
    if not covered.all():
        raise ValidationError(f"classes {np.flatnonzero(~covered).tolist()} are in no subset")


# --------------------------------------------------------------------------- features

@lru_cache(maxsize=8)
def _projection(seed: int, n_in: int, n_out: int, weight_range: int) -> np.ndarray:
    # integers() is pure integer arithmetic: the same matrix on every platform
    p = np.random.default_rng(seed).integers(-weight_range, weight_range + 1, size=(n_in, n_out))
    p = p.astype(np.float64)
    p.flags.writeable = False
    return p


@dataclass(frozen=True)
class FeatureMap:
    """A public, seeded map from 8-bit images to ``d`` features in ``[0, 1)`` (the last a constant ``bias``).

    ``phi(x) = min(floor(relu(P (x - pixel_offset)) / 2**shift), 2**12 - 1) / 2**12``
    with ``P`` a random integer matrix (entries uniform in ``[-weight_range,
    weight_range]``, from ``seed``). Random ReLU features make the linear model
    nonlinear in the pixels; quantising them to 12 bits makes every later sum
    of products exact (see the module docstring). ``pixel_offset`` (33, about
    the mean MNIST intensity) roughly centres the projections, and the small
    ``bias`` feature keeps the top eigenvalue of ``X^T X / N`` low; both speed
    up gradient descent. ``d * n_classes`` must fit the CKKS slots (4096 at
    ring degree 8192): ``d = 384`` with 10 classes.
    """

    d: int = 384
    seed: int = 0
    weight_range: int = 4
    pixel_offset: int = 33
    shift: int = 4
    bias: float = 0.25

    def __post_init__(self):
        if self.d < 2:
            raise ValidationError(f"FeatureMap.d must be >= 2, got {self.d}")
        if not 0 <= self.pixel_offset <= 255 or not 1 <= self.weight_range <= 64:
            raise ValidationError("FeatureMap.pixel_offset must be in [0, 255] and weight_range in [1, 64]")
        if self.bias * _FEATURE_ONE != round(self.bias * _FEATURE_ONE) or not 0 < self.bias <= 1:
            raise ValidationError(
                f"FeatureMap.bias must be a multiple of 2**-{FEATURE_BITS} in (0, 1], got {self.bias}")

    def __call__(self, images) -> np.ndarray:
        """Features ``(n, d)`` float64 of ``images`` (``(n, 28, 28)`` or ``(n, pixels)``, integers in [0, 255])."""
        x = np.asarray(images)
        x = x.reshape(len(x), -1)
        if x.size and (x.min() < 0 or x.max() > 255 or not np.array_equal(x, np.round(x))):
            raise ValidationError("FeatureMap expects integer pixel values in [0, 255]")
        p = _projection(self.seed, x.shape[1], self.d - 1, self.weight_range)
        # integers below 2**53: exact whatever order BLAS sums in
        z = (x.astype(np.float64) - self.pixel_offset) @ p
        q = np.minimum(np.floor(np.maximum(z, 0.0) / 2.0 ** self.shift), _FEATURE_ONE - 1)
        return np.hstack([q / _FEATURE_ONE, np.full((len(x), 1), self.bias)])


def one_hot(y, n_classes: int) -> np.ndarray:
    """``(n, n_classes)`` float64 one-hot targets of the integer labels ``y``."""
    y = np.asarray(y)
    return (y[:, None] == np.arange(n_classes)[None, :]).astype(np.float64)


# --------------------------------------------------------------------------- training

@dataclass(frozen=True)
class TrainingMethod:
    """Least-squares full-batch gradient descent onto one-hot targets.

    ``steps`` steps of ``W <- W - lr * ((X^T X W - X^T Y) / N + ridge * W)``.
    With ``local_classes_only`` (as FedRS, Li & Zhan 2021) a CO only changes
    the columns of ``W`` of the classes its subset holds and returns the others
    unchanged. On skewed subsets plain FedAvg forgets the classes that the
    round's subsets lack; restricted, it keeps them. Full MNIST, 5 skewed
    subsets, 5 rounds of 2 random subsets, defaults otherwise, 3 seeds: 74-87%
    test accuracy after round 5 restricted, 62-81% unrestricted (rounds vary a
    lot with which subsets are drawn).

    Stable when ``lr * (lambda_max(X^T X / N) + ridge) < 2``; with the
    :class:`FeatureMap` defaults ``lambda_max`` is 0.75-0.86 on MNIST subsets.
    :meth:`to_json` is canonical (sorted keys, shortest float repr), so its
    hash can name the method on chain.
    """

    steps: int = 100
    lr: float = 1.5
    ridge: float = 0.0
    local_classes_only: bool = True

    KIND = "lsq-gd"

    def __post_init__(self):
        integral = isinstance(self.steps, (int, np.integer)) and not isinstance(self.steps, bool)
        if not integral or not 1 <= self.steps <= 1 << 20:
            raise ValidationError(f"TrainingMethod.steps must be an integer in [1, 2**20], got {self.steps!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValidationError(f"TrainingMethod.lr must be a positive number, got {self.lr!r}")
        if not (math.isfinite(self.ridge) and self.ridge >= 0):
            raise ValidationError(f"TrainingMethod.ridge must be >= 0, got {self.ridge!r}")
        if not isinstance(self.local_classes_only, bool):
            raise ValidationError(f"TrainingMethod.local_classes_only must be a bool, got {self.local_classes_only!r}")

    def to_json(self) -> str:
        """Canonical JSON: ``{"kind":"lsq-gd","local_classes_only":...,"lr":...,"ridge":...,"steps":...}``."""
        obj = {"kind": self.KIND, "steps": int(self.steps), "lr": float(self.lr), "ridge": float(self.ridge),
               "local_classes_only": self.local_classes_only}
        return json.dumps(obj, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> TrainingMethod:
        """Inverse of :meth:`to_json`; rejects another kind, missing or unknown keys."""
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        keys = {"kind", "steps", "lr", "ridge", "local_classes_only"}
        if not isinstance(obj, dict) or obj.get("kind") != cls.KIND or set(obj) != keys:
            raise ValidationError(f"not a {cls.KIND} training method: {text!r}")
        return cls(steps=obj["steps"], lr=float(obj["lr"]), ridge=float(obj["ridge"]),
                   local_classes_only=obj["local_classes_only"])

    def __str__(self) -> str:
        return (f"{self.KIND}(steps={self.steps},lr={float(self.lr)!r},ridge={float(self.ridge)!r},"
                f"local_classes_only={self.local_classes_only})")


def exact_order_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` summed in a fixed order (``k = 0, 1, ...``), bit-identical on every IEEE-754 machine.

    BLAS picks its summation order (and fused multiply-adds) by CPU kernel and
    thread count; here each term is one correctly rounded multiply and one
    correctly rounded add, and column ``j`` of the result depends only on
    column ``j`` of ``b``. About 40 ms for 384 x 384 x 384.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    out = np.zeros((a.shape[0], b.shape[1]))
    tmp = np.empty_like(out)
    for k in range(a.shape[1]):
        np.multiply(a[:, k:k + 1], b[k:k + 1, :], out=tmp)
        np.add(out, tmp, out=out)
    return out


def _targets(Y, n_classes: int) -> np.ndarray:
    Y = np.asarray(Y)
    return one_hot(Y, n_classes) if Y.ndim == 1 else Y.astype(np.float64)


def _step_map(X, Y, method: TrainingMethod, n_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(M, B, trained)``: one step is ``W -> M W + B`` on the columns ``trained``; validates the inputs."""
    X = np.asarray(X, dtype=np.float64)
    Y = _targets(Y, n_classes)
    if X.ndim != 2:
        raise ValidationError(f"features must be a 2-D array, got shape {X.shape}")
    n, d = X.shape
    if Y.shape != (n, n_classes):
        raise ValidationError(f"targets must be ({n}, {n_classes}) one-hot or ({n},) labels, got {Y.shape}")
    if not 0 < n < _MAX_SAMPLES:
        raise ValidationError(f"local training needs 1 to 2**29 - 1 samples, got {n}")
    scaled = X * _FEATURE_ONE
    if X.min() < 0 or X.max() > 1 or not np.array_equal(scaled, np.floor(scaled)):
        raise ValidationError(f"features must be multiples of 2**-{FEATURE_BITS} in [0, 1] (use FeatureMap)")
    if not np.isin(Y, (0.0, 1.0)).all():
        raise ValidationError("targets must be one-hot (0/1)")
    trained = Y.any(axis=0) if method.local_classes_only else np.ones(n_classes, dtype=bool)
    gram = X.T @ X  # exact: integer multiples of 2**-24 below 2**53 (see _MAX_SAMPLES)
    xty = X.T @ Y[:, trained]  # exact for the same reason
    eta = method.lr / n
    M = -eta * gram
    M[np.diag_indices(d)] += 1.0 - method.lr * method.ridge
    return M, eta * xty, trained


def local_train(W, X, Y, method: TrainingMethod) -> np.ndarray:
    """``W`` after ``method.steps`` full-batch least-squares steps on features ``X`` and targets ``Y``.

    ``X``: ``(N, d)`` :class:`FeatureMap` features; ``Y``: ``(N, C)`` one-hot or
    ``(N,)`` labels. A pure function of its inputs' values: equal inputs give
    bit-identical output on any machine (see the module docstring).
    """
    W = np.array(W, dtype=np.float64)
    M, B, trained = _step_map(X, Y, method, W.shape[1] if W.ndim == 2 else 0)
    if W.shape != (M.shape[0], len(trained)):
        raise ValidationError(f"model must be {(M.shape[0], len(trained))}, got {W.shape}")
    V = W[:, trained]
    for _ in range(method.steps):
        V = exact_order_matmul(M, V) + B
    W[:, trained] = V
    return W


@dataclass(frozen=True)
class AffineMap:
    """Local training as an affine map: ``W'[:, c] = A @ W[:, c] + b[:, c]`` for the ``trained`` columns ``c``.

    The other columns are left as they are (``b`` is zero there).
    """

    A: np.ndarray  # (d, d)
    b: np.ndarray  # (d, C), zero in the columns not trained
    trained: np.ndarray  # (C,) bool

    def apply(self, W) -> np.ndarray:
        """The map applied to ``W`` in plaintext (BLAS; for checks, not for deterministic bytes)."""
        W = np.asarray(W, dtype=np.float64)
        return np.where(self.trained[None, :], self.A @ W + self.b, W)


def affine_map(X, Y, method: TrainingMethod, n_classes: int = 10) -> AffineMap:
    """:func:`local_train` as an :class:`AffineMap` (equal up to rounding).

    ``A = M^K`` and ``b = sum_{j<K} M^j B`` for the one-step map ``W -> M W +
    B``, by square-and-multiply on affine maps (about ``2 log2 K`` matrix
    products, all with :func:`exact_order_matmul`, so the map is deterministic
    too).
    """
    M, B, trained = _step_map(X, Y, method, n_classes)
    A = b = None  # the identity map
    P, Q = M, B  # the step map applied 2^i times
    k = method.steps
    while True:
        if k & 1:  # (P, Q) o (A, b): W -> P (A W + b) + Q
            A, b = (P, Q) if A is None else (exact_order_matmul(P, A), exact_order_matmul(P, b) + Q)
        k >>= 1
        if not k:
            break
        P, Q = exact_order_matmul(P, P), exact_order_matmul(P, Q) + Q
    full = np.zeros((M.shape[0], n_classes))
    full[:, trained] = b
    return AffineMap(A=A, b=full, trained=trained)


def fedavg(models: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """The weighted mean of ``models`` (equal weights by default), summed in the given order."""
    if not models:
        raise ValidationError("fedavg needs at least one model")
    w = [1.0] * len(models) if weights is None else [float(x) for x in weights]
    if len(w) != len(models) or min(w) < 0 or sum(w) <= 0:
        raise ValidationError("fedavg weights must be one non-negative number per model, not all zero")
    total = sum(w)
    out = np.zeros_like(np.asarray(models[0], dtype=np.float64))
    for Wi, wi in zip(models, w, strict=True):
        if np.shape(Wi) != out.shape:
            raise ValidationError(f"fedavg models differ in shape: {np.shape(Wi)} vs {out.shape}")
        out += (wi / total) * np.asarray(Wi, dtype=np.float64)
    return out


def accuracy(W, X, y) -> float:
    """Fraction of rows of ``X`` whose arg-max score ``X @ W`` is the label ``y``."""
    return float(np.mean(np.argmax(np.asarray(X) @ np.asarray(W), axis=1) == np.asarray(y)))


# --------------------------------------------------------------------------- model bytes

def encode_model(W) -> bytes:
    """Canonical bytes of ``W``: ``MODEL_MAGIC``, a 4-byte little-endian header length, the JSON header
    (sorted keys: dtype ``<f8``, shape) and the float64 little-endian values in C order."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValidationError(f"a model is a 2-D array, got shape {W.shape}")
    header = json.dumps({"dtype": "<f8", "shape": list(W.shape)}, sort_keys=True, separators=(",", ":")).encode()
    return MODEL_MAGIC + struct.pack("<I", len(header)) + header + np.ascontiguousarray(W, dtype="<f8").tobytes()


def decode_model(data: bytes) -> np.ndarray:
    """Inverse of :func:`encode_model`; raises ValidationError on anything else."""
    data = bytes(data)
    n = len(MODEL_MAGIC)
    if data[:n] != MODEL_MAGIC or len(data) < n + 4:
        raise ValidationError("not an encoded model (bad magic)")
    (hlen,) = struct.unpack("<I", data[n:n + 4])
    try:
        header = json.loads(data[n + 4:n + 4 + hlen])
        rows, cols = (int(v) for v in header["shape"])
        ok = header["dtype"] == "<f8" and rows >= 0 and cols >= 0
    except (ValueError, KeyError, TypeError):
        ok = False
    body = data[n + 4 + hlen:]
    if not ok or len(body) != 8 * rows * cols:
        raise ValidationError("not an encoded model (bad header or length)")
    return np.frombuffer(body, dtype="<f8").reshape(rows, cols).astype(np.float64)


# --------------------------------------------------------------------------- federated baseline

Trainer = Callable[[np.ndarray, np.ndarray, np.ndarray, TrainingMethod], np.ndarray]


@dataclass(frozen=True)
class FederatedRun:
    """Result of :func:`train_federated`: the final global model and the test accuracy after each round."""

    W: np.ndarray
    accuracy: list[float] = field(default_factory=list)


def train_federated(X, y, subsets: Sequence[np.ndarray], schedule: Sequence[Sequence[int]], method: TrainingMethod,
                    *, n_classes: int = 10, test: tuple[np.ndarray, np.ndarray] | None = None,
                    W0: np.ndarray | None = None, trainer: Trainer = local_train) -> FederatedRun:
    """Federated rounds without the market: for each round of ``schedule`` (subset indices), train the global
    model on every chosen subset with ``trainer`` and FedAvg them, weighted by subset size.

    ``X``: features of the whole training set, ``y`` its labels, ``subsets``
    index arrays into them. ``trainer`` defaults to :func:`local_train`; pass
    an encrypted round trip to compare modes. ``test = (X_test, y_test)``
    records the accuracy after each round. Starts from zeros unless ``W0``.
    """
    X = np.asarray(X, dtype=np.float64)
    Y = one_hot(y, n_classes)
    W = np.zeros((X.shape[1], n_classes)) if W0 is None else np.asarray(W0, dtype=np.float64)
    accs: list[float] = []
    for chosen in schedule:
        models = [trainer(W, X[subsets[i]], Y[subsets[i]], method) for i in chosen]
        W = fedavg(models, [len(subsets[i]) for i in chosen])
        if test is not None:
            accs.append(accuracy(W, *test))
    return FederatedRun(W=W, accuracy=accs)
