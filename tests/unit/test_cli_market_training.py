"""``ledgerlearn market training ...`` from the command line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ledgerlearn.cli.main import app

runner = CliRunner()


def run(*args, ok: bool = True):
    r = runner.invoke(app, [str(a) for a in args])
    if ok:
        assert r.exit_code == 0, f"{args}: exit {r.exit_code}\nstdout: {r.stdout}\nstderr: {r.stderr}\n{r.exception!r}"
    return r


@pytest.mark.parametrize(
    "args, match",
    [
        (["market", "training", "demo", "--engine", "geth"], "--engine"),
        (["market", "training", "demo", "--mode", "rsa"], "--mode"),
        (["market", "training", "demo", "--fraud", "lazy"], "--fraud"),
        (["market", "training", "demo", "--subsets", "17"], "--subsets"),
        (["market", "training", "demo", "--picks", "5"], "--picks"),
        (["market", "training", "demo", "--fraud-index", "12"], "--fraud-index"),
        (["market", "training", "demo", "--train-samples", "10"], "--train-samples"),
    ],
)
def test_bad_arguments_are_named_and_nothing_runs(args, match):
    r = run(*args, ok=False)
    assert r.exit_code != 0
    assert match in r.stdout + r.stderr


def test_serving_an_unknown_market_says_so(tmp_path):
    r = run("market", "training", "serve-cloud-owner", "nope", "--dataset", "d", "--index", "0",
            "--secret-file", tmp_path / "k", "--data-dir", tmp_path / "ll", ok=False)
    assert r.exit_code != 0 and "no training market named 'nope'" in r.stdout + r.stderr
    assert not (tmp_path / "k").exists()  # nothing created before the market was found


@pytest.mark.dataset
def test_demo_json_reports_evidence_fraud_payments_and_accuracy():
    r = run("market", "training", "demo", "--subsets", "2", "--rounds", "2", "--picks", "1", "--steps", "20",
            "--train-samples", "3000", "--test-samples", "500", "--fraud", "copy-hash", "--fraud-index", "2",
            "--format", "json")
    (doc,) = json.loads(r.stdout)["runs"]
    assert [rd["round"] for rd in doc["rounds"]] == [1, 2]
    assert sorted(s for rd in doc["rounds"] for s in rd["subsets"]) == [0, 1]
    assert doc["accuracy"][-1] > doc["accuracy_before"]
    assert {d["instance"] for d in doc["detected"]} == {2}
    assert doc["fraudulent"] not in doc["paid"]
    jobs = [j for rd in doc["rounds"] for j in rd["jobs"]]
    assert len(jobs) == 6 and all(j["matches_commitment"] for j in jobs if j["instance"] != 2)
