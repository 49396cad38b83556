"""Vocabulary encoders: tokenisation, vocabulary building, the cached IMDB vocabulary."""

from __future__ import annotations

import json

import pytest

import ledgerlearn.encoders.imdb as imdb
from ledgerlearn.encoders import (
    IMDB_VOCAB,
    MURMURHASH3,
    VocabEncoder,
    build_vocab,
    get_encoder,
    imdb_vocab,
    murmurhash3,
    tokenize,
    word_tokens,
)
from ledgerlearn.errors import ValidationError

# a tiny stand-in for the IMDB training split: "good" x4, "bad" x3, "movie" x3, ...
FAKE_TRAIN = [
    "Good movie!<br />Good acting.",
    "Bad movie, bad plot; GOOD music.",
    "<br /><br />It's bad... and it's good: a movie",
]
FAKE_VOCAB_WORDS = ["good", "bad", "movie", "it's", "a", "acting", "and", "music", "plot"]


@pytest.fixture
def fake_imdb(tmp_path, monkeypatch):
    """``imdb_vocab`` on a tiny fake data set and a temporary cache: nothing is downloaded."""
    calls = []

    def train_texts():
        calls.append(1)
        return list(FAKE_TRAIN)

    monkeypatch.setattr(imdb, "IMDB_VOCAB_SIZE", len(FAKE_VOCAB_WORDS))
    monkeypatch.setattr(imdb, "_cache_dir", lambda: tmp_path / "data")
    monkeypatch.setattr(imdb, "_train_texts", train_texts)
    monkeypatch.setattr(imdb, "_memo", {})
    return calls


# ----------------------------------------------------------------- tokenising
@pytest.mark.parametrize(
    "text, words",
    [
        ("Great movie!", ["great", "movie"]),
        ("great,movie", ["great", "movie"]),  # punctuation separates words
        ("A <br />B<br /><br />c", ["a", "b", "c"]),  # HTML line breaks, never "br"
        ("<BR />Loud", ["loud"]),  # lower-cased first
        ("don't won't 'quoted'", ["don't", "won't", "'quoted'"]),  # apostrophes stay
        ("a\tb\nc  d", ["a", "b", "c", "d"]),
        ('x!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~y', ["x", "y"]),
        ("10/10, 2-3 hrs", ["10", "10", "2", "3", "hrs"]),
        ("Ça VA ?", ["ça", "va"]),
        ("", []),
        ("...!!!", []),
    ],
)
def test_word_tokens(text, words):
    assert word_tokens(text) == words


def test_murmurhash_tokenisation_is_unchanged():
    # the MurmurHash3 encoder keeps the spec's lower-case + white-space split
    assert tokenize("Great movie!<br />") == ["great", "movie!<br", "/>"]
    assert get_encoder(MURMURHASH3).encode("movie, movie") == sorted({murmurhash3("movie,"), murmurhash3("movie")})
    with pytest.raises(ValidationError, match="text"):
        word_tokens(b"bytes")


# ------------------------------------------------------------- building
def test_build_vocab_ranks_by_count_then_alphabet():
    texts = ["b a c", "c b", "c d d e"]  # c:3, b:2, d:2, a:1, e:1
    assert build_vocab(texts, size=10) == {"c": 0, "b": 1, "d": 2, "a": 3, "e": 4}
    assert build_vocab(texts, size=2) == {"c": 0, "b": 1}
    # the order of the texts does not matter (ties are alphabetical, not first-seen)
    assert build_vocab(list(reversed(texts)), size=10) == build_vocab(texts, size=10)
    assert build_vocab(iter(texts), size=3) == {"c": 0, "b": 1, "d": 2}
    assert build_vocab([], size=5) == {}
    # the same tokenisation as encoding
    assert build_vocab(["Good!<br />good, BAD"], size=5) == {"good": 0, "bad": 1}


def test_build_vocab_errors():
    for bad in (0, -1, 1.5, True, "10"):
        with pytest.raises(ValidationError, match="size"):
            build_vocab(["a"], size=bad)
    with pytest.raises(ValidationError, match="texts"):
        build_vocab("one string")
    with pytest.raises(ValidationError, match=r"texts\[1\]"):
        build_vocab(["ok", 3])
    with pytest.raises(ValidationError, match="texts"):
        build_vocab(42)


# ------------------------------------------------------ counts versus binary
def test_binary_and_count_features():
    enc = VocabEncoder({"good": 0, "bad": 1, "movie": 2})
    text = "Good, good movie. Bad? GOOD!"
    assert enc.tokens(text) == [0, 0, 2, 1, 0]
    assert enc.encode(text, "sparse perceptron") == [0, 1, 2]
    assert enc.encode(text, "naive bayes") == [0, 0, 0, 1, 2]  # word counts
    assert enc.encode(text, "naive bayes", binary=True) == [0, 1, 2]  # word presence
    assert enc.encode(text, "sparse perceptron", binary=False) == [0, 1, 2]  # sparse models are always binary
    binary = VocabEncoder({"good": 0, "bad": 1, "movie": 2}, binary=True)
    assert binary.binary and binary.encode(text, "naive bayes") == [0, 1, 2]
    assert binary.encode(text, "naive bayes", binary=False) == [0, 0, 0, 1, 2]  # per call wins
    # hashing encoders take the same switch
    h = get_encoder(MURMURHASH3)
    assert h.encode("a a", "naive bayes", binary=True) == [murmurhash3("a")]
    with pytest.raises(ValidationError, match="encoder"):
        enc.encode(text, "dense perceptron")


