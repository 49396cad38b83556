"""The ledgerlearn CLI, run with typer's CliRunner against a temporary data dir.

Most tests run the commands against the Python fake of the entry contract
(``fake_shared_model.py``) so they exercise the CLI alone; the end-to-end test
at the bottom runs them on the real embedded chain and contracts.
"""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_shared_model import FakeChain  # noqa: E402

from ledgerlearn.chain.base import Receipt  # noqa: E402
from ledgerlearn.cli import common  # noqa: E402
from ledgerlearn.cli import deploy as deploy_mod  # noqa: E402
from ledgerlearn.cli.main import app  # noqa: E402
from ledgerlearn.shared_models import publish as publish_mod  # noqa: E402
from ledgerlearn.encoders import murmurhash3  # noqa: E402

runner = CliRunner()
SCALE = 10**9


@dataclass
class FakeMirror:
    model_type: str
    classes_: list
    weights_: dict
    intercept_: int
    learning_rate_: int


@dataclass
class FakeDeployResult:
    address: str
    receipts: list
    gas_total: int
    deploy_block: int = 0
    infrastructure: dict = field(default_factory=dict)


def _model_file(tmp_path: Path) -> Path:
    p = tmp_path / "model.json"
    p.write_text(json.dumps({
        "type": "sparse perceptron", "classifications": ["Negative", "Positive"], "weights": [],
        "sparseWeights": {str(murmurhash3("great")): 3.0, str(murmurhash3("movie")): 1.0, str(murmurhash3("awful")): -3.0},
        "intercept": 0, "learningRate": 1,
    }))
    return p


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """CLI wired to one in-memory FakeChain shared by every invocation of the test."""
    chain = FakeChain()
    monkeypatch.setattr(common, "open_chain", lambda env: chain)

    def load(path):
        d = json.loads(Path(path).read_text())
        return FakeMirror(d["type"], d["classifications"], {int(k): round(v * SCALE) for k, v in d["sparseWeights"].items()},
                          round(d["intercept"] * SCALE), round(d["learningRate"] * SCALE))

    def deploy_shared_model(chain_, mirror, *, incentive, name, description, encoder, owner, refund_wait,
                            owner_claim_wait, any_claim_wait, cost_weight, infrastructure=None):
        addr = chain_.deploy_entry(owner=owner, name=name, description=description, encoder=encoder, incentive=incentive,
                                   classes=mirror.classes_, refund_wait=refund_wait, owner_claim_wait=owner_claim_wait,
                                   any_claim_wait=any_claim_wait, cost_weight=cost_weight, weights=mirror.weights_,
                                   intercept=mirror.intercept_, lr=mirror.learning_rate_)
        r = Receipt(tx_hash="0x" + "ee" * 32, status=True, gas_used=123_456, block_number=chain_.block_number,
                    timestamp=chain_.timestamp(), sender=owner, to=None, contract_address=addr)
        return FakeDeployResult(addr, [r], 123_456, r.block_number)

    monkeypatch.setattr(deploy_mod, "load_model_file", load)
    monkeypatch.setattr(publish_mod, "deploy_shared_model", deploy_shared_model)
    monkeypatch.setattr(publish_mod, "model_to_dict", lambda m: {"type": m.model_type})
    monkeypatch.delenv("WEB3_PROVIDER_URI", raising=False)
    monkeypatch.delenv("LEDGERLEARN_ACCOUNT", raising=False)
    monkeypatch.setenv("LEDGERLEARN_DATA_DIR", str(tmp_path / "data"))
    return chain


def run(*args, ok=True):
    r = runner.invoke(app, [str(a) for a in args])
    if ok:
        assert r.exit_code == 0, f"{args}: exit {r.exit_code}\nstdout: {r.stdout}\nstderr: {r.stderr}\n{r.exception!r}"
    return r


def run_json(*args):
    return json.loads(run(*args, "--format", "json").stdout)


