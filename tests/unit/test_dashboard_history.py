"""Dashboard chart data (``ledgerlearn.dashboard.history``) against real contracts on the embedded chain.

Accuracy replay: the replayed mirror equals the model read back from the
contract, accuracy points and agreement equal a plain recomputation, and
feeding in batches (with repeats) equals feeding at once. Balances: each
account's net from events equals its real balance change (the embedded
chains charge no gas fee). Runs: records saved with the record classes are
listed and served, other files skipped or reported, ids cannot leave the
folder. Markets: a bounty market and a training market run on chain and their
rounds are read back from events.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from ledgerlearn.chain.base import Log, TxRequest
from ledgerlearn.dashboard.history import (
    AccuracyReplay,
    EventClock,
    balance_series,
    list_runs,
    load_run,
    market_rounds,
)
from ledgerlearn.errors import NotFoundError, ValidationError
from ledgerlearn.models.fixedpoint import SCALE
from ledgerlearn.models import DenseCentroid, DensePerceptron, NaiveBayes, SparseCentroid, SparsePerceptron, normalize
from ledgerlearn.shared_models.client import SharedModel
from ledgerlearn.shared_models.deploy import deploy_shared_model
from ledgerlearn.shared_models.export import read_model
from ledgerlearn.simulation.runner import make_chain

MONEY_EVENTS = ("DataAdded", "Refund", "Report", "Withdrawal")


@pytest.fixture(scope="module")
def fast():
    return make_chain("fast")


@pytest.fixture
def chain(fast):
    sid = fast.snapshot()
    yield fast
    fast.revert(sid)


# ------------------------------------------------------------------ data
def _text(rng: random.Random, label: int, nf: int = 40) -> list[int]:
    """Token lists (repeats allowed): class 1 leans on the upper half of the features."""
    half = nf // 2
    return [rng.randrange(half) + (half if label and rng.random() < 0.6 else 0) for _ in range(rng.randint(1, 12))]


def _dense(rng: random.Random, label: int, d: int = 8) -> list[int]:
    return normalize([rng.gauss(0.8 if (label and i < 3) else 0.0, 1.0) for i in range(d)])


def _sparse(rng: random.Random, label: int) -> list[int]:
    base = 2**31 if label else 7
    return sorted({(base + rng.randrange(30) * 104729) % 2**32 for _ in range(rng.randint(1, 6))})


CASES = {
    "naive bayes": (lambda: NaiveBayes(classes=("neg", "pos"), num_features=40).fit(
        [_text(random.Random(i), i % 2) for i in range(6)], [i % 2 for i in range(6)]), _text),
    "dense perceptron": (lambda: DensePerceptron(
        classes=("neg", "pos"), weights=[3 * 10**8, -10**8, 0, 2 * 10**8, 0, 0, -10**8, 10**8], intercept=0,
        learning_rate=5 * 10**8), _dense),
    "hashed sparse perceptron": (lambda: SparsePerceptron(
        classes=("neg", "pos"), weights={7: 2 * 10**9, 2**31: -10**9}, learning_rate=10**9), _sparse),
    "dense centroid": (lambda: DenseCentroid(classes=("neg", "pos"), num_features=8).fit(
        [_dense(random.Random(i), i % 2) for i in range(4)], [i % 2 for i in range(4)]), _dense),
    "hashed sparse centroid": (lambda: SparseCentroid(classes=("neg", "pos")).fit(
        [_sparse(random.Random(i), i % 2) for i in range(4)], [i % 2 for i in range(4)]), _sparse),
}


def _known_features(mirror) -> set[int]:
    """Features a hashed sparse model's initial state mentions (read_model cannot enumerate 2**32)."""
    if isinstance(mirror, SparsePerceptron):
        return set(mirror.weights_)
    if isinstance(mirror, SparseCentroid):
        return {f for d in mirror.sums_ for f in d}
    return set()


