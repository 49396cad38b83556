"""The split CNN of the data market: a public feature extractor and a private head.

The model owner (MO) publishes the *public part* (the convolutional feature
extractor, at most :data:`~ledgerlearn.markets.data.packing.MAX_PARAMS`
parameters) and keeps its classifier *head* private. Every round each data
owner (DO) loads the current public part, attaches a *local* head drawn from
the task's public ``head_seed`` (the same weights for every DO and every round),
trains on its own data and submits only the change of the public part
(:func:`local_update`). The market averages the (quantised) changes and every
party applies the aggregate with :func:`apply_aggregate`. The MO finally fits
its private head on the market's public part (:meth:`OwnerModel.fine_tune`).

Local training (:data:`DEFAULT_TRAINING`) is FedAvg with two changes that
matter on the pathological non-IID split (two classes per DO), measured on real
MNIST in ``bench/data_market_study.py``:

- *restricted softmax* (``local_classes_only``, as in FedRS, Li & Zhan, KDD
  2021): a DO's loss only ranks the classes it holds, so it learns to separate
  its two classes without pushing the other eight down;
- a *fast local head* (``head_lr=5``): the ``head_seed`` head is re-drawn every
  round, and letting it fit quickly makes the feature extractor's gradient
  meaningful sooner.

Together they took the MO's after-accuracy (100 private samples, 10 DOs, 10
rounds, 2,000 samples each) from 84-85% (plain FedAvg, frozen or trained head)
to 92.4% on the 10k test set.

The MO should publish a *randomly initialised* public part
(:func:`initial_public_part`), not the one of its "before" model: starting the
market from a trained feature extractor made local training diverge (with the
default training the MO's head-only accuracy fell to chance).

Everything is CPU-only and deterministic for given seeds: weight initialisation
runs under :func:`torch.random.fork_rng` (the caller's global torch RNG is left
alone) and data order comes from a :class:`numpy.random.Generator`. Results are
reproducible for a given torch build and thread count.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ledgerlearn.errors import ValidationError
from ledgerlearn.markets.data.packing import MAX_PARAMS

__all__ = [
    "ARCHITECTURES",
    "ATTACKS",
    "DEFAULT_ARCH",
    "DEFAULT_FINE_TUNE",
    "DEFAULT_Q_CLIP",
    "DEFAULT_Q_SCALE",
    "DEFAULT_TRAINING",
    "Architecture",
    "FineTuning",
    "LocalTraining",
    "OWNER_TRAINING",
    "OwnerModel",
    "apply_aggregate",
    "architecture",
    "initial_public_part",
    "load_public_vector",
    "local_update",
    "non_iid_split",
    "preprocess",
    "public_vector",
    "seeded_head",
]

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


# --------------------------------------------------------------------------- architectures


@dataclass(frozen=True)
class Architecture:
    """A LeNet-style split for 28x28 greyscale images.

    Public part: ``conv(1->c1, k5) -> ReLU -> maxpool 2 -> conv(c1->c2, k5) ->
    ReLU -> maxpool 2 -> flatten`` (``c2 * 4 * 4`` features). Head:
    ``Linear(features, 10)``, or ``Linear(features, hidden) -> ReLU ->
    Linear(hidden, 10)`` when ``head_hidden`` is set.
    """

    name: str
    c1: int
    c2: int
    head_hidden: int | None = None
    n_classes: int = 10

    @property
    def n_features(self) -> int:
        return self.c2 * 4 * 4

    @property
    def n_public(self) -> int:
        return (self.c1 * 25 + self.c1) + (self.c2 * self.c1 * 25 + self.c2)

    @property
    def n_head(self) -> int:
        if self.head_hidden is None:
            return self.n_features * self.n_classes + self.n_classes
        h = self.head_hidden
        return self.n_features * h + h + h * self.n_classes + self.n_classes

    def public_module(self) -> nn.Module:
        """A freshly initialised public part (uses the global torch RNG; see :func:`initial_public_part`)."""
        return nn.Sequential(
            nn.Conv2d(1, self.c1, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(self.c1, self.c2, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )

    def head_module(self) -> nn.Module:
        """A freshly initialised head (uses the global torch RNG; see :func:`seeded_head`)."""
        if self.head_hidden is None:
            return nn.Sequential(nn.Linear(self.n_features, self.n_classes))
        return nn.Sequential(
            nn.Linear(self.n_features, self.head_hidden),
            nn.ReLU(),
            nn.Linear(self.head_hidden, self.n_classes),
        )


#: ``small``: 912 public parameters, 128 features; ``medium``: 3,424 public parameters, 256 features.
ARCHITECTURES: dict[str, Architecture] = {
    "small": Architecture("small", c1=4, c2=8),
    "medium": Architecture("medium", c1=8, c2=16),
}
for _a in ARCHITECTURES.values():
    assert _a.n_public <= MAX_PARAMS, _a

DEFAULT_ARCH = "medium"


def architecture(arch: str | Architecture) -> Architecture:
    """The :class:`Architecture` named ``arch`` (an instance is returned as is)."""
    if isinstance(arch, Architecture):
        return arch
    try:
        return ARCHITECTURES[arch]
    except KeyError:
        raise ValidationError(f"arch: unknown architecture {arch!r} (known: {', '.join(ARCHITECTURES)})") from None


# --------------------------------------------------------------------------- defaults

#: Quanta per unit of a public-part update: a step of 2**-16 (1.5e-5) per parameter.
#: Honest updates under DEFAULT_TRAINING measured max |u| 0.28-0.77 (medium, 2,000
#: samples per DO, 10-20 DOs, seeds 0-2, any round), 20x below the clip.
DEFAULT_Q_SCALE = 1 << 16
#: Largest |q| = 2**20 - 1 (= packing.MAX_Q_CLIP), i.e. |u| <= 16: never reached by honest updates,
#: it only bounds what one attacker can add per parameter.
DEFAULT_Q_CLIP = (1 << 20) - 1


@dataclass(frozen=True)
class LocalTraining:
    """How a DO trains locally in one round (SGD with momentum, cross-entropy).

    ``max_steps`` caps the number of mini-batch steps (across epochs).
    ``train_head=False`` keeps the local head at its ``head_seed`` initialisation
    (FedBABU-style); ``head_lr`` scales the head's learning rate when it is trained.
    ``local_classes_only`` masks the logits of classes absent from the DO's data
    (restricted softmax). ``clip_grad_norm`` clips each step's gradient norm.
    """

    epochs: int = 3
    lr: float = 0.02
    batch_size: int = 32
    max_steps: int | None = None
    momentum: float = 0.9
    weight_decay: float = 0.0
    train_head: bool = True
    head_lr: float = 5.0
    local_classes_only: bool = True
    clip_grad_norm: float | None = None

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1 or (self.max_steps is not None and self.max_steps < 1):
            raise ValidationError("training: epochs, batch_size and max_steps must be positive")
        if not (self.lr > 0 and 0 <= self.momentum < 1 and self.weight_decay >= 0 and self.head_lr >= 0):
            raise ValidationError("training: need lr > 0, 0 <= momentum < 1, weight_decay >= 0, head_lr >= 0")


#: Recommended local training. Measured on real MNIST (bench/data_market_study.py, medium
#: architecture, non-IID 2 classes x 2,000 samples per DO, 10k test set, MO head-only on the
#: market's public part):
#:   MO 100 samples, seed 0 (before 85.9%): 10 DOs x 5 rounds 91.9%, x 10 rounds 92.4%;
#:     15 DOs x 5 rounds 92.2%; 20 DOs x 5 rounds 92.4%. Seed 1 (before 74.2%): 86.0% / 87.0%.
#:   MO 200 samples, 10 DOs x 5 rounds: seed 0 90.2 -> 93.0%, seed 1 87.3 -> 92.4%, seed 2 90.9 -> 92.6%.
#:   MO 300 samples, seed 0: 91.5 -> 94.4%.
#:   small architecture, MO 100, seed 0: 81.2 -> 87.1%.
#: Alternatives at 10 DOs x 10 rounds
#: (2k test subset, head-only with 100 / 300 MO samples): plain FedAvg lr 0.05 1 epoch
#: 84.9 / 89.4; frozen head (FedBABU) 84-85 / 88-89; + restricted softmax, lr 0.02: 84-87 / 92;
#: this default 91.0 / 94.2; head_lr 10 with 5 epochs lr 0.01: 90.3 / 92.9; head_lr 20 diverges;
#: batch 16 or server momentum 0.9: worse (82 / 84).
DEFAULT_TRAINING = LocalTraining()


#: How the MO trains its "before" model (the whole network) on its own small set: many
#: epochs, until it fits it.
OWNER_TRAINING = LocalTraining(
    epochs=60, lr=0.02, batch_size=16, weight_decay=1e-4, train_head=True, head_lr=1.0, local_classes_only=False
)


@dataclass(frozen=True)
class FineTuning:
    """How the MO fits a head on frozen features: full-batch Adam on precomputed features."""

    steps: int = 300
    lr: float = 0.01
    weight_decay: float = 1e-3


DEFAULT_FINE_TUNE = FineTuning()


# --------------------------------------------------------------------------- vectors


def public_vector(module: nn.Module) -> np.ndarray:
    """The parameters of ``module`` as one flat float32 vector (``named_parameters`` order)."""
    with torch.no_grad():
        parts = [p.detach().reshape(-1).to(torch.float32) for _, p in module.named_parameters()]
        if not parts:
            return np.zeros(0, dtype=np.float32)
        return torch.cat(parts).numpy().astype(np.float32, copy=True)


def load_public_vector(module: nn.Module, vec: np.ndarray) -> None:
    """Copy the flat vector ``vec`` into the parameters of ``module`` (inverse of :func:`public_vector`)."""
    v = np.asarray(vec)
    params = [p for _, p in module.named_parameters()]
    n = sum(p.numel() for p in params)
    if v.ndim != 1 or v.size != n:
        raise ValidationError(f"public part: expected a flat vector of {n} values, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValidationError("public part: contains NaN or infinity")
    t = torch.from_numpy(v.astype(np.float32, copy=True))
    with torch.no_grad():
        i = 0
        for p in params:
            p.copy_(t[i : i + p.numel()].view_as(p))
            i += p.numel()


def _seeded(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return build()


def initial_public_part(arch: str, seed: int) -> np.ndarray:
    """A randomly initialised public part (PyTorch's default init under ``torch.manual_seed(seed)``)."""
    a = architecture(arch)
    return public_vector(_seeded(a.public_module, seed))


def seeded_head(arch: str, head_seed: int) -> nn.Module:
    """The local head every DO starts from: PyTorch's default init under ``torch.manual_seed(head_seed)``."""
    a = architecture(arch)
    return _seeded(a.head_module, head_seed)


def apply_aggregate(public: np.ndarray, aggregate: np.ndarray) -> np.ndarray:
    """New public part: ``float32(float64(public) + float64(aggregate))`` (bit-for-bit reproducible)."""
    p = np.asarray(public)
    g = np.asarray(aggregate)
    if p.shape != g.shape or p.ndim != 1:
        raise ValidationError(f"aggregate: shape {g.shape} does not match public part {p.shape}")
    return (p.astype(np.float64) + g.astype(np.float64)).astype(np.float32)


# --------------------------------------------------------------------------- data


def preprocess(x: np.ndarray) -> torch.Tensor:
    """uint8 images ``(n, 28, 28)`` -> float32 tensor ``(n, 1, 28, 28)``, scaled to [0, 1] then normalised
    with the MNIST mean and standard deviation."""
    a = np.asarray(x)
    if a.ndim == 2 and a.shape[1] == 28 * 28:
        a = a.reshape(-1, 28, 28)
    if a.ndim != 3 or a.shape[1:] != (28, 28):
        raise ValidationError(f"x: expected images of shape (n, 28, 28), got {a.shape}")
    t = torch.from_numpy(a.astype(np.float32) / 255.0)
    return ((t - MNIST_MEAN) / MNIST_STD).unsqueeze(1)


def _labels(y: np.ndarray, n: int) -> torch.Tensor:
    a = np.asarray(y).reshape(-1)
    if a.size != n:
        raise ValidationError(f"y: expected {n} labels, got {a.size}")
    if a.size and (a.min() < 0 or a.max() > 9):
        raise ValidationError("y: labels must be 0..9")
    return torch.from_numpy(a.astype(np.int64))


def non_iid_split(
    y: np.ndarray,
    n_owners: int,
    classes_per_owner: int = 2,
    seed: int = 0,
    samples_per_owner: int | None = None,
) -> list[np.ndarray]:
    """Pathological non-IID split (McMahan et al. 2017, "FedAvg"): disjoint index arrays into ``y``.

    The indices are sorted by label and cut into ``n_owners * classes_per_owner``
    equal shards of consecutive indices; each owner gets ``classes_per_owner``
    random shards. With ``samples_per_owner`` (``None``: everything), each shard
    is first cut to ``samples_per_owner // classes_per_owner`` samples. A shard
    can straddle two labels, so an owner sees *about* ``classes_per_owner``
    classes; when ``n_owners * classes_per_owner`` is a multiple of the number
    of classes and the classes are balanced enough, each shard is one class and
    owners are dealt shards so that no owner holds two shards of one class
    where that can be avoided.
    """
    y = np.asarray(y).reshape(-1)
    if n_owners < 1 or classes_per_owner < 1:
        raise ValidationError("split: n_owners and classes_per_owner must be positive")
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    n_shards = n_owners * classes_per_owner
    per_shard = None if samples_per_owner is None else samples_per_owner // classes_per_owner
    if n_shards % len(classes) == 0:
        # Class-pure shards: each class is cut into n_shards / n_classes shards.
        k = n_shards // len(classes)
        shards, shard_class = [], []
        for c in classes:
            idx = rng.permutation(np.flatnonzero(y == c))
            size = len(idx) // k if per_shard is None else per_shard
            if size * k > len(idx) or size < 1:
                raise ValidationError(f"split: class {c} has {len(idx)} samples, too few for {k} shards of {size}")
            for j in range(k):
                shards.append(np.sort(idx[j * size : (j + 1) * size]))
                shard_class.append(int(c))
        order = _deal(np.array(shard_class), n_owners, classes_per_owner, rng)
    else:
        idx = np.argsort(y, kind="stable")
        size = len(idx) // n_shards
        if per_shard is not None:
            if per_shard > size:
                raise ValidationError(f"split: {len(y)} samples are too few for {n_shards} shards of {per_shard}")
            size = per_shard
        stride = len(idx) // n_shards
        shards = [np.sort(idx[s * stride : s * stride + size]) for s in range(n_shards)]
        order = rng.permutation(n_shards).reshape(n_owners, classes_per_owner)
    return [np.sort(np.concatenate([shards[s] for s in row])) for row in order]


def _deal(shard_class: np.ndarray, n_owners: int, per_owner: int, rng: np.random.Generator) -> np.ndarray:
    """Assign shards to owners, avoiding two shards of one class for one owner (a few random tries)."""
    n = len(shard_class)
    for _ in range(200):
        perm = rng.permutation(n).reshape(n_owners, per_owner)
        if all(len(set(shard_class[row].tolist())) == per_owner for row in perm):
            return perm
    return rng.permutation(n).reshape(n_owners, per_owner)


# --------------------------------------------------------------------------- local training

#: ``label_flip``: train honestly on labels ``9 - y``. ``sign_flip``: submit
#: ``-attack_scale`` times the honest update. ``scaled_noise``: submit Gaussian
#: noise whose expected norm is ``attack_scale`` times the honest update's norm
#: (i.i.d. per parameter, standard deviation ``attack_scale * ||u|| / sqrt(n)``).
ATTACKS = ("label_flip", "sign_flip", "scaled_noise")


def _batches(n: int, training: LocalTraining, rng: np.random.Generator):
    steps = 0
    for _ in range(training.epochs):
        perm = rng.permutation(n)
        for s in range(0, n, training.batch_size):
            if training.max_steps is not None and steps >= training.max_steps:
                return
            yield perm[s : s + training.batch_size]
            steps += 1


def _train(
    public: nn.Module,
    head: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    training: LocalTraining,
    rng: np.random.Generator,
    *,
    train_public: bool = True,
    train_head: bool = True,
) -> None:
    groups = []
    if train_public:
        groups.append({"params": list(public.parameters()), "lr": training.lr})
    if train_head and training.head_lr > 0:
        groups.append({"params": list(head.parameters()), "lr": training.lr * training.head_lr})
    for p in public.parameters():
        p.requires_grad_(train_public)
    for p in head.parameters():
        p.requires_grad_(train_head)
    if not groups:
        return
    opt = torch.optim.SGD(groups, lr=training.lr, momentum=training.momentum, weight_decay=training.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    absent = None
    if training.local_classes_only:
        n_out = head(public(x[:1])).shape[1]
        absent = torch.ones(n_out, dtype=torch.bool)
        absent[torch.unique(y)] = False
    public.train()
    head.train()
    for b in _batches(len(y), training, rng):
        bi = torch.from_numpy(b)
        opt.zero_grad(set_to_none=True)
        logits = head(public(x[bi]))
        if absent is not None:
            logits = logits.masked_fill(absent, -1e9)
        loss = loss_fn(logits, y[bi])
        loss.backward()
        if training.clip_grad_norm is not None:
            nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], training.clip_grad_norm)
        opt.step()