def deploy(tmp_path, name="sent", *extra):
    return run("deploy", "--name", name, "--model-file", _model_file(tmp_path), "--refund-wait", "1h",
               "--owner-claim-wait", "2h", "--any-claim-wait", "1d", "--cost-weight", "1e15", *extra)


def fails(args, match: str):
    r = run(*args, ok=False)
    assert r.exit_code != 0, r.stdout
    assert match in r.stderr, r.stderr
    line = r.stderr.strip()
    assert "\n" not in line and line.startswith("error: "), line
    return r


def test_help_and_groups():
    r = run("--help")
    for cmd in ("node", "deploy", "models", "predict", "contribute", "contributions", "refund", "report", "withdraw",
                "export-abi", "bench", "demo", "reportable", "info", "stats"):
        assert cmd in r.stdout
    run("node", "--help")
    run("bench", "--help")
    assert "ledgerlearn" in run("--version").stdout


def test_deploy_models_info_predict(fake, tmp_path):
    r = deploy(tmp_path, "sent", "--description", "sentiment")
    assert "deployed" in r.stdout
    rec = json.loads((tmp_path / "data" / "deployments" / "31337.json").read_text())
    m = rec["models"]["sent"]
    assert m["model_type"] == "sparse perceptron" and m["incentive"] == "drt" and m["encoder"] == "MurmurHash3"
    assert m["tx_hashes"] == ["0x" + "ee" * 32]
    [row] = run_json("models")
    assert row["name"] == "sent" and row["status"] == "ok"
    info = run_json("info", "sent")
    assert info["classes"] == ["Negative", "Positive"] and info["refund_wait"] == 3600 and info["description"] == "sentiment"
    assert run("predict", "sent", "a GREAT movie").stdout.strip() == "Positive (class 1)"
    out = run_json("predict", "sent", "awful")
    assert out["class"] == 0 and out["label"] == "Negative" and out["x"] == [murmurhash3("awful")]
    # by address, and already encoded input
    addr = row["address"]
    assert run_json("predict", addr, json.dumps([murmurhash3("great")]), "--encoded")["class"] == 1


def test_contribute_refund_flow(fake, tmp_path):
    deploy(tmp_path)
    chain = fake
    dry = run("contribute", "sent", "great movie", "Positive", "--dry-run")
    assert "deposit now:" in dry.stdout and "nothing sent" in dry.stdout
    n = chain.block_number
    assert n == chain.block_number
    r = run("contribute", "sent", "great movie", "Positive")
    assert "deposit now:" in r.stdout and "contribution added" in r.stdout
    out = run_json("contribute", "sent", "great movie", "Positive", "--account", "1")
    assert out["label"] == 1 and out["deposit"] > 0
    mine = run_json("contributions", "sent")
    assert len(mine) == 1 and mine[0]["status"] == "waiting" and mine[0]["original"] == "great movie"
    assert mine[0]["status_text"].startswith("wait ") and mine[0]["mismatch"] is None
    table = run("contributions")
    assert "to refund" in table.stdout and "great movie" in table.stdout
    assert len(run_json("contributions", "sent", "--all")) == 2
    fails(["refund", "sent", mine[0]["tx_hash"]], "too early")
    run("node", "advance-time", "1h")
    mine = run_json("contributions", "sent")
    assert mine[0]["status"] == "refundable" and mine[0]["status_text"].startswith("refund ")
    res = run_json("refund", "sent", mine[0]["tx_hash"])
    assert res["amount"] == mine[0]["deposit"]
    assert run_json("contributions", "sent")[0]["status_text"] == "refunded"
    st = run_json("stats", "sent")
    assert st["good_count"] == 1 and st["contributions"] == 1
    fails(["refund", "sent", mine[0]["tx_hash"]], "already refunded")


