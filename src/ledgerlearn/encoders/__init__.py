"""Input encoders, looked up by the name a shared model stores on chain.

A shared model's entry contract names the transform clients must apply to a
person's input (``encoder()``, at most 64 bytes); :func:`get_encoder` returns
it:

=====================================================  ================================================
on-chain name                                          transform
=====================================================  ================================================
``"none"``                                             the input already is the model's integer input
``"Multiply by 1E9, then round"``                      dense floats -> fixed point (SCALE 1e9)
``"Normalize to L2 norm 1, multiply by 1E9, then       dense floats -> L2 norm 1 -> fixed point
round"``
``"MurmurHash3"``                                      lower-case, split on white space, unsigned
                                                       32-bit MurmurHash3 (seed 0) of each token
``"IMDB vocab"``                                       lower-case, ``<br />`` and punctuation -> space,
                                                       split; index of each word in the 1000 most
                                                       frequent words of the IMDB training split
                                                       (:func:`imdb_vocab`, built and cached on first
                                                       use; unknown words dropped)
``"IMDB vocab, binary"``                                the same, each word once (binary features, also
                                                       for naive Bayes)
``"Image: flatten, divide by 255, L2 norm 1, multiply  grey-scale image -> pixels / 255 -> L2 norm 1
by 1E9, round"``                                       -> fixed point (dense models)
``"Image: flatten, indices of pixels >= 128"``         grey-scale image -> sorted indices of the pixels
                                                       >= 128 (sparse models, naive Bayes)
``"all-MiniLM-L6-v2 embedding, L2 norm 1, multiply by  text -> 384-dim sentence embedding -> L2 norm 1
1E9, round"``                                          -> fixed point (dense models; needs the
                                                       ``embeddings`` extra)
=====================================================  ================================================

Every encoder has ``encode(raw, model_type) -> list[int]`` producing the
model's input type: sorted unique feature indices for sparse models, the
feature indices with repeats (sorted) for naive Bayes, fixed-point integers for
dense models; and ``encode_many(raws, model_type) -> list[list[int]]`` for a
batch. Text encoders take ``binary=True`` (per call, or as their ``binary``
attribute) to give naive Bayes unique indices too (binary features); the
image index encoder always does. :func:`validate_input` checks an already
encoded input against the model's input rules before anything is sent.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

from ledgerlearn.encoders.dense import (
    MULTIPLY_1E9,
    NORMALIZE,
    SCALE,
    FixedPointEncoder,
    NormalizeEncoder,
    fixed_norm_error,
    l2_normalize_fixed,
    l2_normalize_fixed_rows,
    parse_vector,
    to_fixed,
)
from ledgerlearn.encoders.embedding import (
    EMBEDDING,
    EMBEDDING_DIM,
    SentenceEmbeddingEncoder,
    embeddings_available,
    require_embeddings,
)
from ledgerlearn.encoders.image import IMAGE_BINARY, IMAGE_DENSE, ImageBinaryEncoder, ImageDenseEncoder
from ledgerlearn.encoders.imdb import imdb_vocab
from ledgerlearn.encoders.text import (
    IMDB_VOCAB,
    IMDB_VOCAB_BINARY,
    MURMURHASH3,
    MurmurHashEncoder,
    VocabEncoder,
    load_vocab,
    murmurhash3,
    tokenize,
)
from ledgerlearn.encoders.vocab import build_vocab, word_tokens
from ledgerlearn.errors import ValidationError

NONE = "none"

SPARSE_PERCEPTRON = "sparse perceptron"
DENSE_PERCEPTRON = "dense perceptron"
NAIVE_BAYES = "naive bayes"
NEAREST_CENTROID = "nearest centroid classifier"
SPARSE_NEAREST_CENTROID = "sparse nearest centroid classifier"
#: Model type names as the contracts report them, with the model file aliases.
MODEL_TYPE_ALIASES = {
    "perceptron": DENSE_PERCEPTRON,
    "dense nearest centroid classifier": NEAREST_CENTROID,
}
SPARSE_TYPES = frozenset({SPARSE_PERCEPTRON, SPARSE_NEAREST_CENTROID})
COUNT_TYPES = frozenset({NAIVE_BAYES})
DENSE_TYPES = frozenset({DENSE_PERCEPTRON, NEAREST_CENTROID})
MODEL_TYPES = SPARSE_TYPES | COUNT_TYPES | DENSE_TYPES

#: Encoder names this module knows.
ENCODER_NAMES = (NONE, MULTIPLY_1E9, NORMALIZE, MURMURHASH3, IMDB_VOCAB, IMDB_VOCAB_BINARY, IMAGE_DENSE, IMAGE_BINARY, EMBEDDING)
#: Longest encoder name the entry contracts store (``String[64]``), in UTF-8 bytes.
MAX_ENCODER_NAME_BYTES = 64
#: Largest feature index a sparse model accepts.
MAX_FEATURE_INDEX = 2**32 - 1
#: Norm errors above this are rejected by the client (the contracts' own,
#: tighter tolerance of 1e-7 is left to them: their revert reason is shown).
CLIENT_NORM_TOLERANCE = 1e-6

__all__ = [
    "EMBEDDING", "EMBEDDING_DIM", "ENCODER_NAMES", "IMAGE_BINARY", "IMAGE_DENSE", "IMDB_VOCAB", "IMDB_VOCAB_BINARY",
    "MAX_ENCODER_NAME_BYTES", "MULTIPLY_1E9", "MURMURHASH3", "NONE", "NORMALIZE", "SCALE",
    "FixedPointEncoder", "ImageBinaryEncoder", "ImageDenseEncoder", "MurmurHashEncoder", "NoneEncoder",
    "NormalizeEncoder", "SentenceEmbeddingEncoder", "VocabEncoder",
    "build_vocab", "canonical_model_type", "embeddings_available", "fixed_norm_error", "get_encoder",
    "imdb_vocab", "input_kind", "l2_normalize_fixed", "l2_normalize_fixed_rows", "load_vocab", "murmurhash3",
    "parse_vector", "require_embeddings", "shape_indices", "to_fixed", "tokenize", "validate_input", "word_tokens",
]


def canonical_model_type(model_type: str) -> str:
    """The contract's name for a model type (accepting the model file aliases)."""
    t = MODEL_TYPE_ALIASES.get(model_type, model_type)
    if t not in MODEL_TYPES:
        raise ValidationError(f"model_type: unknown model type {model_type!r} (expected one of {sorted(MODEL_TYPES)})")
    return t