def local_update(
    arch: str,
    public: np.ndarray,
    head_seed: int,
    x: np.ndarray,
    y: np.ndarray,
    training: LocalTraining = DEFAULT_TRAINING,
    *,
    attack: str | None = None,
    attack_scale: float = 10.0,
    seed: int = 0,
) -> np.ndarray:
    """A DO's round: train ``public`` + the ``head_seed`` head on ``(x, y)``; return the change of the public part.

    ``x`` are uint8 images ``(n, 28, 28)``, ``y`` labels 0..9. The result is a
    float32 vector of the public part's length; the head never leaves this
    function. ``seed`` drives the data order and the ``scaled_noise`` attack.
    ``attack`` (one of :data:`ATTACKS`) makes a malicious update.
    """
    a = architecture(arch)
    if attack is not None and attack not in ATTACKS:
        raise ValidationError(f"attack: unknown attack {attack!r} (known: {', '.join(ATTACKS)})")
    start = np.asarray(public, dtype=np.float32)
    if start.shape != (a.n_public,):
        raise ValidationError(f"public part: expected {a.n_public} values for {a.name!r}, got shape {start.shape}")
    xt = preprocess(x)
    labels = np.asarray(y).reshape(-1)
    if attack == "label_flip":
        labels = 9 - labels
    yt = _labels(labels, len(xt))
    if len(yt) == 0:
        raise ValidationError("x: no training samples")
    rng = np.random.default_rng(seed)
    body = a.public_module()
    load_public_vector(body, start)
    head = seeded_head(a, head_seed)
    _train(body, head, xt, yt, training, rng, train_head=training.train_head)
    delta = (public_vector(body).astype(np.float64) - start.astype(np.float64)).astype(np.float32)
    if attack == "sign_flip":
        delta = (-float(attack_scale) * delta.astype(np.float64)).astype(np.float32)
    elif attack == "scaled_noise":
        std = float(attack_scale) * float(np.linalg.norm(delta.astype(np.float64))) / math.sqrt(delta.size)
        delta = (rng.standard_normal(delta.size) * std).astype(np.float32)
    return delta


