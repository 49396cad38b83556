"""A data set turned into the encoded inputs a shared model takes, and its initial model.

Text (IMDB) goes through the on-chain ``"IMDB vocab"`` encoder as binary
features (sorted unique word indices) for every model type; images through the
image encoders (binarised pixel indices for naive Bayes, unit vectors for
dense models); tabular sets are standardised with the training statistics and
scaled to unit length (dense models), or, when every feature is 0/1 (one-hot),
given as the indices of the ones (naive Bayes).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from ledgerlearn.encoders import IMDB_VOCAB, IMDB_VOCAB_BINARY, NONE, NORMALIZE, get_encoder
from ledgerlearn.encoders.dense import l2_normalize_fixed
from ledgerlearn.errors import ValidationError
from ledgerlearn.models import DenseCentroid, DensePerceptron, ModelMirror, NaiveBayes, SparseCentroid, SparsePerceptron
from ledgerlearn.models.sgd import sgd_perceptron


@dataclass
class Features:
    """Encoded train/test data of one data set for one model type."""

    dataset: str
    model: str
    classes: list[str]
    num_features: int
    input_kind: str  # "sparse" (index lists) or "dense" (fixed-point vectors)
    encoder: str  # the on-chain encoder name
    x_train: list[list[int]]
    y_train: list[int]
    x_test: list[list[int]]
    y_test: list[int]

    def shuffled(self, seed: int) -> "Features":
        """The same data with the training order shuffled by ``seed`` (test order kept)."""
        order = list(range(len(self.y_train)))
        random.Random(seed).shuffle(order)
        return Features(
            self.dataset, self.model, self.classes, self.num_features, self.input_kind, self.encoder,
            [self.x_train[i] for i in order], [self.y_train[i] for i in order], self.x_test, self.y_test,
        )


def _text_features(ds, model: str) -> Features:
    if ds.name != "imdb":
        raise ValidationError(f"dataset: no text encoder is set up for {ds.name!r}")
    # Binary features for every model type (sparse models take unique indices anyway).
    enc = get_encoder(IMDB_VOCAB_BINARY)
    size = max(enc.vocab.values()) + 1
    mt = "naive bayes" if model == "naive-bayes" else "sparse perceptron"
    name = IMDB_VOCAB_BINARY if model == "naive-bayes" else IMDB_VOCAB
    return Features(
        ds.name, model, list(ds.classes), size, "sparse", name,
        enc.encode_many(ds.x_train, mt), [int(v) for v in ds.y_train], enc.encode_many(ds.x_test, mt), [int(v) for v in ds.y_test],
    )


def _image_features(ds, model: str) -> Features:
    from ledgerlearn.encoders import image

    n_pixels = int(np.prod(ds.x_train.shape[1:]))
    sparse_in = model == "naive-bayes"
    enc = get_encoder(image.IMAGE_BINARY if sparse_in else image.IMAGE_DENSE)
    mt = "naive bayes" if sparse_in else "nearest centroid classifier"
    return Features(
        ds.name, model, list(ds.classes), n_pixels, "sparse" if sparse_in else "dense", enc.name,
        enc.encode_many(ds.x_train, mt), [int(v) for v in ds.y_train], enc.encode_many(ds.x_test, mt), [int(v) for v in ds.y_test],
    )


def _tabular_features(ds, model: str) -> Features:
    xtr = np.asarray(ds.x_train, dtype=np.float64)
    xte = np.asarray(ds.x_test, dtype=np.float64)
    ytr, yte = [int(v) for v in ds.y_train], [int(v) for v in ds.y_test]
    if model == "naive-bayes":
        if not (np.isin(xtr, (0.0, 1.0)).all() and np.isin(xte, (0.0, 1.0)).all()):
            raise ValidationError(f"model: naive Bayes needs count features; {ds.name} has real-valued features (use a dense model)")
        idx = lambda m: [np.flatnonzero(row).tolist() for row in m]  # noqa: E731
        return Features(ds.name, model, list(ds.classes), xtr.shape[1], "sparse", NONE, idx(xtr), ytr, idx(xte), yte)
    mean, std = xtr.mean(axis=0), xtr.std(axis=0)
    std[std == 0] = 1.0

    def unit(m) -> list[list[int]]:
        out = []
        for row in (m - mean) / std:
            if not np.any(row):
                row = row.copy()
                row[0] = 1.0  # the all-mean sample: any unit vector; keeps the norm check satisfiable
            out.append(l2_normalize_fixed(row.tolist()))
        return out

    return Features(ds.name, model, list(ds.classes), xtr.shape[1], "dense", NORMALIZE, unit(xtr), ytr, unit(xte), yte)


def features(dataset: str, model: str) -> Features:
    """Load ``dataset`` (fetching it if needed) and encode it for ``model``."""
    from ledgerlearn.datasets import load

    ds = load(dataset)
    if model == "perceptron" and len(ds.classes) != 2:
        raise ValidationError(f"model: the perceptron contracts are binary; {dataset} has {len(ds.classes)} classes (use naive-bayes or nearest-centroid)")
    if ds.kind == "text":
        return _text_features(ds, model)
    if ds.kind == "image":
        return _image_features(ds, model)
    return _tabular_features(ds, model)


def initial_model(f: Features, n_init: int, *, seed: int = 0) -> ModelMirror:
    """The owner's initial model, trained off chain on the first ``n_init`` training samples.

    Perceptrons are trained as the reference did (scikit-learn SGD, "optimal"
    step sizes; see :mod:`ledgerlearn.models.sgd`); naive Bayes and nearest
    centroid are exact fits (counts, means).
    """
    X, y = f.x_train[:n_init], f.y_train[:n_init]
    sparse_in = f.input_kind == "sparse"
    if f.model == "perceptron":
        if n_init and len(set(y)) == 2:
            return sgd_perceptron(X, y, classes=f.classes, num_features=f.num_features, dense=not sparse_in, random_state=seed)
        return SparsePerceptron(f.classes, f.num_features) if sparse_in else DensePerceptron(f.classes, num_features=f.num_features)
    if f.model == "naive-bayes":
        if not sparse_in:
            raise ValidationError("model: naive Bayes needs index features")
        return NaiveBayes(f.classes, f.num_features).fit(X, y)
    if sparse_in:
        return SparseCentroid(f.classes, num_features=f.num_features).fit(X, y)
    return DenseCentroid(f.classes, num_features=f.num_features).fit(X, y)
