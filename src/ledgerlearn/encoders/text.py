"""Text encoders: turn a sentence into the integer feature indices a model takes.

Both encoders lower-case the text and split it on white space (as the reference
system's clients did), then map each token to a feature index:

- :class:`MurmurHashEncoder` (on-chain name ``"MurmurHash3"``): the unsigned
  32-bit MurmurHash3 (x86, seed 0) of the token's UTF-8 bytes.
- :class:`VocabEncoder` (on-chain name ``"IMDB vocab"``): the token's index in a
  vocabulary mapping word -> index; unknown words are dropped.

``tokens(text)`` gives the indices in text order with repeats; ``encode(text,
model_type)`` turns them into the model's input (see
:func:`ledgerlearn.encoders.shape_indices`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import mmh3

from ledgerlearn.errors import NotFoundError, ValidationError

MURMURHASH3 = "MurmurHash3"
IMDB_VOCAB = "IMDB vocab"


def tokenize(text: str) -> list[str]:
    """Lower-case ``text`` and split it on white space."""
    if not isinstance(text, str):
        raise ValidationError(f"text: expected a string, got {type(text).__name__}")
    return text.lower().split()


def murmurhash3(token: str) -> int:
    """Unsigned 32-bit MurmurHash3 (x86_32, seed 0) of ``token``'s UTF-8 bytes."""
    return mmh3.hash(token, 0, signed=False)


class _TextEncoder:
    name: str = ""
    kind = "text"

    def tokens(self, text: str) -> list[int]:  # pragma: no cover - abstract
        raise NotImplementedError

    def encode(self, raw, model_type: str | None = None) -> list[int]:
        from ledgerlearn.encoders import shape_indices

        return shape_indices(self.tokens(raw), model_type)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class MurmurHashEncoder(_TextEncoder):
    """``"MurmurHash3"``: each token becomes its unsigned 32-bit MurmurHash3."""

    name = MURMURHASH3

    def tokens(self, text: str) -> list[int]:
        return [murmurhash3(t) for t in tokenize(text)]


def load_vocab(source: Mapping[str, int] | str | os.PathLike) -> dict[str, int]:
    """A vocabulary (word -> index) from a mapping or a JSON file holding one."""
    if isinstance(source, Mapping):
        data = dict(source)
        origin = "vocab"
    else:
        path = Path(source)
        if not path.is_file():
            raise NotFoundError(f"vocab: no vocabulary file at {str(path)!r}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ValidationError(f"vocab: {str(path)!r} is not valid JSON ({exc})") from exc
        origin = f"vocab file {str(path)!r}"
        if isinstance(data, list):  # a word list: index = position
            data = {w: i for i, w in enumerate(data)}
    if not isinstance(data, dict):
        raise ValidationError(f"vocab: {origin} must map words to indices")
    out: dict[str, int] = {}
    for word, idx in data.items():
        if not isinstance(word, str) or isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
            raise ValidationError(f"vocab: {origin} maps {word!r} to {idx!r}; expected a word -> non-negative integer")
        out[word.lower()] = idx
    return out


class VocabEncoder(_TextEncoder):
    """``"IMDB vocab"`` (or any vocabulary): each known word becomes its index."""

    def __init__(self, vocab: Mapping[str, int] | str | os.PathLike, name: str = IMDB_VOCAB):
        self.vocab = load_vocab(vocab)
        self.name = name

    def tokens(self, text: str) -> list[int]:
        v = self.vocab
        return [v[t] for t in tokenize(text) if t in v]