def _deploy(chain, mirror, *, incentive="points", **kw) -> tuple[SharedModel, int, int]:
    res = deploy_shared_model(chain, mirror, incentive=incentive, name="m", owner=chain.accounts[0], **kw)
    block = res.deploy_block or res.receipts[-1].block_number
    return SharedModel(chain, res.address, from_block=block), block, res.receipts[-1].timestamp


def _contribute(model, chain, gen, n: int, seed: int) -> None:
    rng = random.Random(seed)
    for i in range(n):
        true = rng.randrange(2)
        label = true if rng.random() < 0.8 else 1 - true  # some wrong labels
        model.contribute(gen(rng, true), label, sender=chain.accounts[1 + i % 3], encoded=True)
        if i % 5 == 0:
            chain.advance_time(rng.randrange(1, 600))


def _replayed_points(initial, events, X, y, counts):
    """Accuracy after each count in ``counts``, by plain mirror updates (the reference)."""
    m, out, done = initial.copy(), {}, 0
    for c in sorted(counts):
        for ev in events[done:c]:
            m.update(list(ev["x"]), ev["label"])
        done = c
        out[c] = float(np.mean([m.predict(x) == t for x, t in zip(X, y)]))
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_replay_matches_the_chain_and_a_plain_recomputation(chain, case):
    make_initial, gen = CASES[case]
    initial = make_initial()
    model, block, t0 = _deploy(chain, initial)
    _contribute(model, chain, gen, 50, seed=1)
    events = model.contract.events("DataAdded", from_block=model.from_block)
    assert len(events) == 50
    rng = random.Random(99)
    ey = [rng.randrange(2) for _ in range(40)]
    eX = [gen(rng, t) for t in ey]

    replay = AccuracyReplay(initial, (eX, ey), checkpoints=8, window=10, deploy_time=t0, deploy_block=block)
    assert replay.feed(events) == 50
    assert replay.feed(events) == 0  # already applied
    assert replay.mirror == read_model(model, known_features=_known_features(initial)) and replay.mirror != initial
    assert replay.verify(model) is True
    s = replay.series()
    assert s["available"] and s["reason"] is None and s["replay_matches_chain"] is True
    assert s["evaluation_size"] == 40 and s["contributions"] == 50
    pts = s["points"]
    assert 3 <= len(pts) <= 8
    assert pts[0] == {"time": t0, "block": block, "contributions": 0, "accuracy": float(np.mean([initial.predict(x) == t for x, t in zip(eX, ey)]))}
    assert pts[-1]["contributions"] == 50
    counts = [p["contributions"] for p in pts]
    assert counts == sorted(counts) and all(c % s["spacing"] == 0 for c in counts[:-1])
    expected = _replayed_points(initial, events, eX, ey, counts)
    assert [p["accuracy"] for p in pts] == [expected[c] for c in counts]
    for p in pts[1:]:
        ev = events[p["contributions"] - 1]
        assert (p["time"], p["block"]) == (ev["added_time"], ev["_log"].block_number)
    # prequential agreement, recomputed
    m, agree = initial.copy(), []
    for ev in events:
        agree.append(m.predict(list(ev["x"])) == ev["label"])
        m.update(list(ev["x"]), ev["label"])
    assert [a["contributions"] for a in s["agreement"]] == counts[1:]
    for a in s["agreement"]:
        c, w = a["contributions"], a["window"]
        assert w == min(c, max(10, s["spacing"])) and a["rate"] == sum(agree[c - w : c]) / w
    # exact predictions for many inputs, as the contract gives them
    assert replay.predict_many(eX[:12]) == [model.contract.call("predict", x) for x in eX[:12]]

    # incremental feeding, with overlapping batches, gives the same series
    inc = AccuracyReplay(initial, (eX, ey), checkpoints=8, window=10, deploy_time=t0, deploy_block=block)
    fed = 0
    for lo in range(0, 50, 7):
        fed += inc.feed(events[max(0, lo - 3) : lo + 7])
        inc.series()
    assert fed == 50
    inc.verify(model)
    assert inc.series() == s and inc.mirror == replay.mirror