def test_encode_many_matches_encode():
    enc = VocabEncoder({"good": 0, "bad": 1, "movie": 2, "it's": 3})
    texts = FAKE_TRAIN + ["", "nothing known here"]
    for model_type in ("sparse perceptron", "naive bayes", "sparse nearest centroid classifier"):
        for binary in (None, True, False):
            assert enc.encode_many(texts, model_type, binary=binary) == [
                enc.encode(t, model_type, binary=binary) for t in texts
            ]
    assert enc.encode_many((t for t in texts), "naive bayes") == [enc.encode(t, "naive bayes") for t in texts]
    assert get_encoder(MURMURHASH3).encode_many(["a b", "b"]) == [
        sorted({murmurhash3("a"), murmurhash3("b")}), [murmurhash3("b")]]
    assert enc.encode_many([], "naive bayes") == []
    with pytest.raises(ValidationError, match="texts"):
        enc.encode_many("one string", "naive bayes")
    with pytest.raises(ValidationError, match=r"texts\[1\]"):
        enc.encode_many(["ok", None], "naive bayes")
    with pytest.raises(ValidationError, match="encoder"):
        enc.encode_many(["ok"], "dense perceptron")
    with pytest.raises(ValidationError, match="model_type"):
        enc.encode_many(["ok"], "random forest")


# ------------------------------------------------------- the IMDB vocabulary
def test_imdb_vocab_is_built_from_the_training_split_and_cached(fake_imdb, tmp_path):
    v = imdb_vocab()
    assert v == {w: i for i, w in enumerate(FAKE_VOCAB_WORDS)}
    assert len(fake_imdb) == 1
    path = tmp_path / "data" / "imdb" / f"vocab-{len(FAKE_VOCAB_WORDS)}.json"
    doc = json.loads(path.read_text())
    assert doc["words"] == FAKE_VOCAB_WORDS and doc["encoder"] == IMDB_VOCAB and doc["tie_break"] == "alphabetical"
    assert len(doc["source_sha256"]) == 64 and len(doc["words_sha256"]) == 64
    # the same process: memoised; a new process: read from the file
    assert imdb_vocab() == v and len(fake_imdb) == 1
    imdb._memo.clear()
    assert imdb_vocab() == v and len(fake_imdb) == 1
    # callers get copies
    imdb_vocab()["zzz"] = 99
    assert "zzz" not in imdb_vocab()
    # rebuild on request
    assert imdb_vocab(rebuild=True) == v and len(fake_imdb) == 2


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_text("{not json"),
        lambda p: p.write_text(p.read_text().replace('"good"', '"gold"')),  # words no longer match their hash
        lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "format": 99})),
        lambda p: p.write_text("[]"),
        lambda p: p.unlink(),
    ],
)
def test_imdb_vocab_rebuilds_a_missing_or_corrupt_cache(fake_imdb, tmp_path, damage):
    v = imdb_vocab()
    path = imdb.vocab_path()
    damage(path)
    imdb._memo.clear()
    assert imdb_vocab() == v and len(fake_imdb) == 2
    assert json.loads(path.read_text())["words"] == FAKE_VOCAB_WORDS  # repaired


def test_get_encoder_uses_the_imdb_vocab_unless_given_one(fake_imdb):
    enc = get_encoder(IMDB_VOCAB)
    assert isinstance(enc, VocabEncoder) and enc.name == IMDB_VOCAB
    assert enc.vocab == imdb_vocab()
    assert enc.encode("Good movie, BAD movie!<br />Good.", "naive bayes") == [0, 0, 1, 2, 2]
    assert enc.encode("Good movie, BAD movie!<br />Good.", "naive bayes", binary=True) == [0, 1, 2]
    # an explicit vocabulary wins, and no data set is loaded for it
    fake_imdb.clear()
    imdb._memo.clear()
    assert get_encoder(IMDB_VOCAB, vocab={"movie": 5}).encode("good movie") == [5]
    assert fake_imdb == []


def test_imdb_vocab_load_failures_are_validation_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(imdb, "_memo", {})
    monkeypatch.setattr(imdb, "_cache_dir", lambda: tmp_path)

    def missing_module():
        raise ImportError("no module named ledgerlearn.datasets")

    monkeypatch.setattr(imdb, "_train_texts", missing_module)
    with pytest.raises(ValidationError, match="vocab"):
        imdb_vocab()
    monkeypatch.setattr(imdb, "_train_texts", lambda: ["only three words"])
    with pytest.raises(ValidationError, match="vocab.*only 3"):
        imdb_vocab()
    assert not (tmp_path / "imdb").exists() or not any((tmp_path / "imdb").iterdir())
