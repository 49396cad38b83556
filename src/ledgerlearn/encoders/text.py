"""Text encoders: turn a sentence into the integer feature indices a model takes.

- :class:`MurmurHashEncoder` (on-chain name ``"MurmurHash3"``): lower-case,
  split on white space (as the reference system's clients did), then the
  unsigned 32-bit MurmurHash3 (x86, seed 0) of each token's UTF-8 bytes.
- :class:`VocabEncoder` (on-chain name ``"IMDB vocab"``, or any vocabulary):
  the words of :func:`ledgerlearn.encoders.vocab.word_tokens` (lower-case,
  ``<br />`` and punctuation replaced by spaces, split on white space), each
  known word becoming its index in a vocabulary mapping word -> index;
  unknown words are dropped.

``tokens(text)`` gives the indices in text order with repeats; ``encode(text,
model_type)`` turns them into the model's input (see
:func:`ledgerlearn.encoders.shape_indices`): sorted unique indices for sparse
models, sorted indices with repeats (word counts) for naive Bayes.
``binary=True`` (per call, or as the encoder's ``binary`` attribute) gives
naive Bayes sorted *unique* indices too: binary word-presence features, which
is how the IMDB models are trained. ``encode_many(texts, model_type)`` encodes
a batch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import mmh3

from ledgerlearn.encoders.vocab import word_tokens
from ledgerlearn.errors import NotFoundError, ValidationError

MURMURHASH3 = "MurmurHash3"
IMDB_VOCAB = "IMDB vocab"
#: The same vocabulary as binary features (each word once), also for naive Bayes.
IMDB_VOCAB_BINARY = "IMDB vocab, binary"


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
    #: Default of ``encode``'s ``binary``: naive Bayes gets unique indices too.
    binary: bool = False

    def tokens(self, text: str) -> list[int]:  # pragma: no cover - abstract
        raise NotImplementedError

    def encode(self, raw, model_type: str | None = None, *, binary: bool | None = None) -> list[int]:
        """``raw`` (a string) -> the model's input; ``binary=None`` uses :attr:`binary`."""
        from ledgerlearn.encoders import shape_indices

        return shape_indices(self.tokens(raw), model_type, binary=self.binary if binary is None else binary)

    def encode_many(self, texts, model_type: str | None = None, *, binary: bool | None = None) -> list[list[int]]:
        """``[encode(t, model_type, binary=binary) for t in texts]``."""
        return [self.encode(t, model_type, binary=binary) for t in _text_list(texts)]

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


def _text_list(texts) -> list:
    if isinstance(texts, str):
        raise ValidationError("texts: expected a list of strings, got one string (use encode)")
    try:
        return list(texts)
    except TypeError:
        raise ValidationError(f"texts: expected a list of strings, got {type(texts).__name__}") from None


class VocabEncoder(_TextEncoder):
    """``"IMDB vocab"`` (or any vocabulary): each known word becomes its index.

    ``binary=True`` makes naive Bayes inputs binary (unique indices) by default.
    """

    def __init__(self, vocab: Mapping[str, int] | str | os.PathLike, name: str = IMDB_VOCAB, *, binary: bool = False):
        self.vocab = load_vocab(vocab)
        self.name = name
        self.binary = bool(binary)

    def tokens(self, text: str) -> list[int]:
        get = self.vocab.get
        return [i for i in map(get, word_tokens(text)) if i is not None]

    def encode_many(self, texts, model_type: str | None = None, *, binary: bool | None = None) -> list[list[int]]:
        """Encode a batch of texts (a few seconds for the 50,000 IMDB reviews)."""
        from ledgerlearn.encoders import input_kind

        texts = _text_list(texts)
        kind = input_kind(model_type)
        if kind == "dense":
            from ledgerlearn.encoders import shape_indices

            shape_indices([], model_type)  # raises the usual message
        unique = kind == "sparse" or (self.binary if binary is None else binary)
        get = self.vocab.get
        out = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise ValidationError(f"texts[{i}]: expected a string, got {type(text).__name__}")
            idx = [j for j in map(get, word_tokens(text)) if j is not None]
            out.append(sorted(set(idx)) if unique else sorted(idx))
        return out