def input_kind(model_type: str | None) -> str:
    """``"sparse"``, ``"counts"`` or ``"dense"``: the input type of a model."""
    if model_type is None:
        return "sparse"
    t = canonical_model_type(model_type)
    return "sparse" if t in SPARSE_TYPES else "counts" if t in COUNT_TYPES else "dense"


def shape_indices(indices: Sequence[int], model_type: str | None = None, *, binary: bool = False) -> list[int]:
    """Feature indices (text order, repeats) -> the model's input.

    Sparse models take sorted unique indices; naive Bayes takes every index
    (repeats count), sorted, or with ``binary=True`` each index once (binary
    features). ``model_type=None`` means sparse.
    """
    kind = input_kind(model_type)
    if kind == "sparse" or kind == "counts" and binary:
        return sorted(set(indices))
    if kind == "counts":
        return sorted(indices)
    raise ValidationError(f"encoder: a text encoder cannot feed a {model_type!r} model (it needs a dense vector)")


def _ints(x, what: str = "x") -> list[int]:
    out = []
    for i, v in enumerate(parse_vector(x)):
        if isinstance(v, bool):
            raise ValidationError(f"{what}[{i}]: expected an integer, got {v!r}")
        if isinstance(v, float):
            if not v.is_integer():
                raise ValidationError(f"{what}[{i}]: expected an integer, got {v!r}")
            v = int(v)
        if not isinstance(v, int):
            try:
                v = int(v)  # numpy integers
            except (TypeError, ValueError):
                raise ValidationError(f"{what}[{i}]: expected an integer, got {v!r}") from None
        out.append(v)
    return out


