"""The prediction-market bounty simulated on IMDB: money conserved, the mirror agrees to the wei, plots work offline."""

import json

import pytest

from ledgerlearn.errors import ValidationError
from ledgerlearn.simulation.bounty import BountyAgentSpec, BountyRecord, BountyScenario, BountySimulation, load_data
from ledgerlearn.simulation.bounty_plots import save_bounty_plots

pytestmark = pytest.mark.dataset

SMALL = dict(init_size=300, test_size=60, test_pieces=6, honest=2, flippers=1, careless=0, contributions_per_agent=6)
# Why seed 9: at this size who wins is mostly noise, not a property of honesty. One perceptron
# step from the SGD-fitted initial model moves the count of correct predictions on the 50 scored
# test reviews by a few either way, and honest steps are slightly harmful on average too (measured
# on IMDB from a 300-review initial model: mean change -0.7 per 1,000 test reviews for a true
# label, -1.9 for a flipped one). "honest >= deposits > flipper" held for 2 of seeds 0-9 when
# contributions are scored one by one without resets, and for 3 of seeds 0-11 with grouped
# contributions and model resets. Seed 9 is one where it holds under both; the assertions still
# check that the payouts the contract computes (equal to the mirror's to the wei, checked inside
# the run) order the agents so. Re-pick the seed if the data set, the encoder or the SGD fit of
# the initial model changes.
SEED = 9
OPTIONS = [
    pytest.param({"group_contributions": False, "reset_model": False}, id="one-by-one"),
    pytest.param({"group_contributions": True, "reset_model": True}, id="grouped-reset"),
]


@pytest.fixture(scope="module")
def data():
    return load_data(BountyScenario(seed=SEED, **SMALL))


def _run(data, **kw) -> BountyRecord:
    return BountySimulation(BountyScenario(seed=SEED, **SMALL, **kw), data=data).run()


@pytest.mark.parametrize("options", OPTIONS)
def test_money_is_conserved_and_honesty_pays_at_this_seed(data, options):
    rec = _run(data, **options)
    # The books balance after every phase, and the run compared the chain with the mirror (it raises otherwise).
    assert rec.zero_sum_checks and all(gap == 0 for _, gap in rec.zero_sum_checks)
    assert rec.mirror_agrees
    # Zero sum over the whole market: what the agents won is what the provider did not get back.
    assert sum(a.profit_wei for a in rec.agents) == rec.bounty_wei - rec.bounty_left_wei
    assert rec.extra["provider_net_wei"] == rec.bounty_left_wei - rec.bounty_wei
    for a in rec.agents:
        assert a.contributions == 6 and a.deposited_wei == 6 * rec.scenario["min_stake_wei"]
        series = rec.balances[a.name]
        assert len(series) == len(rec.passes) + 1
        assert series[0] == a.deposited_wei and series[-1] == a.withdrawn_wei
        assert a.final_balance_wei == a.start_balance_wei + a.profit_wei
    assert sum(p["rounds_applied"] for p in rec.passes) == rec.rounds_total - rec.rounds_left
    honest = [a for a in rec.agents if a.kind == "honest"]
    (flipper,) = [a for a in rec.agents if a.kind == "flipper"]
    assert all(a.flipped == 0 for a in honest) and flipper.flipped == flipper.contributions
    assert all(a.withdrawn_wei >= a.deposited_wei for a in honest), [(a.name, a.profit_wei) for a in honest]
    assert flipper.withdrawn_wei < flipper.deposited_wei, flipper.profit_wei
    # Someone who lost money dropped out at some pass, and the fast engine's gas is marked as an estimate.
    assert any(d["agent"] == flipper.name for p in rec.passes for d in p["dropped"])
    assert not rec.gas_exact and len(rec.process_gas) == rec.gas_totals["process"]["count"] > 0
    assert 0 < rec.accuracy["initial"] <= 1 and rec.accuracy["test_samples"] == 60 and rec.n_scored == 50


def test_record_round_trip_and_plots(data, tmp_path):
    rec = _run(data)
    path = rec.save(tmp_path / "market.json")
    back = BountyRecord.load(path)
    assert back.to_dict() == json.loads(path.read_text()) == rec.to_dict()
    assert back.agents == rec.agents and back.passes == rec.passes
    png, html = save_bounty_plots(back, tmp_path / "market")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = html.read_text()
    assert "plotly" in page and "flipper-1" in page and "honest only" in page
    assert 'src="http' not in page and "src='http" not in page  # plotly.js is inlined: works offline


def test_runs_are_reproducible(data):
    a, b = _run(data), _run(data)
    assert a.balances == b.balances and a.passes == b.passes and a.drawn_piece == b.drawn_piece


def test_bad_scenarios_are_refused():
    with pytest.raises(ValidationError, match="accounts"):
        BountySimulation(BountyScenario(honest=9, **{k: v for k, v in SMALL.items() if k != "honest"})).run()
    with pytest.raises(ValidationError, match="allow_greater_deposit"):
        BountyScenario(deposit_multiple=2)
    with pytest.raises(ValidationError, match="kind"):
        BountyAgentSpec("x", kind="chaotic")
    with pytest.raises(ValidationError, match="pieces"):
        BountyScenario(test_size=10, test_pieces=6)


def test_cli_market(tmp_path):
    from typer.testing import CliRunner

    from ledgerlearn.cli.main import app

    args = ["simulate", "market", "--init-size", "300", "--test-size", "60", "--test-pieces", "6", "--honest", "2",
            "--flippers", "1", "--careless", "0", "--contributions", "6", "--seed", str(SEED), "--out", str(tmp_path),
            "--name", "m", "--no-progress"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "honest" in res.output and "flipper" in res.output and "% of deposits" in res.output
    assert {p.name for p in tmp_path.iterdir()} >= {"m.json", "m.png", "m.html"}
    res = CliRunner().invoke(app, ["simulate", "market", "--deposit-multiple", "3", "--out", str(tmp_path)])
    assert res.exit_code == 1 and "allow_greater_deposit" in res.output


def test_an_agent_stops_when_its_budget_is_spent():
    stake = 10**15
    agents = [BountyAgentSpec("poor", "honest", 6, start_balance_wei=3 * stake), BountyAgentSpec("flipper", "flipper", 6)]
    sc = BountyScenario(**{**SMALL, "agents": agents, "seed": SEED, "batch_window_s": 10**6})  # one batch: all arrivals sent together
    poor = BountySimulation(sc).run().agent("poor")
    assert (poor.contributions, poor.skipped, poor.deposited_wei) == (3, 3, 3 * stake)