def test_report_flow(fake, tmp_path):
    deploy(tmp_path)
    good = run_json("contribute", "sent", "great movie", "Positive", "--account", "2")
    bad = run_json("contribute", "sent", "great movie great", "Negative", "--account", "1")
    run("node", "advance-time", "1h")
    run("refund", "sent", good["tx_hash"], "--account", "2")
    assert "nothing" in run("reportable", "sent", "--account", "3").stdout
    [rp] = run_json("reportable", "sent", "--account", "2")
    assert rp["tx_hash"] == bad["tx_hash"] and rp["amount"] > 0 and rp["reason"] == "model disagrees"
    fails(["report", "sent", bad["tx_hash"], "--account", "1"], "author")
    res = run_json("report", "sent", bad["tx_hash"], "--account", "2")
    assert res["amount"] == rp["amount"]
    mine = run_json("contributions", "sent", "--account", "1")
    assert mine[0]["status"] == "taken"


def test_errors_are_one_line_and_change_nothing(fake, tmp_path):
    deploy(tmp_path)
    chain = fake
    n = chain.block_number
    fails(["contribute", "sent", "great movie", "Neutral"], "label")
    fails(["contribute", "sent", "great movie", "1", "--value", "1wei"], "value")
    fails(["contribute", "sent", "great movie", "1", "--value", "lots"], "value")
    fails(["contribute", "sent", "great movie", "1", "--max-deposit", "1gwei"], "max_deposit")
    fails(["contribute", "sent", "great movie", "1", "--account", "42"], "account")
    fails(["contribute", "nosuch", "great movie", "1"], "model")
    fails(["predict", "sent", "[3, 1]", "--encoded"], "strictly increasing")
    fails(["withdraw", "sent"], "nothing to withdraw")
    fails(["refund", "sent", "0x" + "ab" * 32], "contribution")
    fails(["refund", "sent", "0x1234"], "contribution")
    assert chain.block_number == n
    # deploy: validation before anything is sent or recorded
    fails(["deploy", "--name", "x2", "--model-file", _model_file(tmp_path), "--refund-wait", "10d"], "refund-wait")
    fails(["deploy", "--name", "x2", "--model-file", tmp_path / "missing.json"], "model-file")
    fails(["deploy", "--name", "bad name", "--model-file", _model_file(tmp_path)], "name")
    fails(["deploy", "--name", "x2", "--model-file", _model_file(tmp_path), "--incentive", "bribes"], "incentive")
    fails(["deploy", "--name", "x2", "--model-file", _model_file(tmp_path), "--incentive", "points", "--cost-weight", "5"], "cost-weight")
    fails(["deploy", "--name", "x2", "--model-file", _model_file(tmp_path), "--encoder", "rot13"], "encoder")
    fails(["deploy", "--name", "x2", "--model-file", _model_file(tmp_path), "--encoder", "IMDB vocab", "--vocab", str(tmp_path / "nope.json")], "vocab")
    fails(["deploy", "--name", "sent", "--model-file", _model_file(tmp_path)], "already deployed")
    assert chain.block_number == n
    assert [m["name"] for m in run_json("models")] == ["sent"]
    r = run("deploy", "--name", "x2", ok=False)
    assert r.exit_code != 0 and "--model-file" in r.stderr


def test_points_model_via_cli(fake, tmp_path):
    deploy(tmp_path, "pts", "--incentive", "points", "--cost-weight", "0")
    info = run_json("info", "pts")
    assert info["incentive"] == "points" and info["cost_weight"] == 0
    r = run_json("contribute", "pts", "great movie", "Positive")
    assert r["deposit"] == 0
    run("node", "advance-time", "1h")
    assert run_json("contributions", "pts")[0]["status_text"] == "refund (+1 point)"
    run("refund", "pts", r["tx_hash"])
    assert run_json("stats", "pts")["points"] == 1


