"""Off-chain stores: originals (SQLite, concurrent) and deployment records (atomic JSON)."""

from __future__ import annotations

import json
import multiprocessing as mp
import sqlite3

import pytest

from ledgerlearn.errors import NotFoundError, ValidationError
from ledgerlearn.store import DeploymentStore, ModelDeployment, OriginalStore

ADDR = "0x" + "11" * 20
AUTHOR = "0x" + "22" * 20


def h(i: int) -> str:
    return "0x" + f"{i:064x}"


def test_originals_roundtrip(tmp_path):
    with OriginalStore(tmp_path / "o.sqlite") as s:
        r = s.add(chain_id=1, tx_hash=h(1).upper().replace("0X", "0x"), model=ADDR, author=AUTHOR, raw="Great movie",
                  encoded=[3, 9], label=1, added_time=100, encoder="MurmurHash3")
        assert r.tx_hash == h(1)
        got = s.get(1, h(1))
        assert got.raw == "Great movie" and got.encoded == (3, 9) and got.label == 1 and got.encoder == "MurmurHash3"
        assert s.get(2, h(1)) is None  # keyed by chain too
        s.add(chain_id=1, tx_hash=h(2), model=ADDR, author=AUTHOR, raw=[0.5, 0.25], encoded=[5, 6], label=0, added_time=50)
        assert json.loads(s.get(1, h(2)).raw) == [0.5, 0.25]
        assert [r.tx_hash for r in s.list(1, model=ADDR.upper().replace("0X", "0x"))] == [h(2), h(1)]
        assert set(s.by_hash(1, [h(1), h(2), h(3)])) == {h(1), h(2)}
        with pytest.raises(NotFoundError, match="tx_hash"):
            s.require(1, h(3))
        with pytest.raises(ValidationError, match="tx_hash"):
            s.get(1, "0x12")
        assert s.delete(1, h(2)) and s.count() == 1
    # WAL mode, durable across opens
    conn = sqlite3.connect(tmp_path / "o.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    with OriginalStore(tmp_path / "o.sqlite") as s:
        assert s.get(1, h(1)).raw == "Great movie"


def test_mismatch_check(tmp_path):
    with OriginalStore(":memory:") as s:
        rec = s.add(chain_id=1, tx_hash=h(1), model=ADDR, author=AUTHOR, raw="b a", encoded=[1, 2], label=1, added_time=1)
        enc = {"a": 1, "b": 2}

        def encode(text):
            return sorted(enc[w] for w in text.split())

        assert OriginalStore.check(rec, [1, 2], encode) is None
        assert "stored encoded" in OriginalStore.check(rec, [1, 3], encode)
        enc["a"] = 5
        assert "re-encoded" in OriginalStore.check(rec, [1, 2], encode)


def _writer(path: str, start: int, n: int) -> None:
    s = OriginalStore(path)
    for i in range(start, start + n):
        s.add(chain_id=1, tx_hash=h(i), model=ADDR, author=AUTHOR, raw=f"text {i}", encoded=[i], label=i % 2, added_time=i)
    s.close()


def test_concurrent_writers(tmp_path):
    path = str(tmp_path / "c.sqlite")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, k * 1000, 60)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with OriginalStore(path) as s:
        assert s.count() == 240


def test_deployments(tmp_path):
    ds = DeploymentStore(tmp_path / "deployments")
    assert ds.models(31337) == {}
    dep = ModelDeployment(name="imdb", address=ADDR.lower(), model_type="sparse perceptron", incentive="drt",
                          encoder="IMDB vocab", deploy_block=3, tx_hashes=[h(1), h(2)], vocab="/x/vocab.json")
    ds.add_model(31337, dep)
    assert (tmp_path / "deployments" / "31337.json").exists()
    got = ds.get(31337, "imdb")
    assert got.address == "0x" + "11" * 20 and got.deploy_block == 3 and got.vocab == "/x/vocab.json"
    assert ds.get(31337, ADDR.upper().replace("0X", "0x")).name == "imdb"
    with pytest.raises(ValidationError, match="name"):
        ds.add_model(31337, dep)
    with pytest.raises(ValidationError, match="name"):
        ds.add_model(31337, ModelDeployment(name="bad name!", address=ADDR, model_type="x", incentive="drt", encoder="none"))
    with pytest.raises(NotFoundError, match="imdb"):
        ds.get(1, "imdb")
    ds.set_infrastructure(31337, "factory", "0x" + "33" * 20)
    data = json.loads((tmp_path / "deployments" / "31337.json").read_text())
    assert data["chain_id"] == 31337 and data["infrastructure"]["factory"].lower() == "0x" + "33" * 20
    assert data["models"]["imdb"]["tx_hashes"] == [h(1), h(2)]
    # unknown keys written by newer versions survive a round trip in `extra`
    data["models"]["imdb"]["future_field"] = 1
    (tmp_path / "deployments" / "31337.json").write_text(json.dumps(data))
    assert ds.get(31337, "imdb").extra == {"future_field": 1}
    assert ds.remove_model(31337, "imdb") and ds.models(31337) == {}
    assert not list((tmp_path / "deployments").glob("*.tmp"))


def _dep_writer(root: str, k: int) -> None:
    ds = DeploymentStore(root)
    for i in range(10):
        ds.add_model(5, ModelDeployment(name=f"m{k}-{i}", address="0x" + f"{k * 100 + i + 1:040x}",
                                        model_type="naive bayes", incentive="points", encoder="none"))


def test_deployments_concurrent_updates_lose_nothing(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_dep_writer, args=(str(tmp_path), k)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(DeploymentStore(tmp_path).models(5)) == 40
