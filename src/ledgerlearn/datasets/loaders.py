"""Turning a verified download (or bundled/generated data) into train/test arrays.

Each loader returns plain numpy arrays (``x_train``, ``y_train``, ``x_test``,
``y_test``, optional ``feature_names``) so they can be cached as ``.npz``;
:func:`to_dataset` makes the :class:`Dataset`. Every loader checks the sizes
against the spec, so a broken parser fails instead of returning odd data.
Bump a loader's entry in :data:`VERSIONS` when its output changes: that
invalidates the derived caches.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from ledgerlearn.datasets import tictactoe
from ledgerlearn.datasets.archives import deb_members, parse_idx, tar_members
from ledgerlearn.datasets.base import Dataset, DatasetError
from ledgerlearn.datasets.registry import Spec

Arrays = dict[str, np.ndarray]

#: The fixed seed of every 80/20 split made here (stratified by class).
SPLIT_SEED = 0
TEST_SIZE = 0.2
#: Joins the IMDB reviews in the cache; it never occurs in the text (checked).
TEXT_SEP = "\x00"


# ------------------------------------------------------------------ helpers
def split(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row indices: stratified 80/20, seeded (in the split's shuffled order)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    train, test = train_test_split(idx, test_size=TEST_SIZE, stratify=y, random_state=SPLIT_SEED)
    return train, test


def _check_sizes(spec: Spec, n_train: int, n_test: int) -> None:
    if (n_train, n_test) != (spec.n_train, spec.n_test):
        raise DatasetError(f"{spec.name}: parsed {n_train} train / {n_test} test examples, "
                           f"expected {spec.n_train} / {spec.n_test}")


def _check_labels(spec: Spec, *ys: np.ndarray) -> None:
    for y in ys:
        if len(y) and (y.min() < 0 or y.max() >= len(spec.classes)):
            raise DatasetError(f"{spec.name}: labels outside 0..{len(spec.classes) - 1}")


def _tabular(spec: Spec, x: np.ndarray, y: np.ndarray, names: list[str]) -> Arrays:
    train, test = split(y)
    _check_sizes(spec, len(train), len(test))
    _check_labels(spec, y)
    return {"x_train": x[train].astype(np.float64), "y_train": y[train].astype(np.int64),
            "x_test": x[test].astype(np.float64), "y_test": y[test].astype(np.int64),
            "feature_names": np.array(names, dtype=str)}


# ------------------------------------------------------------------ loaders
def imdb(spec: Spec, source: Path) -> Arrays:
    """``reviews.json``: 50,000 ``{"t", "s"}`` in four blocks of 12,500:
    test/neg, train/neg, test/pos, train/pos (the Stanford release's order)."""
    member = spec.params["member"]
    reviews = json.loads(tar_members(source, {member})[member])
    n = len(reviews)
    q = n // 4
    if n % 4 or 2 * q != spec.n_train or 2 * q != spec.n_test:
        raise DatasetError(f"{spec.name}: {n} reviews, expected {spec.n_train + spec.n_test} in four equal blocks")
    texts = [r["t"].replace("<br />", " ") for r in reviews]
    labels = np.array([int(r["s"]) for r in reviews], dtype=np.int64)
    if labels[: 2 * q].any() or not labels[2 * q:].all():
        raise DatasetError(f"{spec.name}: reviews are not in the expected order (negatives, then positives)")
    train = np.r_[q:2 * q, 3 * q:4 * q]
    test = np.r_[0:q, 2 * q:3 * q]
    if any(TEXT_SEP in t for t in texts):
        raise DatasetError(f"{spec.name}: a review contains the cache separator {TEXT_SEP!r}")

    def blob(idx: np.ndarray) -> np.ndarray:
        return np.frombuffer(TEXT_SEP.join(texts[i] for i in idx).encode("utf-8"), dtype=np.uint8)

    return {"text_train": blob(train), "y_train": labels[train], "text_test": blob(test), "y_test": labels[test]}


def idx(spec: Spec, source: Path) -> Arrays:
    """Four IDX files (images, labels; train, t10k) inside an npm tarball or a .deb."""
    members: dict[str, str] = spec.params["members"]
    read = deb_members if spec.params["archive"] == "deb" else tar_members
    raw = read(source, set(members.values()))
    out = {key: parse_idx(raw[path]) for key, path in members.items()}
    for part in ("train", "test"):
        x, y = out[f"x_{part}"], out[f"y_{part}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.shape != (len(x),):
            raise DatasetError(f"{spec.name}: {part} images {x.shape} and labels {y.shape} do not match")
        out[f"y_{part}"] = y.astype(np.int64)
    _check_sizes(spec, len(out["y_train"]), len(out["y_test"]))
    _check_labels(spec, out["y_train"], out["y_test"])
    return out


TITANIC_COLUMNS = ("pclass", "survived", "sex", "age", "sibsp", "parch")


def titanic(spec: Spec, source: Path) -> Arrays:
    """vcdExtra's Titanicp (pclass, survived, sex, age, sibsp, parch) as numeric features.

    pclass one-hot, sex as 0/1, age with missing values set to the *training*
    median plus a missing flag, sibsp and parch as counts.
    """
    import pandas as pd

    # Unpickling runs code from the file: safe only because its sha256 is pinned
    # and was verified by the caller.
    df = pd.read_pickle(source, compression="xz")
    missing = [c for c in TITANIC_COLUMNS if c not in df.columns]
    if missing:
        raise DatasetError(f"{spec.name}: the table lacks columns {missing} (has {list(df.columns)})")
    y = (df["survived"].astype(str) == "survived").to_numpy(np.int64)
    train, test = split(y)
    age = df["age"].to_numpy(np.float64)
    median = float(np.nanmedian(age[train]))
    classes = ("1st", "2nd", "3rd")
    pclass = df["pclass"].astype(str).to_numpy()
    if not np.isin(pclass, classes).all():
        raise DatasetError(f"{spec.name}: unexpected pclass values {sorted(set(pclass) - set(classes))}")
    cols = {f"pclass_{c}": (pclass == c).astype(np.float64) for c in classes}
    cols["sex_male"] = (df["sex"].astype(str) == "male").to_numpy(np.float64)
    cols["age"] = np.where(np.isnan(age), median, age)
    cols["age_missing"] = np.isnan(age).astype(np.float64)
    cols["sibsp"] = df["sibsp"].to_numpy(np.float64)
    cols["parch"] = df["parch"].to_numpy(np.float64)
    x = np.column_stack(list(cols.values()))
    _check_sizes(spec, len(train), len(test))
    return {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test],
            "feature_names": np.array(list(cols), dtype=str)}


def tictactoe_endgames(spec: Spec, source: None) -> Arrays:
    boards = tictactoe.endgames()
    x = np.array([tictactoe.one_hot(b) for b, _ in boards], dtype=np.float64)
    y = np.array([int(won) for _, won in boards], dtype=np.int64)
    return _tabular(spec, x, y, tictactoe.feature_names())


def sklearn_bundled(spec: Spec, source: None) -> Arrays:
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, spec.params["function"])()
    names = [str(n) for n in bunch.feature_names]
    if [str(c) for c in bunch.target_names] != list(spec.classes):
        raise DatasetError(f"{spec.name}: scikit-learn's classes {list(bunch.target_names)} differ from {list(spec.classes)}")
    return _tabular(spec, np.asarray(bunch.data), np.asarray(bunch.target), names)