def test_agreement_without_an_evaluation_set(chain):
    make_initial, gen = CASES["naive bayes"]
    initial = make_initial()
    model, _, _ = _deploy(chain, initial)
    _contribute(model, chain, gen, 20, seed=3)
    replay = AccuracyReplay(initial, checkpoints=5, window=4)
    replay.feed(model.contract.events("DataAdded", from_block=model.from_block))
    assert replay.verify(model)
    s = replay.series()
    assert not s["available"] and "evaluation set" in s["reason"] and s["points"] == []
    assert s["replay_matches_chain"] is True and s["evaluation_size"] == 0
    assert [a["contributions"] for a in s["agreement"]] == [8, 16, 20] and s["spacing"] == 8


def test_a_wrong_initial_model_is_detected(chain):
    make_initial, gen = CASES["hashed sparse perceptron"]
    initial = make_initial()
    model, _, _ = _deploy(chain, initial)
    _contribute(model, chain, gen, 12, seed=5)
    events = model.contract.events("DataAdded", from_block=model.from_block)
    other = SparsePerceptron(classes=("neg", "pos"), weights={7: 2 * 10**9}, intercept=10**15, learning_rate=10**9)  # always "pos"
    replay = AccuracyReplay(other)
    replay.feed(events)
    assert replay.verify(model) is False
    s = replay.series()
    assert s["available"] is False and s["replay_matches_chain"] is False and "differently from the contract" in s["reason"]
    # a model the events do not fit (fewer features) stops the replay where it fails
    small = SparsePerceptron(classes=("neg", "pos"), num_features=100)
    bad = AccuracyReplay(small)
    assert bad.feed(events) < 12
    s = bad.series()
    assert s["available"] is False and "cannot be replayed" in s["reason"] and s["replay_matches_chain"] is False


