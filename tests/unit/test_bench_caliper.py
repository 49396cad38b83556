"""``ledgerlearn bench caliper``: the workload, the schedule, Caliper's formulas, both drivers, the CLI."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from ledgerlearn.bench import caliper as cal
from ledgerlearn.cli.main import app

runner = CliRunner()


def check_caliper_numbers(r: cal.RateResult, *, rate: float, reverted: int = 0) -> None:
    """Every training recorded (but those with one of the ``reverted`` transactions), and the
    numbers are Caliper's formulas of the raw times."""
    n = r.succeeded + r.failed
    assert n == r.transactions == 15 * r.trainings
    assert (r.failed, r.reverted, r.rejected, r.timed_out) == (reverted, reverted, 0, 0), r.failures_by_step
    assert r.trainings_recorded == r.trainings - reverted
    assert r.send_rate_tps == pytest.approx(n / (r.last_submit_s - r.first_submit_s), abs=0.1)
    assert r.throughput_tps == pytest.approx(n / (r.last_finish_s - r.first_submit_s), abs=0.1)
    assert r.trainings_per_s == pytest.approx(r.trainings_recorded / (r.last_finish_s - r.first_submit_s), abs=0.01)
    assert r.throughput_tps <= r.send_rate_tps + 0.1  # nothing finishes before it is sent
    assert r.send_rate_tps == pytest.approx(rate, rel=0.1)  # open loop: the schedule holds
    lat = r.latency_ms
    assert 0 <= lat["min"] <= lat["p50"] <= lat["p95"] <= lat["max"] and lat["min"] <= lat["avg"] <= lat["max"]
    assert r.submit_lag_ms["min"] >= 0  # never sent before its slot
    assert r.last_finish_s >= r.last_submit_s
    json.dumps(r.to_json())


def test_schedule_keeps_each_training_in_order_and_a_stage_gap_apart():
    t = 7
    order = cal.schedule(t)
    assert len(order) == 15 * t and len(set(order)) == 15 * t
    pos = {ts: j for j, ts in enumerate(order)}
    for i in range(t):
        assert [pos[(i, s)] for s in range(15)] == sorted(pos[(i, s)] for s in range(15))
        for a, b in zip(cal.STAGES, cal.STAGES[1:]):
            # consecutive stages of one training are at least T slots (= duration/15 seconds) apart
            assert min(pos[(i, s)] for s in b) - max(pos[(i, s)] for s in a) >= t
    assert [cal.STEPS[s] for st in cal.STAGES for s in st] == list(cal.STEPS)


def _embedded_plan(rate: float, duration: float):
    from ledgerlearn.simulation.runner import make_chain

    settings = cal.BenchSettings(duration_s=duration)
    chain = make_chain("fast")
    roles = cal.make_roles(settings)
    for k in roles.keys.values():
        chain.add_account(k)
    market = cal.setup_market(chain, roles, settings)
    return chain, market, roles, settings, cal.build_plan(market, roles, settings, rate)


def test_embedded_fast_run_records_every_training():
    chain, market, _, settings, plan = _embedded_plan(100, 2.0)
    assert plan.trainings == 13 and len(plan) == 195
    r = cal.run_embedded(chain, plan, settings)
    check_caliper_numbers(r, rate=100)
    assert r.backend == "embedded" and r.blocks == r.transactions
    couple_ids = {req.data[4:36] for req in plan.requests if req.data[:4] == market.contract.abi.function("settle", 3).selector}
    assert len(couple_ids) == plan.trainings
    assert {market.couple(c).status for c in couple_ids} == {"completed"}


def test_a_reverting_transaction_is_a_failure_and_its_training_is_not_recorded():
    chain, market, _, settings, plan = _embedded_plan(100, 1.0)
    j = len(plan) - 1  # the last training's last settle: break its digest, so it has no majority
    req = plan.requests[j]
    plan.requests[j] = cal.TxRequest(req.sender, req.to, req.data[:-32] + b"\x01" * 32, req.value)
    r = cal.run_embedded(chain, plan, settings)
    assert r.failures_by_step == {"15:settle": 1}
    check_caliper_numbers(r, rate=100, reverted=1)


