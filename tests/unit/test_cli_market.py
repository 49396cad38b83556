"""``ledgerlearn market bounty ...`` on the real embedded chain and contract, through typer's CliRunner.

Each test gets its own data dir (so its own embedded chain); the market's
model has 8 features and a handful of test samples, so a whole market runs in
a few seconds. Time moves with ``ledgerlearn node advance-time``.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledgerlearn.cli.main import app
from ledgerlearn.markets.bounty import Perceptron, settle
from ledgerlearn.markets.bounty.mirror import Contribution
from ledgerlearn.models.files import save_model
from ledgerlearn.models.sparse_perceptron import SparsePerceptron

runner = CliRunner()
SCALE = 10**9
PROVIDER, ALICE, BOB, CAROL = "0", "1", "2", "3"
N_FEATURES = 8
#: Word -> feature index of the test vocabulary encoder (so no data set is needed for --text).
VOCAB = {"great": 0, "good": 1, "fine": 2, "plot": 3, "movie": 4, "bad": 5, "awful": 6, "boring": 7}


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.delenv("WEB3_PROVIDER_URI", raising=False)
    monkeypatch.delenv("LEDGERLEARN_ACCOUNT", raising=False)
    monkeypatch.delenv("LEDGERLEARN_DEPLOYMENTS_DIR", raising=False)
    monkeypatch.delenv("LEDGERLEARN_DEBUG", raising=False)
    monkeypatch.setenv("LEDGERLEARN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)


def run(*args, ok=True):
    r = runner.invoke(app, [str(a) for a in args])
    if ok:
        assert r.exit_code == 0, f"{args}: exit {r.exit_code}\nstdout: {r.stdout}\nstderr: {r.stderr}\n{r.exception!r}"
    return r


def run_json(*args):
    return json.loads(run(*args, "--json").stdout)


def fails(args, match: str):
    r = run(*args, ok=False)
    assert r.exit_code != 0, r.stdout
    assert match in r.stderr, r.stderr
    line = r.stderr.strip()
    assert "\n" not in line and line.startswith("error: "), line
    return r


def bounty(*args, **kw):
    return run("market", "bounty", *args, **kw)


def bounty_json(*args):
    return run_json("market", "bounty", *args)


def bounty_fails(args, match):
    return fails(["market", "bounty", *args], match)


# ------------------------------------------------------------------ inputs
#: Ground truth: positive iff a positive word (features 0..2) is present.
TEST_SET = [
    ({"text": "a great movie"}, 1), ({"features": [1, 3]}, 1), ({"text": "awful plot"}, 0), ({"features": [4, 7]}, 0),
    ({"features": [2, 5]}, 1), ({"text": "boring movie"}, 0), ({"features": [0, 6]}, 1), ({"features": [3, 5]}, 0),
    ({"text": "good fine plot"}, 1), ({"features": [6]}, 0), ({"features": [0, 4]}, 1), ({"features": [3, 4, 7]}, 0),
]


def _encode(row: dict) -> dict[int, int]:
    if "text" in row:
        return {VOCAB[w]: 1 for w in row["text"].split() if w in VOCAB}
    return {i: 1 for i in row["features"]}


def make_inputs(tmp_path: Path) -> dict[str, Path]:
    """A model file (8 features, weakly wrong), a JSON-lines test file, a vocabulary file."""
    model = SparsePerceptron(classes=["neg", "pos"], num_features=N_FEATURES,
                             weights=[0, 0, 0, SCALE, 0, -SCALE, 0, 0], intercept=-SCALE // 2, learning_rate=SCALE)
    save_model(model, tmp_path / "model.json")
    (tmp_path / "test.jsonl").write_text("".join(json.dumps({**row, "label": y}) + "\n" for row, y in TEST_SET))
    (tmp_path / "vocab.json").write_text(json.dumps(VOCAB))
    return {"model": tmp_path / "model.json", "test": tmp_path / "test.jsonl", "vocab": tmp_path / "vocab.json"}


def create(tmp_path: Path, name: str = "m1", *extra, commitment: str | None = None) -> dict:
    f = make_inputs(tmp_path)
    return bounty_json(
        "create", "--name", name, "--bounty", "1ether", "--min-stake", "1gwei", "--model-file", f["model"],
        "--test-file", f["test"], "--pieces", "4", "--encoder", "test vocab", "--vocab", f["vocab"],
        "--commitment", commitment or tmp_path / f"{name}.secret.json", *extra,
    )


def initial_model() -> Perceptron:
    return Perceptron([0, 0, 0, SCALE, 0, -SCALE, 0, 0], -SCALE // 2, SCALE)


# ------------------------------------------------------------------- tests
def test_full_market_on_the_embedded_chain(tmp_path):
    c = create(tmp_path, "m1", "--min-length", "1h")
    addr = c["address"]
    assert c["phase"] == "commitment" and c["num_features"] == N_FEATURES and c["encoder"] == "test vocab"
    assert c["draw_block"] > 0 and c["test_samples"] == len(TEST_SET) and c["pieces"] == 4
    secret = tmp_path / "m1.secret.json"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    doc = json.loads(secret.read_text())
    assert doc["market"] == addr and len(doc["pieces"]) == 4
    records = json.loads((tmp_path / "data" / "deployments" / "31337.json").read_text())
    assert records["markets"]["m1"]["address"] == addr
    assert [d["name"] for d in bounty_json("list")] == ["m1"]

    # commitment -> participation: the provider reveals the drawn piece (by address, too)
    r = bounty_json("reveal", addr)
    assert r["phase"] == "participation" and 0 <= r["drawn_index"] < 4
    drawn = r["drawn_index"]

    # two contributors: Alice helps (true labels), Bob flips labels; text goes through the recorded vocabulary
    contribs = [
        (ALICE, ["--text", "a great and fine movie"], {0: 1, 2: 1, 4: 1}, 1),
        (BOB, ["--features", "6"], {6: 1}, 1),
        (ALICE, ["--features", "4,6"], {4: 1, 6: 1}, 0),
        (BOB, ["--text", "fine but boring"], {2: 1, 7: 1}, 0),
    ]
    addrs = {}
    for k, (who, args, feats, y) in enumerate(contribs):
        out = bounty_json("contribute", "m1", *args, "--label", y, "-a", who)
        assert out["index"] == k and out["deposit"] == 10**9 and out["features"] == sorted(feats)
        addrs[who] = out["contributor"]
    st = bounty_json("status", "m1", "-a", ALICE)
    assert st["phase"] == "participation" and st["num_contributions"] == 4
    assert st["my_contributions"] == 2 and st["my_balance"] == 2 * 10**9

    # end: not before --min-length, whoever asks
    bounty_fails(["end", "m1", "-a", CAROL], "min_length_s")
    run("node", "advance-time", "2h")
    e = bounty_json("end", "m1", "-a", CAROL)
    assert e["phase"] == "reveal" and e["contributions"] == 4
    bounty_fails(["contribute", "m1", "--features", "1", "--label", "1", "-a", ALICE], "not accepting contributions")

    # the provider reveals the rest (commitment path from the record), anyone processes
    r = bounty_json("reveal", "m1")
    assert r["phase"] == "reward"
    p = bounty_json("process", "m1", "-a", CAROL)
    assert p["phase"] == "finished" and p["calls"] >= 1 and 0 < p["gas_max"] <= p["gas_total"]
    assert p["gas_max"] <= 7_500_000

    st = bounty_json("status", "m1")
    assert st["phase"] == "finished" and st["zero_sum_gap"] == 0
    assert st["contract_balance"] == st["bounty_left"] + sum(st["balances"].values())
    # the contract paid what the off-chain replay of the same market says
    samples = [(_encode(row), y) for row, y in TEST_SET]
    bounds = [(i * len(samples) // 4, (i + 1) * len(samples) // 4) for i in range(4)]
    test = [s for j, (a, b) in enumerate(bounds) if j != drawn for s in samples[a:b]]
    expected = settle(initial_model(), [Contribution(addrs[w], 10**9, f, y) for w, _, f, y in contribs], test,
                      bounty=10**18, min_stake=10**9, group_contributions=False, reset_model=False)
    assert st["balances"] == {addrs[w]: expected.balances[addrs[w]] for w in (ALICE, BOB)}
    assert st["bounty_left"] == expected.bounty_left and st["initial_correct"] == expected.initial_correct
    assert st["balances"][addrs[ALICE]] > 2 * 10**9 > st["balances"][addrs[BOB]]  # Alice gained, Bob lost

    # everyone withdraws: the contract is empty, the books balance all along
    owed = {PROVIDER: st["bounty_left"], ALICE: st["balances"][addrs[ALICE]], BOB: st["balances"][addrs[BOB]]}
    for who, amount in owed.items():
        if amount:
            assert bounty_json("withdraw", "m1", "-a", who)["amount"] == amount
        bounty_fails(["withdraw", "m1", "-a", who], "nothing to withdraw")
    end = bounty_json("status", "m1")
    assert end["phase"] == "finished" and end["contract_balance"] == 0 and end["bounty_left"] == 0
    assert end["zero_sum_gap"] == 0 and set(end["balances"].values()) == {0}
    # the table view renders too
    assert "finished" in bounty("status", "m1").stdout


def test_bad_input_is_one_line_and_changes_nothing(tmp_path):
    create(tmp_path, "m1")
    secret = tmp_path / "m1.secret.json"
    before = bounty_json("status", "m1")

    # a second market must not overwrite the first one's secret
    bounty_fails(["create", "--name", "m2", "--bounty", "1ether", "--model-file", tmp_path / "model.json",
                  "--test-file", tmp_path / "test.jsonl", "--encoder", "test vocab", "--vocab", tmp_path / "vocab.json",
                  "--pieces", "4", "--commitment", secret], "already exists")
    assert json.loads(secret.read_text())["market"] == before["address"]
    bounty_fails(["status", "nope"], "no market named 'nope'")
    bounty_fails(["status", "0x" + "12" * 20], "no contract at")

    # a tampered commitment is refused before anything is sent
    doc = json.loads(secret.read_text())
    doc["pieces"][1]["body"][0] = hex(int(doc["pieces"][1]["body"][0], 16) ^ 1)
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(doc))
    bounty_fails(["reveal", "m1", "--commitment", bad], "does not match the hash committed on chain")
    bounty_fails(["reveal", "m1", "--commitment", tmp_path / "missing.json"], "no file at")
    bounty_fails(["reveal", "m1", "-a", ALICE], "only the market's provider")
    bounty_fails(["contribute", "m1", "--features", "1", "--label", "1", "-a", ALICE], "commitment phase")
    mid = bounty_json("status", "m1")
    assert mid["phase"] == "commitment" and mid["block_number"] == before["block_number"]

    bounty_json("reveal", "m1")
    start = bounty_json("status", "m1")
    bounty_fails(["contribute", "m1", "--features", "1,2", "--label", "1", "--value", "2gwei", "-a", ALICE], "must equal the market's min stake")
    bounty_fails(["contribute", "m1", "--features", "1,8", "--label", "1", "-a", ALICE], "feature index 8 is out of range")
    bounty_fails(["contribute", "m1", "--features", "1,x", "--label", "1", "-a", ALICE], "features")
    bounty_fails(["contribute", "m1", "--features", "1", "--label", "2", "-a", ALICE], "label: must be 0 or 1")
    bounty_fails(["contribute", "m1", "--features", "1", "--text", "good", "--label", "1", "-a", ALICE], "exactly one of")
    bounty_fails(["contribute", "m1", "--features", "1", "--label", "1", "-a", "42"], "account")
    bounty_fails(["process", "m1"], "participation phase")
    bounty_fails(["withdraw", "m1", "-a", ALICE], "nothing can be withdrawn")
    bounty_fails(["cancel", "m1"], "participation phase")
    after = bounty_json("status", "m1")
    assert after["num_contributions"] == 0 and after["block_number"] == start["block_number"]
    assert after["contract_balance"] == 10**18

    # a contract that reverts is reported the same way (here, the wait enforced on chain)
    bounty_json("contribute", "m1", "--features", "1", "--label", "1", "-a", ALICE)
    bounty_json("end", "m1")
    bounty_fails(["fail", "m1"], "reveal deadline has not passed")


def test_bad_create_arguments(tmp_path):
    f = make_inputs(tmp_path)
    base = ["create", "--bounty", "1ether", "--test-file", f["test"], "--encoder", "test vocab", "--vocab", f["vocab"],
            "--commitment", tmp_path / "s.json"]
    bounty_fails([*base, "--model-file", f["model"], "--bounty", "lots"], "bounty")
    bounty_fails([*base, "--model-file", f["model"], "--pieces", "1"], "pieces")
    bounty_fails([*base, "--model-file", f["model"], "--pieces", "20"], "cannot fill 20 pieces")
    bounty_fails([*base], "--model-file")
    bounty_fails([*base, "--model-file", f["model"], "--name", "bad name!"], "market name")
    (tmp_path / "wide.jsonl").write_text(json.dumps({"features": [1, 9], "label": 1}) + "\n" + json.dumps({"features": [2], "label": 0}) + "\n")
    bounty_fails(["create", "--bounty", "1ether", "--model-file", f["model"], "--test-file", tmp_path / "wide.jsonl",
                  "--pieces", "2", "--commitment", tmp_path / "s.json"], "feature index 9 is out of range")
    (tmp_path / "badlabel.jsonl").write_text(json.dumps({"features": [1], "label": "yes"}) + "\n")
    bounty_fails(["create", "--bounty", "1ether", "--model-file", f["model"], "--test-file", tmp_path / "badlabel.jsonl",
                  "--commitment", tmp_path / "s.json"], "line 1: label")
    assert not (tmp_path / "s.json").exists()
    assert not list((tmp_path / "data").glob("deployments/*.json"))


def test_commit_cancel_and_withdraw(tmp_path):
    c = create(tmp_path, "m1")
    secret = tmp_path / "m1.secret.json"
    more = tmp_path / "more.jsonl"
    more.write_text("".join(json.dumps({"features": [i, 7], "label": i % 2}) + "\n" for i in range(4)))
    out = bounty_json("commit", "m1", "--test-file", more, "--pieces", "2")
    assert out["num_pieces"] == 6 and out["draw_block"] > c["draw_block"]
    assert len(json.loads(secret.read_text())["pieces"]) == 6 and stat.S_IMODE(secret.stat().st_mode) == 0o600
    bounty_fails(["commit", "m1", "--test-file", more, "-a", ALICE], "only the market's provider")
    st = bounty_json("status", "m1")
    assert st["num_pieces"] == 6 and st["phase"] == "commitment"
    bounty_fails(["cancel", "m1", "-a", ALICE], "only the market's provider")
    assert bounty_json("cancel", "m1")["phase"] == "cancelled"
    assert bounty_json("withdraw", "m1")["amount"] == 10**18
    st = bounty_json("status", "m1")
    assert st["phase"] == "cancelled" and st["contract_balance"] == 0 and st["zero_sum_gap"] == 0


def test_commit_after_the_draw_block_is_refused(tmp_path):
    create(tmp_path, "m1")
    create(tmp_path, "m2")  # more blocks: m1's draw block is mined
    more = tmp_path / "more.jsonl"
    more.write_text(json.dumps({"features": [1], "label": 1}) + "\n")
    bounty_fails(["commit", "m1", "--test-file", more], "draw block")
    bounty_json("reveal", "m1")
    bounty_fails(["commit", "m1", "--test-file", more], "participation phase")
    assert len(json.loads((tmp_path / "m1.secret.json").read_text())["pieces"]) == 4


def test_failed_market_and_collect(tmp_path):
    create(tmp_path, "m1", "--reveal-window", "1h", "--claim-wait", "1d", "--min-stake", "1000")
    bounty_json("reveal", "m1")
    a = bounty_json("contribute", "m1", "--features", "0", "--label", "1", "-a", ALICE)
    b = bounty_json("contribute", "m1", "--features", "5", "--label", "0", "-a", BOB)
    bounty_json("end", "m1")
    bounty_fails(["fail", "m1"], "reveal deadline has not passed")
    run("node", "advance-time", "2h")
    bounty_fails(["reveal", "m1"], "reveal deadline")
    f = bounty_json("fail", "m1", "-a", CAROL)
    assert f["phase"] == "failed" and f["share_per_contribution"] == 10**18 // 2
    assert bounty_json("withdraw", "m1", "-a", ALICE)["amount"] == 1000 + 10**18 // 2
    bounty_fails(["collect", "m1", b["contributor"], "-a", CAROL], "any_claim_wait_s")
    run("node", "advance-time", "2d")
    got = bounty_json("collect", "m1", BOB, "-a", CAROL)
    assert got["amount"] == 1000 + 10**18 // 2 and got["account"] == b["contributor"] and got["receiver"] != a["contributor"]
    st = bounty_json("status", "m1")
    assert st["phase"] == "failed" and st["contract_balance"] == 0 and st["zero_sum_gap"] == 0


@pytest.mark.dataset
def test_imdb_market_from_the_data_set(tmp_path):
    """--dataset imdb: initial model and hidden test set from IMDB, text contributions with the on-chain encoder."""
    c = bounty_json("create", "--name", "imdb", "--bounty", "1ether", "--dataset", "imdb", "--init-size", "200",
                    "--test-size", "40", "--pieces", "4", "--commitment", tmp_path / "imdb.secret.json")
    assert c["encoder"] == "IMDB vocab, binary" and c["num_features"] == 1000
    bounty_json("reveal", "imdb")
    bounty_json("contribute", "imdb", "--text", "A wonderful film, great acting and a moving story", "--label", "1", "-a", ALICE)
    bounty_json("contribute", "imdb", "--text", "Boring, awful, a waste of time", "--label", "1", "-a", BOB)
    bounty_json("end", "imdb")
    assert bounty_json("reveal", "imdb")["phase"] == "reward"
    assert bounty_json("process", "imdb")["phase"] == "finished"
    st = bounty_json("status", "imdb")
    assert st["zero_sum_gap"] == 0 and st["test_samples"] == 30