def test_fast_paths_equal_the_mirrors():
    rng = random.Random(7)
    # naive Bayes with exact ties (symmetric counts) and an empty class at first
    nb = NaiveBayes(classes=("a", "b", "c"), num_features=2**32, class_count=[1, 1, 0],
                    feature_count=[{5: 2, 9: 1}, {9: 2, 5: 1}, {}])
    X = [[5, 9], [9, 5], [], [5], [9], [2**32 - 1, 5, 5, 9, 9], [77]] + [[rng.randrange(20) for _ in range(rng.randint(0, 8))] for _ in range(50)]
    events = []
    for i in range(300):
        x = [rng.randrange(20) for _ in range(rng.randint(0, 10))]
        events.append({"event": "DataAdded", "x": x, "label": rng.randrange(3), "added_time": i,
                       "_log": Log("0x" + "00" * 20, (), b"", i, "0x%064x" % i, 0)})
    y = [0] * len(X)
    replay = AccuracyReplay(nb, (X, y), checkpoints=300)
    m, agree = nb.copy(), []
    for k, ev in enumerate(events):
        replay.feed([ev])
        agree.append(m.predict(ev["x"]) == ev["label"])
        m.update(ev["x"], ev["label"])
        if k % 37 == 0:
            assert replay.predict_many(X) == [m.predict(x) for x in X]
    assert replay.mirror == m
    assert replay._agree_cum[-1] == sum(agree)
    # dense perceptron: numpy scores and updates equal the mirror's (large learning rates: many updates, then overflow)
    d = 16
    outcomes = []
    for lr in (2**40, 2**47 - 1):
        dp = DensePerceptron(weights=[rng.randint(-10**12, 10**12) for _ in range(d)], intercept=-3, learning_rate=lr)
        X = [_dense(rng, rng.randrange(2), d) for _ in range(60)]
        replay = AccuracyReplay(dp, (X, [0] * 60), checkpoints=100)
        m, changed = dp.copy(), 0
        for i in range(200):
            x, label = _dense(rng, rng.randrange(2), d), rng.randrange(2)
            ev = {"event": "DataAdded", "x": x, "label": label, "_log": Log("0x" + "00" * 20, (), b"", i, "0x%064x" % i, 0)}
            before = list(m.coef_)
            try:
                m.update(x, label)
            except ValidationError:  # weight overflow: the replay stops there too
                assert replay.feed([ev]) == 0 and "overflow" in replay.series()["reason"]
                outcomes.append("overflow")
                break
            changed += m.coef_ != before
            assert replay.feed([ev]) == 1 and replay.mirror == m
        else:
            outcomes.append(changed)
        assert replay.predict_many(X) == [m.predict(x) for x in X]
    assert outcomes[0] > 50 and outcomes[1] == "overflow"
    with pytest.raises(ValidationError, match="x: sample 0"):
        replay.predict_many([[1, 2]])
    with pytest.raises(ValidationError, match="evaluation: sample 1"):
        AccuracyReplay(dp, ([X[0], [0] * d], [0, 1]))


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_centroid_fast_paths_equal_the_mirrors(kind):
    rng = random.Random(3)
    if kind == "dense":
        d = 12
        initial = DenseCentroid(classes=("a", "b", "c"), num_features=d)  # all zero: every distance ties at first
        gen = lambda: _dense(rng, rng.randrange(2), d)  # noqa: E731
    else:
        initial = SparseCentroid(classes=("a", "b", "c"), sums=[{5: -SCALE, 9: 3 * SCALE}, {}, {}], data_counts=[2, 0, 0])
        gen = lambda: sorted(rng.sample([2**31, 2**32 - 1] + list(range(20)), rng.randint(0, 6)))  # noqa: E731
    X = [gen() for _ in range(50)]
    replay = AccuracyReplay(initial, (X, [0] * 50), checkpoints=400)
    m, agree = initial.copy(), 0
    for i in range(300):
        x, label = gen(), rng.randrange(3)
        agree += m.predict(x) == label
        m.update(x, label)
        replay.feed([{"event": "DataAdded", "x": x, "label": label, "_log": Log("0x" + "00" * 20, (), b"", i, "0x%064x" % i, 0)}])
        if i % 50 == 0:
            assert replay.mirror == m and replay.predict_many(X) == [m.predict(x) for x in X]
    assert replay.mirror == m and replay._agree_cum[-1] == agree
    assert [p["accuracy"] for p in replay.series()["points"]][-1] == float(np.mean([m.predict(x) == 0 for x in X]))


# -------------------------------------------------------------- balances
def test_balance_series_equals_real_balance_changes(chain):
    initial = SparsePerceptron(classes=("neg", "pos"), num_features=64, weights={1: 10**9, 2: -10**9})
    model, _, _ = _deploy(chain, initial, incentive="drt", refund_wait=10, owner_claim_wait=20, any_claim_wait=30,
                          cost_weight=10**12)
    owner, a1, a2, a3, a4 = chain.accounts[:5]
    before = {a: chain.balance(a) for a in chain.accounts[:5]}
    rng = random.Random(11)
    for i in range(12):
        who = (a1, a2, a3)[i % 3]
        x = sorted(rng.sample(range(1, 8), 2))
        label = 1 if 1 in x else 0
        if who == a2:
            label = 1 - label  # a2 mislabels
        model.contribute(x, label, sender=who, encoded=True, value=model.next_deposit() * 2)  # excess comes back
        chain.advance_time(7)
    chain.advance_time(40)  # past every wait
    for c in model.contributions():
        if model.contract.call("predict", list(c.x)) == c.label:
            model.refund(c.tx_hash, sender=c.author)
        else:
            model.report(c.tx_hash, sender=a4)  # anyone takes what remains
    events = []
    for name in MONEY_EVENTS:
        events += model.contract.events(name, from_block=model.from_block)
    assert {e["event"] for e in events} >= {"DataAdded", "Refund", "Report"}
    out = balance_series(events, clock=EventClock(chain))
    assert out["approximate_times"] is False and out["accounts"] == 4
    by_address = {s["address"]: s for s in out["series"]}
    assert set(by_address) == {a1, a2, a3, a4}
    for a, s in by_address.items():
        assert s["net_wei"] == chain.balance(a) - before[a] == s["points"][-1]["net_wei"]
        times = [p["time"] for p in s["points"]]
        assert times == sorted(times) and len(set(times)) == len(times)
    assert by_address[a4]["net_wei"] > 0 and by_address[a2]["net_wei"] < 0
    # the taker's last point is at the block time of its last report
    last_report = [e for e in events if e["event"] == "Report"][-1]
    assert by_address[a4]["points"][-1]["time"] == chain.receipt(last_report["_log"].tx_hash).timestamp
    # top 2 and the others' sum
    top = balance_series(events, top=2, clock=EventClock(chain))
    assert [s["address"] for s in top["series"][:2]] == [s["address"] for s in out["series"][:2]]
    others = top["series"][2]
    assert others["address"] == "others" and others["accounts"] == 2
    assert others["net_wei"] == sum(s["net_wei"] for s in out["series"][2:])
    # without a clock, refunds and reports in blocks no contribution dates take the previous time
    assert balance_series(events)["approximate_times"] is True
    thin = balance_series(events, max_points=2)
    assert all(len(s["points"]) <= 2 and s["points"][-1]["net_wei"] == s["net_wei"] for s in thin["series"])