def test_global_options_before_the_command(fake, tmp_path, monkeypatch):
    monkeypatch.delenv("LEDGERLEARN_DATA_DIR")
    d = tmp_path / "elsewhere"
    run("--data-dir", d, "deploy", "--name", "g", "--model-file", _model_file(tmp_path), "--refund-wait", "0",
        "--owner-claim-wait", "0", "--any-claim-wait", "0")
    assert (d / "deployments" / "31337.json").exists()
    assert run_json("--data-dir", d, "--account", "1", "contribute", "g", "great", "1")["label"] == 1
    assert len(run_json("--data-dir", d, "--account", "1", "contributions")) == 1
    assert run_json("--data-dir", d, "contributions") == []  # account 0 has none


def test_unreachable_rpc_fails_cleanly(monkeypatch):
    monkeypatch.setenv("WEB3_PROVIDER_URI", "http://127.0.0.1:9")  # discard port: nothing answers
    r = runner.invoke(app, ["node", "status"])
    assert r.exit_code != 0 and r.stderr.startswith("error: ") and "rpc-url" in r.stderr


def test_demo_rewards_honest_data_and_punishes_label_flipping():
    r = runner.invoke(app, ["demo", "--format", "json"])
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    honest, flipper = out["agents"]
    assert honest["net"] > 0 > flipper["net"]
    assert flipper["refunded"] < flipper["deposited"] // 2
    assert out["mirror_agrees_with_contract"] and out["gas_exact"]
    assert out["accuracy_after"] >= out["accuracy_before"] - 0.02
    assert runner.invoke(app, ["bench", "--help"]).exit_code == 0


def test_deploy_from_data_trains_initial_model(fake, tmp_path):
    pytest.importorskip("ledgerlearn.models.sparse_perceptron")
    rows = [{"text": t, "label": l} for t, l in [
        ("great movie", "pos"), ("awful film", "neg"), ("great acting", "pos"), ("awful plot", "neg"),
        ("great fun", "pos"), ("awful awful", "neg"), ("truly great", "pos"), ("truly awful", "neg"),
    ]]
    p = tmp_path / "data.json"
    p.write_text(json.dumps(rows))
    out = run_json("deploy", "--name", "trained", "--from-data", p, "--fraction", "0.5", "--classes", "neg,pos",
                   "--refund-wait", "0", "--owner-claim-wait", "0", "--any-claim-wait", "0")
    assert out["model_type"] == "sparse perceptron" and out["encoder"] == "MurmurHash3"
    assert out["extra"]["training"]["trained_on"] == 4 and out["extra"]["training"]["records"] == 8
    assert run_json("info", "trained")["classes"] == ["neg", "pos"]
    # CSV with a vocabulary encoder
    csvp = tmp_path / "data.csv"
    csvp.write_text("text,label\n" + "\n".join(f"{r['text']},{r['label']}" for r in rows) + "\n")
    vocab = tmp_path / "vocab.json"
    vocab.write_text(json.dumps({"great": 0, "awful": 1, "movie": 2}))
    out = run_json("deploy", "--name", "vocab", "--from-data", csvp, "--fraction", "1", "--vocab", vocab)
    assert out["encoder"] == "IMDB vocab" and out["vocab"] == str(vocab.resolve())
    assert run_json("predict", "vocab", "GREAT stuff")["x"] == [0]
    fails(["deploy", "--name", "x3", "--from-data", p, "--fraction", "0"], "fraction")
    fails(["deploy", "--name", "x3", "--from-data", p, "--label-column", "y"], "label-column")
    fails(["deploy", "--name", "x3", "--from-data", p, "--model-type", "dense perceptron"], "model-type")
    fails(["deploy", "--name", "x3", "--from-data", tmp_path / "nope.csv"], "from-data")