# --------------------------------------------------------------------------- the model owner


class OwnerModel:
    """The MO's side: the "before" model trained on its own data, and a private head.

    ``fit_initial`` trains the whole model on the MO's own (small) data: that is
    the "before" model. The MO publishes a random :func:`initial_public_part` as
    the task's initial public part, not :attr:`public` after ``fit_initial``
    (see the module docstring: a trained start made the market diverge).
    ``fine_tune`` loads the market's public part, keeps it frozen, and fits a
    fresh private head on the same private data; :meth:`accuracy` then reports
    the model the MO would use. The head is never part of :attr:`public`.
    """

    def __init__(
        self,
        arch: str,
        x: np.ndarray,
        y: np.ndarray,
        seed: int = 0,
        *,
        training: LocalTraining | None = None,
        fine_tuning: FineTuning = DEFAULT_FINE_TUNE,
    ):
        self.arch = architecture(arch)
        self._x = preprocess(x)
        self._y = _labels(y, len(self._x))
        if len(self._y) == 0:
            raise ValidationError("x: the owner needs private samples")
        self.seed = int(seed)
        # The "before" model: the whole network trained on the private set until it fits it.
        self.training = training or OWNER_TRAINING
        self.fine_tuning = fine_tuning
        self._public = _seeded(self.arch.public_module, self.seed)
        self._head = _seeded(self.arch.head_module, self.seed + 1)

    @property
    def public(self) -> np.ndarray:
        """The public part this model currently uses (publishable)."""
        return public_vector(self._public)

    def head_state(self) -> dict[str, torch.Tensor]:
        """A copy of the private head's weights (for the MO's own storage; not part of any public blob)."""
        return {k: v.detach().clone() for k, v in self._head.state_dict().items()}

    def fit_initial(self, public: np.ndarray | None = None) -> np.ndarray:
        """Train the whole model on the private data (from ``public`` or a random init); return its public part."""
        if public is not None:
            load_public_vector(self._public, np.asarray(public, dtype=np.float32))
        rng = np.random.default_rng(self.seed)
        _train(self._public, self._head, self._x, self._y, self.training, rng)
        return self.public

    def fine_tune(self, public: np.ndarray) -> None:
        """Load the market's ``public`` part (kept frozen) and fit a fresh private head on the private data."""
        load_public_vector(self._public, np.asarray(public, dtype=np.float32))
        for p in self._public.parameters():
            p.requires_grad_(False)
        self._public.eval()
        with torch.no_grad():
            feats = self._public(self._x)
        head = _seeded(self.arch.head_module, self.seed + 2)
        _fit_head(head, feats, self._y, self.fine_tuning)
        self._head = head

    def predict(self, x: np.ndarray, batch: int = 2048) -> np.ndarray:
        xt = preprocess(x)
        out = []
        self._public.eval()
        self._head.eval()
        with torch.no_grad():
            for s in range(0, len(xt), batch):
                out.append(self._head(self._public(xt[s : s + batch])).argmax(1))
        return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)

    def accuracy(self, x_test: np.ndarray, y_test: np.ndarray) -> float:
        """Fraction of ``x_test`` classified as ``y_test``."""
        y = np.asarray(y_test).reshape(-1)
        if len(y) == 0:
            raise ValidationError("y_test: empty")
        return float(np.mean(self.predict(x_test) == y))


def _fit_head(head: nn.Module, feats: torch.Tensor, y: torch.Tensor, ft: FineTuning) -> None:
    # Standardise nothing: the head sees the same features at test time. Full-batch Adam is
    # deterministic and converges in a few hundred steps on a few hundred samples.
    opt = torch.optim.Adam(head.parameters(), lr=ft.lr, weight_decay=ft.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    head.train()
    for _ in range(ft.steps):
        opt.zero_grad(set_to_none=True)
        loss_fn(head(feats), y).backward()
        opt.step()
    head.eval()