# ------------------------------------------------------------------ runs
def _simulation_record():
    from ledgerlearn.simulation.record import AgentSummary, SimulationRecord

    return SimulationRecord(
        scenario={"dataset": "imdb", "model": "perceptron", "incentive": "drt", "unit_wei": 10**15},
        address="0x" + "11" * 20, classes=["neg", "pos"], n_train=10, n_test=4, n_init=2, contributions=3,
        initial_accuracy=0.5, final_accuracy=0.75, accuracies=[[0, 0.5], [100, 0.75]],
        balances={"alice": [[0, 100.0], [50, 90.0], [100, 110.0]]},
        agents=[AgentSummary("alice", "honest", "0x" + "22" * 20, 100.0, 110.0, 110.0, 3, 2, 0, 0, 3 * 10**15, 4 * 10**15)],
        unclaimed_at_end=0, virtual_seconds=100, last_contribution_s=90, transactions=5, gas_total=1000, gas_exact=False,
        reverted=0, revert_reasons={}, mirror_checks=1, mirror_mismatches=0, verified_predictions=4, verified_agree=4,
        deploy_gas=10, wall_seconds=0.5, loop_seconds=0.25, contract_balance_wei=0, unclaimed_deposits_wei=0,
    )


def bounty_record():
    from ledgerlearn.simulation.bounty import BountyAgentSummary, BountyRecord

    agent = BountyAgentSummary("honest-1", "honest", "0x" + "33" * 20, 0.0, 2, 0, 0, 10**15, 2 * 10**15, 10**17,
                               3 * 10**15, 10**17 + 10**15, 10**15, 50.0, 0)
    return BountyRecord(
        scenario={"dataset": "imdb", "seed": 0}, engine="fast", address="0x" + "44" * 20, provider="0x" + "55" * 20,
        keeper="0x" + "66" * 20, accounts_available=3, n_init=5, n_test=20, n_scored=18, drawn_piece=1, contributions=2,
        participants=1, bounty_wei=10**18, bounty_left_wei=10**18 - 10**15, rounds_total=5, rounds_left=0, agents=[agent],
        passes=[{"pass": 1, "rounds_applied": 5, "rounds_left": 0, "dropped": [{"participant": 0, "agent": "honest-1",
                                                                               "kind": "honest", "balance": 7, "forfeited": 1}]}],
        balances={"honest-1": [2 * 10**15, 3 * 10**15]}, balances_per_pass_exact=True,
        accuracy={"test_samples": 20, "initial": 0.5, "all_contributions": 0.6, "honest_only": 0.6}, initial_correct=9,
        gas_exact=False, process_gas=[1], process_max_steps=1, gas_totals={}, zero_sum_checks=[], mirror_agrees=True,
        virtual_seconds=10, transactions=9, wall={},
    )