def test_export_abi_plumbing(monkeypatch, tmp_path):
    mod = types.ModuleType("ledgerlearn.contracts.export")

    def export_abi(out_dir):
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        f = Path(out_dir) / "Model.json"
        f.write_text("[]")
        return [f]

    mod.export_abi = export_abi
    monkeypatch.setitem(sys.modules, "ledgerlearn.contracts.export", mod)
    out = run_json("export-abi", tmp_path / "abi")
    assert out["files"] == [str(tmp_path / "abi" / "Model.json")]
    (tmp_path / "file").write_text("x")
    r = run("export-abi", tmp_path / "file", ok=False)
    assert r.exit_code != 0


def test_advance_time_validates(fake):
    fails(["node", "advance-time", "soon"], "duration")


# ------------------------------------------------------------------ end to end
def test_end_to_end_embedded_chain(tmp_path, monkeypatch):
    """deploy -> predict -> contribute -> contributions -> refund on the real embedded chain, across invocations."""
    pytest.importorskip("ledgerlearn.shared_models.deploy")
    pytest.importorskip("ledgerlearn.models.files")
    pytest.importorskip("ledgerlearn.chain.local")
    monkeypatch.delenv("WEB3_PROVIDER_URI", raising=False)
    monkeypatch.delenv("LEDGERLEARN_ACCOUNT", raising=False)
    monkeypatch.setenv("LEDGERLEARN_DATA_DIR", str(tmp_path / "data"))
    p = tmp_path / "model.json"
    p.write_text(json.dumps({
        "type": "sparse perceptron", "classifications": ["Negative", "Positive"], "weights": [],
        "sparseWeights": {str(murmurhash3("great")): 3.0, str(murmurhash3("awful")): -3.0},
        "intercept": 0, "learningRate": 1,
    }))
    run("deploy", "--name", "e2e", "--model-file", p, "--refund-wait", "1h", "--owner-claim-wait", "2h",
        "--any-claim-wait", "3h")
    assert run_json("predict", "e2e", "great")["label"] == "Positive"
    c = run_json("contribute", "e2e", "great stuff", "Positive")
    assert c["deposit"] > 0
    [mine] = run_json("contributions", "e2e")
    assert mine["status"] == "waiting" and mine["original"] == "great stuff"
    fails(["refund", "e2e", c["tx_hash"]], "too early")
    run("node", "advance-time", "2h")
    assert run_json("contributions", "e2e")[0]["status"] == "refundable"
    assert run_json("refund", "e2e", c["tx_hash"])["amount"] == c["deposit"]
    assert run_json("contributions", "e2e")[0]["status"] == "refunded"


def test_main_entry_point_usage_errors_are_one_line(monkeypatch, capsys):
    from ledgerlearn.cli.main import main

    monkeypatch.setattr(sys, "argv", ["ledgerlearn", "predict"])
    with pytest.raises(SystemExit) as e:
        main()
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: Missing argument") and "\n" not in err
    monkeypatch.setattr(sys, "argv", ["ledgerlearn", "--version"])
    with pytest.raises(SystemExit) as e:
        main()
    assert e.value.code == 0


def test_keystore_account(fake, tmp_path, monkeypatch):
    from eth_account import Account

    from ledgerlearn.chain.accounts import write_keystore

    acct = Account.from_key(b"\x07" * 32)
    ks = write_keystore(acct, tmp_path / "me.json", "s3cret", kdf="pbkdf2", iterations=2)
    deploy(tmp_path)
    fails(["contribute", "sent", "great", "1", "--account", ks, "--password-env", "MY_PW"], "MY_PW")
    monkeypatch.setenv("MY_PW", "wrong")
    fails(["contribute", "sent", "great", "1", "--account", ks, "--password-env", "MY_PW"], "password")
    monkeypatch.setenv("MY_PW", "s3cret")
    out = run_json("contribute", "sent", "great", "1", "--account", ks, "--password-env", "MY_PW")
    assert out["author"] == acct.address
    fails(["contribute", "sent", "great", "1", "--account", tmp_path / "nope.json"], "account")
