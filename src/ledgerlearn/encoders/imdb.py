"""The vocabulary behind the on-chain encoder name ``"IMDB vocab"``.

:func:`imdb_vocab` is the 1000 most frequent words of the IMDB *training*
split (25,000 reviews), ranked by :func:`ledgerlearn.encoders.vocab.build_vocab`
(index = frequency rank, ties alphabetical) with the tokenisation of
:func:`ledgerlearn.encoders.vocab.word_tokens`. Every client derives the same
vocabulary from the same pinned data set, so none needs to be handed a file.

It is built once and cached as JSON at ``cache_dir()/imdb/vocab-1000.json``
(``cache_dir()`` is the data set cache, env ``LEDGERLEARN_DATA_DIR``)::

    {"format": 1, "encoder": "IMDB vocab", "size": 1000, "tokenizer": ..., "tie_break": "alphabetical",
     "source": "imdb x_train", "source_sha256": ..., "words_sha256": ..., "words": ["the", "and", ...]}

``source_sha256`` is the sha256 of the training texts it was built from
(each text's UTF-8 bytes followed by a NUL byte); ``words_sha256`` that of the
word list, checked on every read: a missing, unreadable or altered file is
rebuilt (which loads, and if needed downloads, the data set).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path

from ledgerlearn.encoders.vocab import FILTERED_CHARS, build_vocab
from ledgerlearn.errors import LedgerlearnError, ValidationError

IMDB_VOCAB_SIZE = 1000
CACHE_FORMAT = 1
TOKENIZER = "lower-case; '<br />' and " + repr(FILTERED_CHARS) + " -> space; split on white space"

_lock = threading.Lock()
_memo: dict[str, dict[str, int]] = {}  # cache file path -> vocabulary, per process


# The data set module is imported lazily (it pulls numpy loaders and may be
# absent in trimmed installs); tests replace these two functions.
def _cache_dir() -> Path:
    from ledgerlearn.datasets import cache_dir

    return Path(cache_dir())


def _train_texts() -> list[str]:
    from ledgerlearn.datasets import load

    return list(load("imdb").x_train)


def vocab_path() -> Path:
    """Where the cached IMDB vocabulary lives."""
    return _cache_dir() / "imdb" / f"vocab-{IMDB_VOCAB_SIZE}.json"


def _sha256_texts(texts: list[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def _read(path: Path) -> dict[str, int] | None:
    """The cached vocabulary, or None when the file is missing or not intact."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        words = doc["words"]
        ok = (
            doc.get("format") == CACHE_FORMAT
            and doc.get("size") == IMDB_VOCAB_SIZE
            and doc.get("tokenizer") == TOKENIZER
            and isinstance(words, list)
            and all(isinstance(w, str) for w in words)
            and len(set(words)) == len(words) == IMDB_VOCAB_SIZE
            and doc.get("words_sha256") == _sha256_texts(words)
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return {w: i for i, w in enumerate(words)} if ok else None


def _write(path: Path, vocab: dict[str, int], source_sha256: str) -> None:
    words = sorted(vocab, key=vocab.__getitem__)
    doc = {
        "format": CACHE_FORMAT, "encoder": "IMDB vocab", "size": IMDB_VOCAB_SIZE, "tokenizer": TOKENIZER,
        "tie_break": "alphabetical", "source": "imdb x_train", "source_sha256": source_sha256,
        "words_sha256": _sha256_texts(words), "words": words,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # write then rename: concurrent builders never see half a file
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, indent=0)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def imdb_vocab(*, rebuild: bool = False) -> dict[str, int]:
    """The ``"IMDB vocab"`` vocabulary: word -> index (0 = most frequent).

    Read from the cache file, or built from ``load("imdb").x_train`` and
    cached (``rebuild=True`` forces a build). Raises :class:`ValidationError`
    (naming ``vocab``) when the data set cannot be loaded.
    """
    with _lock:
        try:
            path = vocab_path()
        except (LedgerlearnError, ImportError, OSError) as exc:
            raise ValidationError(f"vocab: the IMDB vocabulary needs the data set cache ({exc})") from exc
        key = str(path)
        if not rebuild and key in _memo:
            return dict(_memo[key])
        vocab = None if rebuild else _read(path)
        if vocab is None:
            try:
                texts = _train_texts()
            except (LedgerlearnError, ImportError, OSError) as exc:
                raise ValidationError(
                    f"vocab: the IMDB vocabulary could not be built: loading the IMDB data set failed ({exc});"
                    " fetch it (ledgerlearn.datasets.load('imdb')) or pass vocab=PATH"
                ) from exc
            vocab = build_vocab(texts, IMDB_VOCAB_SIZE)
            if len(vocab) != IMDB_VOCAB_SIZE:
                raise ValidationError(f"vocab: the IMDB training texts have only {len(vocab)} distinct words")
            try:
                _write(path, vocab, _sha256_texts(texts))
            except OSError:
                pass  # a read-only cache: the vocabulary is still right, just rebuilt next time
        _memo[key] = vocab
        return dict(vocab)
