"""Model files: the reference (0xDeCA10B) JSON format, read and written.

``type`` is one of ``"sparse perceptron"``, ``"dense perceptron"`` (alias
``"perceptron"``), ``"naive bayes"``, ``"nearest centroid classifier"`` (alias
``"dense nearest centroid classifier"``) and ``"sparse nearest centroid
classifier"``. Reals are floats, converted with ``round(x * 1e9)``. Accepted
aliases: ``"bias"`` for ``"intercept"``, ``"intents"`` for ``"centroids"``;
``learningRate`` defaults to 1 and ``smoothingFactor`` to 1. A malformed file
raises :class:`~ledgerlearn.errors.ValidationError` naming the field.

    model = load_model("imdb.json")      # a mirror (SparsePerceptron, ...)
    save_model(model, "out.json")
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from typing import Any

from ledgerlearn.errors import ValidationError
from ledgerlearn.models.base import ModelMirror
from ledgerlearn.models.dense_centroid import DenseCentroid
from ledgerlearn.models.dense_perceptron import DensePerceptron
from ledgerlearn.models.fixedpoint import to_fixed
from ledgerlearn.models.naive_bayes import NaiveBayes
from ledgerlearn.models.sparse_centroid import SparseCentroid
from ledgerlearn.models.sparse_perceptron import SparsePerceptron

#: file ``type`` (lower case) -> mirror class
TYPES: dict[str, type[ModelMirror]] = {
    "sparse perceptron": SparsePerceptron,
    "dense perceptron": DensePerceptron,
    "perceptron": DensePerceptron,
    "naive bayes": NaiveBayes,
    "nearest centroid classifier": DenseCentroid,
    "dense nearest centroid classifier": DenseCentroid,
    "sparse nearest centroid classifier": SparseCentroid,
}

#: contract module kind -> mirror class
KINDS: dict[str, type[ModelMirror]] = {cls.kind: cls for cls in (SparsePerceptron, DensePerceptron, NaiveBayes, DenseCentroid, SparseCentroid)}

_MISSING = object()


def model_from_dict(d: Any) -> ModelMirror:
    """Build the mirror a model-file dict describes."""
    if not isinstance(d, dict):
        raise ValidationError("model file: must be a JSON object")
    t = d.get("type")
    if not isinstance(t, str):
        raise ValidationError("type: missing or not a string")
    cls = TYPES.get(t.strip().lower())
    if cls is None:
        raise ValidationError(f"type: unknown model type {t!r} (one of {', '.join(sorted(TYPES))})")
    return cls.from_dict(d)


def model_to_dict(model: ModelMirror) -> dict:
    """The model-file dict of a mirror (reals as floats, ``x / 1e9``)."""
    return model.to_dict()


def loads(text: str | bytes) -> ModelMirror:
    try:
        d = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(f"model file: not valid JSON ({exc})") from exc
    return model_from_dict(d)


def dumps(model: ModelMirror, *, indent: int | None = None) -> str:
    return json.dumps(model_to_dict(model), indent=indent)


def load_model(path: str | os.PathLike) -> ModelMirror:
    """Read a model file."""
    with open(path, "rb") as f:
        return loads(f.read())


def save_model(model: ModelMirror, path: str | os.PathLike, *, indent: int | None = None) -> None:
    """Write a model file (atomically: a temporary file renamed over ``path``)."""
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "w") as f:
        f.write(dumps(model, indent=indent))
    os.replace(tmp, path)


# -- field helpers used by the mirrors' from_dict -------------------------------

def _get(d: dict, key: str, *, aliases: tuple[str, ...] = (), default: Any = _MISSING) -> Any:
    for k in (key, *aliases):
        if k in d:
            return d[k]
    if default is _MISSING:
        raise ValidationError(f"{key}: missing")
    return default


def _real(d: dict, key: str, *, aliases: tuple[str, ...] = (), default: Any = _MISSING) -> int:
    v = _get(d, key, aliases=aliases, default=default)
    return to_fixed(v, key)


def _real_list(d: dict, key: str, *, default: Any = _MISSING) -> list[int]:
    v = _get(d, key, default=default)
    if not isinstance(v, list):
        raise ValidationError(f"{key}: must be a list of numbers")
    return [to_fixed(x, f"{key}[{i}]") for i, x in enumerate(v)]


def _int(v: Any, name: str) -> int:
    if isinstance(v, bool) or v is None:
        raise ValidationError(f"{name}: must be an integer, got {v!r}")
    if isinstance(v, int):
        return v
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            pass
    raise ValidationError(f"{name}: must be an integer, got {v!r}")


def _classes(d: dict, *, exactly: int | None = None) -> list[str]:
    v = _get(d, "classifications")
    if not isinstance(v, list) or not all(isinstance(c, str) for c in v):
        raise ValidationError("classifications: must be a list of class names")
    if exactly is not None and len(v) != exactly:
        raise ValidationError(f"classifications: this model has exactly {exactly} classes, got {len(v)}")
    if not v:
        raise ValidationError("classifications: at least one class")
    return list(v)


def _centroid_entries(d: dict) -> Iterator[tuple[str, dict]]:
    v = _get(d, "centroids", aliases=("intents",))
    if not isinstance(v, dict) or not v:
        raise ValidationError("centroids: must be a non-empty object {class name: {centroid, dataCount}}")
    for name, entry in v.items():
        if not isinstance(entry, dict):
            raise ValidationError(f"centroids.{name}: must be an object with 'centroid' and 'dataCount'")
        if "centroid" not in entry:
            raise ValidationError(f"centroids.{name}.centroid: missing")
        if "dataCount" not in entry:
            raise ValidationError(f"centroids.{name}.dataCount: missing")
        yield str(name), entry
