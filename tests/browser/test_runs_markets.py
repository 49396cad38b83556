"""The runs and markets pages: simulation records in the runs folder, a bounty market on the chain."""

from __future__ import annotations

import json
import re
import sys

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright==1.65.2)")
from playwright.sync_api import Page, expect  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from dashboard_server import REPO  # noqa: E402
sys.path.insert(0, str(REPO / "tests" / "unit"))
from test_dashboard_history import bounty_record  # noqa: E402  (a small bounty-market record)
from ledgerlearn.cli.main import app  # noqa: E402
from ledgerlearn.simulation.record import AgentSummary, SimulationRecord  # noqa: E402

pytestmark = pytest.mark.browser


def tid(page: Page, name: str):
    return page.get_by_test_id(name)


def simulation_record() -> SimulationRecord:
    """A small simulation record: two agents over three virtual days."""
    day = 86400
    agents = [
        AgentSummary(name="good", behaviour="honest", address="0x70997970C51812dc3A010C7d01b50e0d17dc79C8", start=100.0, end=130.0,
                     percent_of_start=130.0, contributions=20, refunds=18, reports=3, takes=0, deposited_wei=20 * 10**15, received_wei=50 * 10**15),
        AgentSummary(name="bad", behaviour="malicious", address="0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", start=100.0, end=60.0,
                     percent_of_start=60.0, contributions=40, refunds=0, reports=0, takes=0, deposited_wei=40 * 10**15, received_wei=0),
    ]
    return SimulationRecord(
        scenario={"dataset": "toy", "model": "perceptron", "incentive": "drt", "unit_wei": 10**15}, address="0x" + "11" * 20,
        classes=["neg", "pos"], n_train=60, n_test=100, n_init=8, contributions=60, initial_accuracy=0.62, final_accuracy=0.81,
        accuracies=[[0, 0.62], [day, 0.7], [2 * day, 0.77], [3 * day, 0.81]],
        balances={"good": [[0, 100.0], [day, 110.0], [3 * day, 130.0]], "bad": [[0, 100.0], [day, 80.0], [3 * day, 60.0]]},
        agents=agents, unclaimed_at_end=0, virtual_seconds=3 * day, last_contribution_s=2 * day, transactions=120, gas_total=9_000_000,
        gas_exact=False, reverted=0, revert_reasons={}, mirror_checks=10, mirror_mismatches=0, verified_predictions=100,
        verified_agree=100, deploy_gas=3_000_000, wall_seconds=1.5, loop_seconds=1.0, contract_balance_wei=0, unclaimed_deposits_wei=0,
    )


def test_runs_list_and_charts(page: Page, server, shot):
    simulation_record().save(server.runs_dir / "toy-drt.json")
    bounty_record().save(server.runs_dir / "imdb-bounty-market.json")
    (server.runs_dir / "notes.json").write_text(json.dumps({"not": "a record"}))

    page.goto(server.url + "/#/runs")
    expect(tid(page, "runs-row-toy-drt")).to_contain_text("62.0% → 81.0%")
    expect(tid(page, "runs-row-imdb-bounty-market")).to_contain_text("bounty")
    expect(page.locator("[data-testid^='runs-row-']")).to_have_count(2)  # notes.json is not a record
    shot(page, "list")

    tid(page, "runs-row-toy-drt").click()
    expect(tid(page, "run-title")).to_contain_text("toy")
    expect(tid(page, "run-accuracy").locator(".scatterlayer .trace")).to_have_count(1)
    expect(tid(page, "run-balances").locator(".scatterlayer .trace")).to_have_count(2)
    expect(tid(page, "run-agents")).to_contain_text("malicious")
    shot(page, "simulation")

    page.goto(server.url + "/#/runs/imdb-bounty-market")
    expect(tid(page, "run-title")).to_contain_text("bounty market")
    expect(tid(page, "run-accuracy").locator(".barlayer .trace")).to_have_count(1)
    expect(tid(page, "run-balances").locator(".scatterlayer .trace")).to_have_count(len(server.get("/api/runs/imdb-bounty-market")["agents"]))
    shot(page, "bounty")

    page.goto(server.url + "/#/runs/no-such-run")
    expect(tid(page, "page-error")).to_contain_text("no-such-run")


def cli(server, *args: str, account: str = "0") -> None:
    r = CliRunner().invoke(app, ["--data-dir", str(server.data_dir), "--account", account, *args])
    assert r.exit_code == 0, r.output


def test_market_rounds(page: Page, server, shot, tmp_path):
    # A bounty market on 16 features, driven to its end: 3 contributions, 2 test pieces.
    weights = [0.0] * 16
    weights[1], weights[2] = 1.0, -1.0
    model = tmp_path / "bounty-model.json"
    model.write_text(json.dumps({"type": "sparse perceptron", "classifications": ["neg", "pos"], "weights": weights, "intercept": 0, "learningRate": 1}))
    test = tmp_path / "test.jsonl"
    test.write_text("\n".join(json.dumps(r) for r in [
        {"features": [1, 3], "label": 1}, {"features": [2, 4], "label": 0}, {"features": [1], "label": 1}, {"features": [2], "label": 0}]))
    page.goto(server.url + "/#/markets")
    expect(tid(page, "markets-table-empty")).to_be_visible()

    cli(server, "market", "bounty", "create", "--bounty", "1eth", "--name", "toy-bounty", "--model-file", str(model),
        "--test-file", str(test), "--pieces", "2", "--commitment", str(tmp_path / "commitment.json"))
    for _ in range(3):  # past the draw block
        server.post("/api/chain/advance", {"seconds": 60})
    cli(server, "market", "bounty", "reveal", "toy-bounty")
    cli(server, "market", "bounty", "contribute", "toy-bounty", "--label", "1", "--features", "1,5", account="1")
    cli(server, "market", "bounty", "contribute", "toy-bounty", "--label", "0", "--features", "1,6", account="2")
    cli(server, "market", "bounty", "end", "toy-bounty")
    cli(server, "market", "bounty", "reveal", "toy-bounty")
    cli(server, "market", "bounty", "process", "toy-bounty")

    page.reload()
    expect(tid(page, "markets-row-toy-bounty")).to_contain_text("0x")
    shot(page, "list")
    tid(page, "markets-row-toy-bounty").click()
    expect(tid(page, "market-name")).to_have_text("Market toy-bounty")
    # "≈" while the API sends market wei as JSON numbers (not decimal strings)
    expect(tid(page, "field-bounty_wei")).to_have_text(re.compile(r"^(≈ )?1 ETH$"))
    expect(tid(page, "field-contributions")).to_have_text("2")
    expect(tid(page, "market-rounds").locator("tbody tr")).not_to_have_count(0)
    expect(tid(page, "market-timeline")).to_contain_text("Finished")
    expect(tid(page, "market-chart").locator(".scatterlayer .trace")).to_have_count(1)
    shot(page, "rounds")
