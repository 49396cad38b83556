"""Encoders named on chain: text hashing, vocabulary, fixed point, L2 normalisation."""

from __future__ import annotations

import json
import math

import pytest

from ledgerlearn.encoders import (
    ENCODER_NAMES,
    IMDB_VOCAB,
    MAX_ENCODER_NAME_BYTES,
    MULTIPLY_1E9,
    MURMURHASH3,
    NONE,
    NORMALIZE,
    SCALE,
    fixed_norm_error,
    get_encoder,
    murmurhash3,
    parse_vector,
    validate_input,
)
from ledgerlearn.errors import LedgerlearnError, NotFoundError, ValidationError


def test_murmurhash3_reference_values():
    assert murmurhash3("hey") == 318325784
    assert murmurhash3("blockchain") == 3905957473
    assert all(0 <= murmurhash3(w) < 2**32 for w in ("a", "é", "x" * 1000))


def test_murmurhash_encoder_shapes_per_model_type():
    enc = get_encoder(MURMURHASH3)
    hey, bc = murmurhash3("hey"), murmurhash3("blockchain")
    assert enc.encode("Hey  BLOCKCHAIN hey\tblockchain\n", "sparse perceptron") == sorted({hey, bc})
    assert enc.encode("hey blockchain hey", "sparse nearest centroid classifier") == sorted({hey, bc})
    # naive Bayes counts repeats
    assert enc.encode("hey blockchain hey", "naive bayes") == sorted([hey, hey, bc])
    assert enc.encode("", "sparse perceptron") == []
    with pytest.raises(ValidationError, match="encoder"):
        enc.encode("hey", "dense perceptron")
    with pytest.raises(ValidationError, match="text"):
        enc.encode(["hey"], "sparse perceptron")


def test_vocab_encoder(tmp_path, monkeypatch):
    vocab = {"great": 3, "movie": 1, "bad": 7}
    enc = get_encoder(IMDB_VOCAB, vocab=vocab)
    assert enc.encode("A GREAT great movie, really", "sparse perceptron") == [1, 3]  # punctuation is dropped
    assert enc.encode("great movie great", "sparse perceptron") == [1, 3]
    assert enc.encode("great movie great", "naive bayes") == [1, 3, 3]
    p = tmp_path / "vocab.json"
    p.write_text(json.dumps(vocab))
    assert get_encoder(IMDB_VOCAB, vocab=p).encode("bad movie") == [1, 7]
    # a plain word list also works: index = position
    p2 = tmp_path / "words.json"
    p2.write_text(json.dumps(["zero", "one"]))
    assert get_encoder(IMDB_VOCAB, vocab=str(p2)).encode("one zero") == [0, 1]
    # without a vocabulary, the IMDB one is built; failing to load the data says so
    import ledgerlearn.encoders.imdb as imdb

    def no_data():
        raise OSError("offline")

    monkeypatch.setattr(imdb, "_cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr(imdb, "_train_texts", no_data)
    with pytest.raises(ValidationError, match="vocab.*offline"):
        get_encoder(IMDB_VOCAB)
    with pytest.raises(NotFoundError, match="vocab"):
        get_encoder(IMDB_VOCAB, vocab=tmp_path / "missing.json")
    with pytest.raises(ValidationError, match="vocab"):
        get_encoder(IMDB_VOCAB, vocab={"w": -1})


def test_fixed_point_and_normalisation():
    assert get_encoder(MULTIPLY_1E9).encode([0.6, -0.8, 1e-10]) == [600_000_000, -800_000_000, 0]
    x = get_encoder(NORMALIZE).encode([3.0, 4.0])
    assert x == [600_000_000, 800_000_000]
    # a long, awkward vector still lands within the contracts' tolerance
    v = [math.sin(i) * (i % 7 + 1) for i in range(1, 1281)]
    x = get_encoder(NORMALIZE).encode(v)
    assert fixed_norm_error(x) < 1e-7
    assert abs(math.sqrt(sum(a * a for a in x)) - SCALE) / SCALE < 1e-7
    with pytest.raises(ValidationError, match="zero vector"):
        get_encoder(NORMALIZE).encode([0, 0])
    with pytest.raises(ValidationError, match=r"x\[1\]"):
        get_encoder(MULTIPLY_1E9).encode([1.0, "a"])
    with pytest.raises(ValidationError, match=r"x\[0\]"):
        get_encoder(MULTIPLY_1E9).encode([float("nan")])
    # strings of numbers are accepted
    assert get_encoder(NORMALIZE).encode("[3, 4]") == [600_000_000, 800_000_000]
    assert parse_vector("3, 4 5") == [3, 4, 5]


def test_none_encoder_validates():
    enc = get_encoder(NONE)
    assert enc.encode([1, 5, 9], "sparse perceptron") == [1, 5, 9]
    assert enc.encode("[1, 5, 9]", "sparse perceptron") == [1, 5, 9]
    assert enc.encode([5, 5, 1], "naive bayes") == [5, 5, 1]
    with pytest.raises(ValidationError, match="strictly increasing"):
        enc.encode([5, 1], "sparse perceptron")
    with pytest.raises(ValidationError, match=r"x\[0\]"):
        enc.encode([-1], "naive bayes")
    with pytest.raises(ValidationError, match=r"x\[0\]"):
        enc.encode([2**32], "sparse perceptron")
    with pytest.raises(ValidationError, match="norm"):
        enc.encode([SCALE, SCALE], "dense perceptron")
    assert validate_input([SCALE, 0], "perceptron") == [SCALE, 0]  # model file alias


def test_unknown_names():
    with pytest.raises(ValidationError, match="encoder"):
        get_encoder("rot13")
    with pytest.raises(ValidationError, match="encoder"):
        get_encoder(None)
    with pytest.raises(ValidationError, match="model_type"):
        validate_input([1], "random forest")
    assert set(ENCODER_NAMES) >= {NONE, MULTIPLY_1E9, MURMURHASH3, IMDB_VOCAB}
    # every name fits the contracts' String[64]
    assert all(len(n.encode()) <= MAX_ENCODER_NAME_BYTES for n in ENCODER_NAMES)
    assert len(set(ENCODER_NAMES)) == len(ENCODER_NAMES)
    assert issubclass(ValidationError, LedgerlearnError)
