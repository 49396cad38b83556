"""``ledgerlearn market data ...`` and ``bench market-data`` from the command line."""

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
        (["market", "data", "demo", "--engine", "geth"], "--engine"),
        (["market", "data", "demo", "--sign-flip", "-1"], "--sign-flip"),
        (["market", "data", "demo", "--owners", "1"], "owners"),
        (["market", "data", "demo", "--owners", "4", "--sign-flip", "3", "--dropouts", "2"], "attacks/dropouts"),
        (["market", "data", "demo", "--rounds", "2", "--drop-round", "3"], "drop-round"),
        (["bench", "market-data", "--owners", "2", "--no-accuracy"], "--owners"),
        (["bench", "market-data", "--archs", "huge", "--no-accuracy"], "--archs"),
    ],
)
def test_bad_arguments_are_named_and_nothing_runs(args, match):
    r = run(*args, ok=False)
    assert r.exit_code != 0
    assert match in r.stdout + r.stderr


def test_join_an_unknown_task_says_so(tmp_path):
    r = run("market", "data", "join", "nosuch", "--owner-index", "0", "--data-dir", tmp_path, ok=False)
    assert r.exit_code != 0
    assert "no data-market task named 'nosuch'" in r.stdout + r.stderr


def test_bench_market_data_gas_table_json():
    r = run("bench", "market-data", "--no-accuracy", "--owners", "3,6", "--archs", "small", "--engine", "fast", "--format", "json")
    doc = json.loads(r.stdout)
    assert doc["accuracy"] == []
    rows = doc["gas"]
    assert [row["n_owners"] for row in rows] == [3, 6]
    assert [row["groups"] for row in rows] == [1, 2]
    for row in rows:
        assert row["n_params"] == 912
        assert set(row["gas"]) >= {"create", "register", "post_keys", "submit", "finalize", "withdraw"}
        assert len(row["processing_ms_per_round"]) == 2
        assert not row["gas_exact"]  # the fast engine says its gas is an estimate


@pytest.mark.dataset
def test_demo_runs_a_small_task_on_mnist(tmp_path):
    out = tmp_path / "demo.json"
    r = run(
        "market", "data", "demo", "--owners", "6", "--rounds", "2", "--sign-flip", "0", "--scaled-noise", "0",
        "--dropouts", "1", "--drop-round", "1", "--byzantine-groups", "0", "--arch", "small", "--private-samples", "60",
        "--samples-per-owner", "200", "--out", out,
    )
    assert "round 1: accuracy" in r.stdout and "round 2: accuracy" in r.stdout
    doc = json.loads(out.read_text())
    assert [rd["round"] for rd in doc["rounds"]] == [1, 2]
    dropout = next(a for a, role in doc["roles"].items() if role.startswith("drops"))
    assert doc["rounds"][0]["forfeited"] == {dropout: 10**15}
    assert doc["net_wei"][dropout] == -(10**15)
    assert all(0.0 <= rd["accuracy"] <= 1.0 for rd in doc["rounds"])