def validate_input(x, model_type: str | None) -> list[int]:
    """Check an encoded input against the model's input rules; returns it as ints.

    Sparse: strictly increasing indices in ``[0, 2**32)``. Naive Bayes:
    non-negative indices. Dense: fixed-point integers with L2 norm 1 (client
    tolerance :data:`CLIENT_NORM_TOLERANCE`). Messages name ``x``.
    """
    xs = _ints(x)
    kind = input_kind(model_type)
    if kind in ("sparse", "counts"):
        for i, v in enumerate(xs):
            if v < 0 or v > MAX_FEATURE_INDEX:
                raise ValidationError(f"x[{i}]: feature index {v} is outside [0, 2**32)")
        if kind == "sparse":
            for i in range(1, len(xs)):
                if xs[i] <= xs[i - 1]:
                    raise ValidationError(
                        f"x: a {model_type} needs strictly increasing feature indices (x[{i - 1}]={xs[i - 1]}, x[{i}]={xs[i]})"
                    )
    else:
        if not xs:
            raise ValidationError("x: the vector is empty")
        err = fixed_norm_error(xs)
        if not err <= CLIENT_NORM_TOLERANCE:
            norm = math.sqrt(sum(v * v for v in xs)) / SCALE
            raise ValidationError(
                f"x: a {model_type} needs L2 norm 1 in fixed point (SCALE 1e9); this vector's norm is {norm:.9g}"
                " (normalise it, or use the normalising encoder)"
            )
    return xs


class NoneEncoder:
    """``"none"``: the input already is the model's integer input (validated only)."""

    name = NONE
    kind = "none"

    def encode(self, raw, model_type: str | None = None) -> list[int]:
        return validate_input(raw, model_type)

    def __repr__(self) -> str:
        return "NoneEncoder('none')"


def get_encoder(name: str, *, vocab: Mapping[str, int] | str | os.PathLike | None = None):
    """The encoder an on-chain encoder name stands for.

    ``"IMDB vocab"`` uses ``vocab`` (a word -> index mapping or a JSON file)
    when given, else :func:`imdb_vocab` (built from the IMDB data set on first
    use, then cached). A ``vocab`` with a name this module does not know gives
    a :class:`VocabEncoder` of that name. The embedding encoder needs the
    ``embeddings`` extra (its model is loaded on the first encode).
    """
    if not isinstance(name, str):
        raise ValidationError(f"encoder: expected an encoder name (a string), got {type(name).__name__}")
    if name == NONE:
        return NoneEncoder()
    if name == MULTIPLY_1E9:
        return FixedPointEncoder()
    if name == NORMALIZE:
        return NormalizeEncoder()
    if name == MURMURHASH3:
        return MurmurHashEncoder()
    if name == IMAGE_DENSE:
        return ImageDenseEncoder()
    if name == IMAGE_BINARY:
        return ImageBinaryEncoder()
    if name == EMBEDDING:
        require_embeddings()
        return SentenceEmbeddingEncoder()
    if name == IMDB_VOCAB_BINARY:
        return VocabEncoder(imdb_vocab() if vocab is None else vocab, name=name, binary=True)
    if name == IMDB_VOCAB and vocab is None:
        return VocabEncoder(imdb_vocab(), name=name)
    if name == IMDB_VOCAB or vocab is not None and name not in ENCODER_NAMES:
        return VocabEncoder(vocab, name=name)
    raise ValidationError(f"encoder: unknown encoder {name!r} (known: {', '.join(repr(n) for n in ENCODER_NAMES)})")