def test_runs_are_listed_and_served(tmp_path):
    runs = tmp_path / "runs"
    _simulation_record().save(runs / "sim-1.json")
    bounty_record().save(runs / "market.json")
    (runs / "notes.json").write_text(json.dumps({"hello": 1}))
    (runs / "list.json").write_text("[1, 2]")
    (runs / "broken.json").write_text("{not json")
    (runs / "half.json").write_text(json.dumps({"scenario": {}, "agents": [], "accuracies": []}))
    (runs / "other.txt").write_text("x")
    listed = list_runs(runs)
    by_id = {r["id"]: r for r in listed}
    assert set(by_id) == {"sim-1", "market", "broken", "half"}
    sim, bounty = by_id["sim-1"], by_id["market"]
    assert sim["kind"] == "simulation" and sim["file"] == "sim-1.json" and sim["contributions"] == 3
    assert (sim["dataset"], sim["model"], sim["incentive"]) == ("imdb", "perceptron", "drt")
    assert (sim["initial_accuracy"], sim["final_accuracy"]) == (0.5, 0.75) and "DRT" in sim["title"]
    assert bounty["kind"] == "bounty" and (bounty["initial_accuracy"], bounty["final_accuracy"]) == (0.5, 0.6)
    assert by_id["broken"]["kind"] is None and "not JSON" in by_id["broken"]["error"]
    assert "error" in by_id["half"] and "error" not in sim
    assert list_runs(tmp_path / "missing") == []

    s = load_run(runs, "sim-1")
    assert s["accuracy"] == [{"time": 0, "accuracy": 0.5}, {"time": 100, "accuracy": 0.75}]
    (series,) = s["balances"]["series"]
    assert s["balances"]["unit"] == "units" and s["balances"]["unit_wei"] == 10**15
    assert series["name"] == "alice" and series["behaviour"] == "honest"
    assert [p["percent"] for p in series["points"]] == [100.0, 90.0, 110.0]
    assert s["agents"][0]["deposited_wei"] == 3 * 10**15 and s["summary"] == sim
    b = load_run(runs, "market")
    assert b["balances"]["series"][0]["points"] == [{"pass": 0, "balance_wei": 2 * 10**15}, {"pass": 1, "balance_wei": 3 * 10**15}]
    assert b["passes"][0]["dropped"][0] == {"participant": 0, "agent": "honest-1", "kind": "honest", "balance_wei": 7, "forfeited_wei": 1}
    assert b["provider"]["net_wei"] == -(10**15) and b["accuracy"]["honest_only"] == 0.6
    assert b["by_kind"]["honest"]["profit_wei"] == 10**15
    json.dumps(s), json.dumps(b)  # JSON-ready

    (tmp_path / "secret.json").write_text(json.dumps(_simulation_record().to_dict()))
    for bad in ("../secret", "..", "a/b", "/etc/passwd", ".hidden", "", "sim-1.json/..", "x" * 300):
        with pytest.raises(ValidationError, match="id"):
            load_run(runs, bad)
    with pytest.raises(NotFoundError):
        load_run(runs, "nope")
    with pytest.raises(NotFoundError, match="not a simulation"):
        load_run(runs, "notes")
    with pytest.raises(ValidationError):
        load_run(runs, "broken")


