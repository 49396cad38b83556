"""Simulations run the deployed contracts: every model type, both incentives, money conserved."""

import json

import numpy as np
import pytest

from ledgerlearn.datasets import load
from ledgerlearn.errors import ValidationError
from ledgerlearn.simulation import AgentSpec, Features, Scenario, Simulation, SimulationRecord, features, save_plots
from ledgerlearn.simulation.agents import reference_agents

HOURS = 3600


def _tictactoe_sparse(model: str) -> Features:
    """Tic-tac-toe one-hot squares as sparse index features (every sparse model type takes them)."""
    ds = load("tictactoe")
    idx = lambda m: [np.flatnonzero(row).tolist() for row in np.asarray(m)]  # noqa: E731
    return Features("tictactoe", model, list(ds.classes), ds.x_train.shape[1], "sparse", "none",
                    idx(ds.x_train), [int(v) for v in ds.y_train], idx(ds.x_test), [int(v) for v in ds.y_test])


def _scenario(model: str, incentive: str, **kw) -> Scenario:
    agents = [
        AgentSpec("honest", 1000, 50, 10, 10 * 60),
        AgentSpec("malicious", 1000, 100, 3, 60 * 60, behaviour="malicious"),
        AgentSpec("careless", 1000, 50, 10, 30 * 60, behaviour="mistaken", prob_mistake=0.3),
    ]
    base = dict(dataset="tictactoe", model=model, incentive=incentive, agents=agents, init_fraction=0.2,
                refund_wait_s=6 * HOURS, any_claim_wait_s=2 * 86400, eval_interval_s=12 * HOURS)
    base.update(kw)
    return Scenario(**base)


def _check_invariants(rec: SimulationRecord, sc: Scenario) -> None:
    assert rec.reverted == 0, rec.revert_reasons  # agents only send what the contract accepts
    assert rec.mirror_checks >= 2 and rec.mirror_mismatches == 0
    assert rec.verified_predictions > 0 and rec.verified_agree == rec.verified_predictions
    assert rec.contributions == rec.n_train - rec.n_init
    assert sum(a.contributions for a in rec.agents) == rec.contributions
    if sc.incentive == "drt":
        # Solvency and conservation: the contract holds exactly the unclaimed deposits, and what
        # agents lost is what the contract holds (gas is free on the embedded chain).
        assert rec.contract_balance_wei == rec.unclaimed_deposits_wei == 0
        assert sum(a.received_wei - a.deposited_wei for a in rec.agents) == 0
        total_delta = sum(a.end - a.start for a in rec.agents)
        assert abs(total_delta) < 1e-6
    else:
        for a in rec.agents:
            assert a.end == a.refunds and a.deposited_wei == a.received_wei == 0


@pytest.mark.parametrize("model", ["perceptron", "naive-bayes", "nearest-centroid"])
@pytest.mark.parametrize("incentive", ["drt", "points"])
def test_sparse_models_both_incentives(model, incentive):
    sc = _scenario(model, incentive)
    rec = Simulation(sc, features=_tictactoe_sparse(model)).run()
    _check_invariants(rec, sc)
    assert rec.scenario["model"] == model and rec.transactions > rec.contributions


@pytest.mark.parametrize("model", ["perceptron", "nearest-centroid"])
def test_dense_models_on_a_bundled_set(model):
    sc = _scenario(model, "drt", dataset="breast_cancer")
    f = features("breast_cancer", model)
    assert f.input_kind == "dense"
    rec = Simulation(sc, features=f).run()
    _check_invariants(rec, sc)


def test_attacker_pays_and_honest_gains():
    sc = _scenario("naive-bayes", "drt", agents=reference_agents())
    rec = Simulation(sc, features=_tictactoe_sparse("naive-bayes")).run()
    _check_invariants(rec, sc)
    honest, bad = rec.agent("honest"), rec.agent("malicious")
    assert bad.end < bad.start < honest.end
    assert honest.refunds > 0 and honest.reports > 0