#: loader name -> (function, format version of its output). Only downloaded data is cached.
LOADERS: dict[str, tuple[Callable[[Spec, Path | None], Arrays], int]] = {
    "imdb": (imdb, 1),
    "idx": (idx, 1),
    "titanic": (titanic, 1),
    "tictactoe": (tictactoe_endgames, 1),
    "sklearn": (sklearn_bundled, 1),
}


def to_dataset(spec: Spec, a: Arrays) -> Dataset:
    """The :class:`Dataset` for a loader's arrays (IMDB text is decoded here)."""
    if spec.kind == "text":
        x_train = a["text_train"].tobytes().decode("utf-8").split(TEXT_SEP)
        x_test = a["text_test"].tobytes().decode("utf-8").split(TEXT_SEP)
    else:
        x_train, x_test = a["x_train"], a["x_test"]
    names = [str(n) for n in a["feature_names"]] if "feature_names" in a else None
    ds = Dataset(
        name=spec.name, kind=spec.kind, classes=list(spec.classes),
        x_train=x_train, y_train=a["y_train"], x_test=x_test, y_test=a["y_test"],
        feature_names=names, source=spec.source, licence=spec.licence, citation=spec.citation,
    )
    if len(ds.x_train) != ds.n_train or len(ds.x_test) != ds.n_test:
        raise DatasetError(f"{spec.name}: features and labels differ in length")
    return ds