# --------------------------------------------------------------- markets
def test_bounty_market_rounds(chain):
    from ledgerlearn.markets.bounty import BountyMarket, MarketOptions, Perceptron, TestSetCommitment, to_features

    def truth(x):
        return 1 if x[0] * x[2] > 0 else 0

    pts = [[0, 2, 2], [0, 1, -1], [-1, 0, 0], [0, -1, 0], [1, -1, 2], [0, 0, 3], [0, -2, 0], [0, 2, -2], [3, 0, 0],
           [-2, 0, 2], [2, -2, 0], [1, 1, 1], [2, 0, 2], [-1, 0, -1]]
    test = [(to_features(x, dense=True), truth(x)) for x in pts]
    provider, good, bad = chain.accounts[:3]
    start = chain.block_number
    commitment = TestSetCommitment.split(test, 7)
    market = BountyMarket.create(chain, provider=provider, bounty=100_000, model=Perceptron([0, 10**8, 0], -10**8, 10**9),
                                 commitment=commitment, options=MarketOptions(min_stake=1, reset_model=True))
    market.reveal_initial(commitment)
    train = [[1, 1, 1], [2, 0, 2], [-1, 0, 1], [1, 0, -1], [3, 1, 2], [0, 1, 1], [-2, 1, 2], [1, 2, 1]]
    for i, x in enumerate(train):
        who, label = (good, truth(x)) if i % 2 == 0 else (bad, 1 - truth(x))
        market.contribute(to_features(x, dense=True), label, sender=who)
    market.end(sender=good)
    market.reveal_rest(commitment)
    market.process_all(sender=bad)
    market.withdraw(sender=good)
    st = market.status()
    assert st["phase"] == "finished"

    out = market_rounds(chain, "m1", {"address": market.address.lower(), "deploy_block": start})
    assert (out["name"], out["kind"], out["address"], out["phase"]) == ("m1", "bounty", market.address, "finished")
    s = out["summary"]
    assert s["contributions"] == 8 and s["contributors"] == 2 and s["deposits_wei"] == 8
    assert s["bounty_left_wei"] == st["bounty_left"] and s["rounds_left"] == st["rounds_left"] == 0
    assert s["test_samples"] == st["test_samples"] and s["initial_correct"] == st["initial_correct"]
    assert s["initial_accuracy"] == st["initial_correct"] / st["test_samples"]
    assert s["withdrawals"] == [{"account": good, "amount_wei": s["withdrawn_wei"]}] and s["withdrawn_wei"] > 0
    settled = market.contract.events("PassSettled")
    assert [r["pass"] for r in out["rounds"]] == [e["pass_number"] for e in settled] and s["passes"] == len(settled)
    assert sum(r["rounds_applied"] for r in out["rounds"]) == s["rounds_total"]
    first = out["rounds"][0]
    assert first["state"] == "settled" and first["time"] is not None and first["evaluations"]
    assert first["accuracy"] == first["evaluations"][-1]["correct"] / s["test_samples"]
    dropped = market.contract.events("Dropped")
    assert sum(len(r["dropped"]) for r in out["rounds"]) == len(dropped)
    assert [t["event"] for t in out["timeline"]][-3:] == ["MarketEnded", "RewardStarted", "Finished"]
    json.dumps(out)
    with pytest.raises(NotFoundError):
        market_rounds(chain, "gone", {"address": "0x" + "77" * 20})
    with pytest.raises(ValidationError, match="kind"):
        market_rounds(chain, "x", {"kind": "lottery", "address": market.address})