def test_deterministic_for_a_seed():
    sc = _scenario("perceptron", "drt")
    f = _tictactoe_sparse("perceptron")
    a, b = Simulation(sc, features=f).run(), Simulation(sc, features=f).run()
    assert a.balances == b.balances and a.accuracies == b.accuracies
    c = Simulation(_scenario("perceptron", "drt", seed=1), features=f).run()
    assert c.balances != a.balances


def test_record_round_trip_and_plots(tmp_path):
    sc = _scenario("perceptron", "drt", max_contributions=200)
    rec = Simulation(sc, features=_tictactoe_sparse("perceptron")).run()
    assert rec.contributions == 200
    path = rec.save(tmp_path / "run.json")
    back = SimulationRecord.load(path)
    assert back.to_dict() == json.loads(path.read_text()) and back.agents == rec.agents
    png, html = save_plots(back, tmp_path / "run")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = html.read_text()
    assert "plotly" in page and "honest" in page and 'src="http' not in page  # works offline


def test_bad_scenarios_are_refused():
    with pytest.raises(ValidationError, match="model"):
        Scenario(model="svm")
    with pytest.raises(ValidationError, match="waits"):
        Scenario(refund_wait_s=10, any_claim_wait_s=5)
    with pytest.raises(ValidationError, match="unique"):
        Scenario(agents=[AgentSpec("a", 1, 1, 1, 60), AgentSpec("a", 1, 1, 1, 60)])
    with pytest.raises(ValidationError, match="behaviour"):
        AgentSpec("x", 1, 1, 1, 60, behaviour="chaotic")
    with pytest.raises(ValidationError, match="binary"):
        features("iris", "perceptron")
    with pytest.raises(ValidationError, match="naive Bayes"):
        features("breast_cancer", "naive-bayes")


# ------------------------------------------------------------------ the CLI
def test_cli_run_show_plot_and_errors(tmp_path):
    from typer.testing import CliRunner

    from ledgerlearn.cli.main import app

    runner = CliRunner()

    def run(*args):
        return runner.invoke(app, [str(a) for a in args])

    r = run("simulate", "run", "--dataset", "tictactoe", "--model", "naive-bayes", "--agents", "mixed",
            "--max-contributions", "150", "--refund-wait", "6h", "--take-wait", "2d", "--eval-interval", "12h",
            "--out", tmp_path, "--name", "t", "--format", "json", "--no-progress")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["record"]["contributions"] == 150 and {a["name"] for a in out["record"]["agents"]} == {"honest-1", "honest-2", "careless", "malicious"}
    for k in ("record", "plot (PNG)", "plot (HTML)"):
        assert (tmp_path / out["files"][k].split("/")[-1]).is_file()
    r = run("simulate", "show", tmp_path / "t.json")
    assert r.exit_code == 0 and "malicious" in r.stdout and "accuracy" in r.stdout
    r = run("simulate", "plot", tmp_path / "t.json", "--out", tmp_path / "again")
    assert r.exit_code == 0 and (tmp_path / "again.png").is_file()
    for args, word in [
        (["simulate", "run", "--model", "svm"], "model"),
        (["simulate", "run", "--agents", "nobody"], "agents"),
        (["simulate", "run", "--refund-wait", "soon"], "refund-wait"),
        (["simulate", "run", "--dataset", "nosuchset"], "nosuchset"),
        (["simulate", "show", tmp_path / "missing.json"], "record"),
    ]:
        r = run(*args)
        assert r.exit_code == 1 and r.stderr.strip().splitlines()[-1].startswith("error: ") and word in r.stderr, (args, r.stderr)


def test_single_pass_on_a_small_set():
    from ledgerlearn.simulation import single_pass

    r = single_pass(_tictactoe_sparse("naive-bayes"), seed=3)
    assert r.contributions == 766 and r.predictions_checked == r.predictions_agree == 192
    assert r.accuracy > 0.6 and r.gas_exact is False  # the fast engine says its gas is not transaction gas