@pytest.mark.anvil
def test_anvil_run_records_every_training_and_status_matches_receipts():
    from ledgerlearn.chain.anvil import AnvilNode, find_anvil
    from ledgerlearn.chain.rpc import RpcChain

    if find_anvil() is None:
        pytest.skip("anvil binary not installed (make anvil)")
    settings = cal.BenchSettings(duration_s=3.0, block_timeout_s=0.5)
    roles = cal.make_roles(settings)
    with AnvilNode(no_mining=True, gas_limit=cal.ANVIL_GAS_LIMIT) as node:
        chain = RpcChain(node.url, max_priority_fee=cal.TIP, max_fee=cal.MAX_FEE)
        for k in roles.keys.values():
            chain.add_account(k)
        market = cal.setup_market(chain, roles, settings)
        plan = cal.build_plan(market, roles, settings, 200)
        # one settle with a wrong digest: it reverts on chain, and the log-based status must say so
        bad = len(plan) - 1
        req = plan.requests[bad]
        plan.requests[bad] = cal.TxRequest(req.sender, req.to, req.data[:-32] + b"\x01" * 32, req.value)
        signed = cal.sign_plan(plan, roles, chain.chain_id, {a: chain.nonce(a) for a in roles.all})
        r = cal.run_anvil(node.url, plan, signed, settings, node_pid=node.pid)
        assert (r.failed, r.reverted, r.trainings_recorded) == (1, 1, plan.trainings - 1)
        statuses = {chain.receipt(signed.hashes[j]).status for j in range(0, len(plan) - 1, 37)}
        assert statuses == {True}
        assert chain.receipt(signed.hashes[bad]).status is False
        assert r.blocks >= 3 and r.block_txs["max"] <= len(plan)
        assert r.signing.transactions == len(plan)
        check_caliper_numbers(r, rate=200, reverted=1)


@pytest.mark.anvil
def test_anvil_rate_runner_on_a_fresh_node():
    from ledgerlearn.chain.anvil import find_anvil

    if find_anvil() is None:
        pytest.skip("anvil binary not installed (make anvil)")
    r = cal.run_anvil_rate(200, cal.BenchSettings(duration_s=3.0))
    check_caliper_numbers(r, rate=200)
    assert r.engine.startswith("anvil") and r.cpu_s and r.signing.us_per_tx > 0


@pytest.mark.parametrize(
    "args, match",
    [
        (["--rates", "abc"], "--rates"),
        (["--rates", "500,-1"], "--rates"),
        (["--rates", ""], "--rates"),
        (["--backends", "geth"], "--backends"),
        (["--duration", "0"], "--duration"),
        (["--block-size", "0"], "--block-size"),
        (["--block-timeout", "-1"], "--block-timeout"),
        (["--tick", "0"], "--tick"),
        (["--datasets", "0"], "--datasets"),
        (["--sign-processes", "0"], "--sign-processes"),
    ],
)
def test_bad_options_are_named_and_nothing_runs(args, match):
    r = runner.invoke(app, ["bench", "caliper", *args])
    assert r.exit_code != 0
    assert match in r.stdout + r.stderr


def test_cli_json_on_the_embedded_chain():
    r = runner.invoke(app, ["bench", "caliper", "--backends", "embedded", "--rates", "150", "--duration", "1", "--format", "json"])
    assert r.exit_code == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["paper"]["trainings_per_s"] == [65, 70] and doc["workload"]["transactions_per_training"] == 15
    (row,) = doc["results"]
    assert row["backend"] == "embedded" and row["failed"] == 0 and row["trainings_recorded"] == row["trainings"] == 10
    assert not math.isnan(row["throughput_tps"])