def test_training_market_rounds(chain):
    from eth_account import Account

    from ledgerlearn.markets.training.client import TrainingMarket
    from ledgerlearn.markets.training.commitments import HashChain, commitment, digest, make_nonce, subsets_of

    fee, price, ds, model_id, cid = 10**16, 10**15, b"\x0d" * 32, b"\x0e" * 32, b"\xc1" * 32
    members = []
    for _ in range(2 + 6):
        acct = Account.create()
        chain.add_account(acct)
        chain.send(TxRequest(sender=chain.accounts[0], to=acct.address, value=10**19))
        members.append(acct.address)
    do, mo, cos = members[0], members[1], members[2:]
    start = chain.block_number
    mk = TrainingMarket.deploy(chain, sender=chain.accounts[0])
    mk.register_dataset(ds, 2, 3, fee, price, b"\x01" * 32, sender=do)
    for i, co in enumerate(cos):
        mk.claim(ds, i, b"\x02" * 32, sender=co)
        mk.deliver(ds, i, b"pointer", sender=do)
        nonce = make_nonce(co)
        mk.join(ds, i, commitment(digest(b"subset-%d" % (i // 3)), nonce), nonce, sender=co)
        mk.verify(ds, i, True, sender=do)
    mk.register_model(model_id, "linear-lsq", "{}", b"\x03" * 32, b"", sender=mo)
    mo_chain, do_chain = HashChain.fresh(2), HashChain.fresh(2)
    mk.request_couple(cid, model_id, ds, 2, 1, 600, mo_chain.head, b"\x04" * 32, sender=mo)
    mk.approve_couple(cid, do_chain.head, sender=do)
    for rnd in (1, 2):
        mk.start_round(cid, mo_chain.value(rnd), b"\x05" * 32, sender=mo)
        mk.draw_round(cid, do_chain.value(rnd), sender=do)
        (s,) = subsets_of(mk.round_subsets(cid, rnd))
        model = b"model-%d" % s
        for i in range(s * 3, s * 3 + 3):
            nonce = make_nonce(cos[i])
            mk.update_job(cid, i, commitment(digest(model if i % 3 else b"dummy"), nonce), nonce, b"ptr", sender=cos[i])
        mk.settle(cid, s, digest(model), sender=mo)

    out = market_rounds(chain, "tm", {"kind": "training-market", "address": mk.address, "deploy_block": start})
    assert out["kind"] == "training-market" and out["phase"] == "idle"
    (couple,) = out["summary"]["couples"]
    assert couple["status"] == "completed" and couple["rounds"] == 2 and couple["escrow_wei"] == fee + price * 3 * 2
    assert out["summary"]["datasets"] == 1 and out["summary"]["models"] == 1
    rounds = out["rounds"]
    assert [r["round"] for r in rounds] == [1, 2] and all(r["couple"] == "0x" + cid.hex() for r in rounds)
    for r in rounds:
        assert r["state"] == "closed" and r["jobs"] == 3 and r["updates"] == 3
        assert (r["passed"], r["fraud"], r["missing"]) == (2, 1, 0) and r["paid_wei"] == 2 * price
        assert len(r["subsets"]) == 1 and r["settled_subsets"] == [{"subset": r["subsets"][0], "agreeing": 2}]
        assert r["licence_paid_wei"] > 0 and r["time"] is not None and r["closed_time"] >= r["time"]
    assert sum(r["licence_paid_wei"] for r in rounds) == fee
    json.dumps(out)


def test_data_market_rounds(chain):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_data_market_contract import Market, ensure_accounts  # noqa: E402 - the contract tests' round driver

    accounts = ensure_accounts(chain, 8)
    owner, dos = accounts[0], accounts[1:7]
    start = chain.block_number
    m = Market(chain, owner, dos, rounds=2)
    m.register_all()
    m.start()
    m.play_round({a: m.random_update() for a in dos})  # everyone submits
    group = m.groups()[0]
    m.play_round({a: m.random_update() for a in dos}, drop=(group[0],))  # one drops out and is recovered

    out = market_rounds(chain, "dm", {"kind": "data-market", "address": m.c.address, "deploy_block": start})
    assert out["kind"] == "data-market" and out["phase"] == "closed"
    s = out["summary"]
    assert s["registered"] == 6 and s["groups"] == 2 and s["rounds_total"] == 2
    r1, r2 = out["rounds"]
    assert (r1["round"], r1["state"], r1["keys_posted"], r1["submitted"], r1["dropped"]) == (1, "finalized", 6, 6, 0)
    assert (r1["groups_valid"], r1["groups_kept"], r1["groups_rejected"], r1["paid"]) == (2, 2, 0, 6)
    assert r1["paid_wei"] == 6 * m.params["reward"] and r1["time"] is not None and r1["keys_deadline"] > r1["time"]
    assert (r2["keys_posted"], r2["submitted"], r2["dropped"], r2["recovered"], r2["paid"]) == (6, 5, 1, 1, 5)
    assert s["paid_wei"] == 11 * m.params["reward"]
    assert [t["event"] for t in out["timeline"]] == ["Started", "Closed"]
    json.dumps(out)
