"""Deposit, Refund and Take: every rule of the spec, on the real contracts (stub model)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from incentive_harness import (  # noqa: E402
    ANY_WAIT,
    COST_WEIGHT,
    FLIP,
    NEG,
    OWNER_WAIT,
    POS,
    REFUND_WAIT,
    StubMirror,
    World,
    expect_revert,
    key_of,
)

from ledgerlearn.errors import TransactionReverted, ValidationError  # noqa: E402


@pytest.fixture(scope="module")
def world():
    return World("drt")


@pytest.fixture
def w(world):
    sid = world.chain.snapshot()
    yield world
    world.assert_solvent()
    world.chain.revert(sid)


# ------------------------------------------------------------------ deposits
def test_deposit_worked_values(w):
    # cost_weight = 1e15: dt=1 (and dt=0) -> 3.6e18; 4 -> 1.8e18; 3600 -> 6e16; 86400 -> 12_286_689_419_795_221
    w.add(w.alice, POS, 1)
    assert w.model.call("next_deposit") == 3_600_000_000_000_000_000  # next block: dt = 1
    for dt, expected in ((4, 1_800_000_000_000_000_000), (3600, 60_000_000_000_000_000), (86400, 12_286_689_419_795_221)):
        w.chain.advance_time(dt)
        assert w.model.call("next_deposit") == expected
        a = w.add(w.alice, POS, 1)
        assert a.deposit == expected
        assert w.model.call("last_update") == a.added_time
        assert w.contribution(a.key) == (expected, expected, 0, a.added_time)


def test_deposit_dt_zero_same_block(w):
    """Two contributions in one block: the second pays cost_weight * 3600 (divisor 1)."""
    h = w.deploy_hostile()
    big = 4 * 10**18
    d1, d2 = w.calldata("add_data", POS, 1), w.calldata("add_data", NEG, 0)
    w.chain.advance_time(86400)
    r = h.transact("act2", w.model.address, d1, big, d2, big, sender=w.alice, value=2 * big)
    deposits = [e["deposit"] for e in w.model.events("DataAdded", r.logs)]
    assert deposits == [COST_WEIGHT * 3600 // 293, COST_WEIGHT * 3600]  # isqrt(86400 + 1 s) = 293
    # the excess of both went back to the contract that paid
    assert w.chain.balance(h.address) == 2 * big - sum(deposits)


def test_deposit_zero_cost_weight():
    w = World("drt", cost_weight=0)
    assert w.model.call("next_deposit") == 0
    a = w.add(w.alice, POS, 1, value=0)
    assert a.deposit == 0 and w.contribution(a.key) == (0, 0, 0, a.added_time)
    # a free contribution can still be refunded once (it counts as verified) but not reported
    w.chain.advance_time(REFUND_WAIT)
    w.refund(w.alice, a)
    assert w.model.call("good_count", w.alice) == 1
    expect_revert(lambda: w.refund(w.alice, a), "drt: already refunded")
    b = w.add(w.bob, POS, 0, value=0)
    w.chain.advance_time(REFUND_WAIT)
    expect_revert(lambda: w.report(w.alice, b), "drt: nothing left to claim")
    w.assert_solvent()


def test_underpay_reverts(w):
    d = w.model.call("next_deposit")
    expect_revert(lambda: w.add(w.alice, POS, 1, value=d - 1), "drt: deposit too low")
    expect_revert(lambda: w.add(w.alice, POS, 1, value=0), "drt: deposit too low")


def test_excess_returned(w):
    before = w.chain.balance(w.alice)
    a = w.add(w.alice, POS, 1, value=10**20)
    assert w.chain.balance(w.alice) == before - a.deposit  # gas price is 0 on the dev chain
    assert w.chain.balance(w.model.address) == a.deposit


def test_add_data_event_publishes_the_data(w):
    a = w.add(w.alice, [1, 2, 3], 1)
    ev = w.model.events("DataAdded")[-1]
    assert ev["x"] == (1, 2, 3) and ev["label"] == 1 and ev["author"] == w.alice
    assert ev["key"] == key_of([1, 2, 3], 1, a.added_time, w.alice)


def test_bad_label_and_input_revert(w):
    expect_revert(lambda: w.add(w.alice, POS, 2), "model:")
    expect_revert(lambda: w.add(w.alice, [3, 1], 1), "model: indices must be strictly increasing")


# -------------------------------------------------------------------- refunds
def test_refund_succeeds(w):
    a = w.add(w.alice, POS, 1)
    w.chain.advance_time(REFUND_WAIT)
    before = w.chain.balance(w.alice)
    r = w.refund(w.alice, a)
    assert w.chain.balance(w.alice) == before + a.deposit
    assert [(e["key"], e["author"], e["amount"]) for e in w.model.events("Refund", r.logs)] == [(a.key, w.alice, a.deposit)]
    assert w.model.call("good_count", w.alice) == 1 and w.model.call("total_good") == 1
    assert w.contribution(a.key) == (a.deposit, 0, 1, a.added_time)
    assert w.model.call("refunded", a.key)


def test_refund_too_early(w):
    a = w.add(w.alice, POS, 1)
    w.chain.advance_time(REFUND_WAIT - 1)  # the refund's block is 1 s short
    expect_revert(lambda: w.refund(w.alice, a), "drt: too early to refund")
    w.chain.advance_time(1)
    w.refund(w.alice, a)  # exactly refund_wait


def test_refund_model_disagrees(w):
    a = w.add(w.alice, POS, 0)
    w.chain.advance_time(REFUND_WAIT)
    expect_revert(lambda: w.refund(w.alice, a), "drt: the model disagrees with the contribution")


def test_refund_uses_the_current_model(w):
    a = w.add(w.alice, FLIP, 1)  # the model agrees now
    w.add(w.bob, FLIP, 0)  # a mistaken update: w[3] 1 -> 0, FLIP now predicts 0
    assert w.model.call("predict", FLIP) == 0
    w.chain.advance_time(REFUND_WAIT)
    expect_revert(lambda: w.refund(w.alice, a), "drt: the model disagrees")


def test_refund_twice(w):
    a = w.add(w.alice, POS, 1)
    w.chain.advance_time(REFUND_WAIT)
    w.refund(w.alice, a)
    expect_revert(lambda: w.refund(w.alice, a), "drt: already refunded")


def test_refund_unknown_data(w):
    a = w.add(w.alice, POS, 1)
    w.chain.advance_time(REFUND_WAIT)
    expect_revert(lambda: w.model.transact("refund", POS, 1, a.added_time + 1, sender=w.alice), "drt: data not found")
    expect_revert(lambda: w.model.transact("refund", NEG, 1, a.added_time, sender=w.alice), "drt: data not found")
    expect_revert(lambda: w.refund(w.bob, a), "drt: data not found")  # only the author's key matches


def test_refund_after_others_took_everything(w):
    a = w.add(w.alice, POS, 1)
    w.chain.advance_time(ANY_WAIT)
    w.report(w.dave, a)
    expect_revert(lambda: w.refund(w.alice, a), "drt: already claimed by others")


# -------------------------------------------------------------------- reports
def test_report_share_is_proportional_to_verified_contributions(w):
    w.verify(w.bob, 1)
    w.verify(w.carol, 3)
    assert w.model.call("total_good") == 4
    bad = w.add(w.alice, POS, 0)  # the model disagrees with label 0
    d = bad.deposit
    w.chain.advance_time(REFUND_WAIT)
    b0, c0 = w.chain.balance(w.bob), w.chain.balance(w.carol)
    r = w.report(w.bob, bad)
    assert w.chain.balance(w.bob) - b0 == d * 1 // 4
    assert w.model.events("Report", r.logs)[0]["amount"] == d // 4
    assert w.contribution(bad.key) == (d, d - d // 4, 1, bad.added_time)
    assert w.model.call("has_claimed", bad.key, w.bob)
    w.report(w.carol, bad)
    assert w.chain.balance(w.carol) - c0 == d * 3 // 4
    assert w.contribution(bad.key)[1:3] == (d - d // 4 - d * 3 // 4, 2)


def test_report_reward_capped_at_remaining(w):
    w.verify(w.bob, 1)
    w.verify(w.carol, 3)
    bad = w.add(w.alice, POS, 0)
    d = bad.deposit
    w.chain.advance_time(REFUND_WAIT)
    w.report(w.carol, bad)  # 3/4
    c0 = w.chain.balance(w.carol)
    # bob's 1/4 fits; a second verified reporter with a bigger share would be capped
    w.verify(w.dave, 3)  # total 7: dave's share 3/7 of d > what remains (d - 3d/4)
    left = w.contribution(bad.key)[1]
    d0 = w.chain.balance(w.dave)
    w.report(w.dave, bad)
    assert w.chain.balance(w.dave) - d0 == left
    assert w.contribution(bad.key)[1] == 0
    expect_revert(lambda: w.report(w.bob, bad), "drt: nothing left to claim")
    assert w.chain.balance(w.carol) == c0


def test_report_reward_zero_takes_all():
    w = World("drt", cost_weight=1)  # tiny deposits: initial * good // total_good rounds to 0
    for who in (w.bob, w.carol, w.dave, w.erin):
        w.verify(who, 1)
    w.chain.advance_time(10**6)
    bad = w.add(w.alice, POS, 0)
    assert bad.deposit == 3600 // 1000  # 3 wei: 3 * 1 // 4 == 0
    w.chain.advance_time(REFUND_WAIT)
    b0 = w.chain.balance(w.bob)
    w.report(w.bob, bad)
    assert w.chain.balance(w.bob) - b0 == 3
    assert w.contribution(bad.key)[1] == 0
    w.assert_solvent()


def test_report_by_author_refused(w):
    w.verify(w.alice)
    bad = w.add(w.alice, POS, 0)
    w.chain.advance_time(REFUND_WAIT)
    expect_revert(lambda: w.report(w.alice, bad), "drt: cannot report your own contribution")


def test_report_without_verified_contribution_refused(w):
    bad = w.add(w.alice, POS, 0)
    w.chain.advance_time(REFUND_WAIT)
    expect_revert(lambda: w.report(w.bob, bad), "drt: reporter has no verified contribution")


def test_report_when_model_agrees_refused(w):
    w.verify(w.bob)
    good = w.add(w.alice, POS, 1)
    w.chain.advance_time(REFUND_WAIT)
    expect_revert(lambda: w.report(w.bob, good), "drt: the model agrees with the contribution")


def test_report_twice_refused(w):
    w.verify(w.bob, 1)
    w.verify(w.carol, 1)
    bad = w.add(w.alice, POS, 0)
    w.chain.advance_time(REFUND_WAIT)
    w.report(w.bob, bad)  # takes 1/2, half remains
    expect_revert(lambda: w.report(w.bob, bad), "drt: already reported by this address")


def test_report_too_early(w):
    w.verify(w.bob)
    bad = w.add(w.alice, POS, 0)
    expect_revert(lambda: w.report(w.bob, bad), "drt: too early to report")


def test_report_unknown_data(w):
    w.verify(w.bob)
    bad = w.add(w.alice, POS, 0)
    w.chain.advance_time(REFUND_WAIT)
    expect_revert(lambda: w.model.transact("report", POS, 0, bad.added_time, w.carol, sender=w.bob), "drt: data not found")


def test_owner_takes_all_after_owner_wait(w):
    good = w.add(w.alice, POS, 1)  # even a contribution the model agrees with
    w.chain.advance_time(REFUND_WAIT)
    # before owner_claim_wait the owner is an ordinary reporter
    expect_revert(lambda: w.report(w.owner, good), "drt: reporter has no verified contribution")
    w.chain.advance_time(OWNER_WAIT - REFUND_WAIT)
    # others still follow the ordinary rules
    expect_revert(lambda: w.report(w.dave, good), "drt: reporter has no verified contribution")
    o0 = w.chain.balance(w.owner)
    r = w.report(w.owner, good)
    assert w.chain.balance(w.owner) - o0 == good.deposit
    assert w.model.events("Report", r.logs)[0]["reporter"] == w.owner
    assert w.contribution(good.key)[1] == 0
    expect_revert(lambda: w.report(w.owner, good), "drt: nothing left to claim")


def test_anyone_takes_all_after_last_wait(w):
    good = w.add(w.alice, POS, 1)
    w.chain.advance_time(ANY_WAIT - 1)
    expect_revert(lambda: w.report(w.dave, good), "drt: reporter has no verified contribution")  # 1 s short
    w.chain.advance_time(1)
    d0 = w.chain.balance(w.dave)
    w.report(w.dave, good)  # dave: no verified contribution, model agrees: still takes it
    assert w.chain.balance(w.dave) - d0 == good.deposit
    expect_revert(lambda: w.report(w.erin, good), "drt: nothing left to claim")
    expect_revert(lambda: w.report(w.dave, good), "drt: nothing left to claim")


def test_take_after_partial_report(w):
    w.verify(w.bob, 1)
    w.verify(w.carol, 1)
    bad = w.add(w.alice, POS, 0)
    w.chain.advance_time(REFUND_WAIT)
    w.report(w.bob, bad)
    left = w.contribution(bad.key)[1]
    w.chain.advance_time(ANY_WAIT)
    e0 = w.chain.balance(w.erin)
    w.report(w.erin, bad)
    assert w.chain.balance(w.erin) - e0 == left
    assert w.contribution(bad.key)[1:3] == (0, 2)


# ------------------------------------------------------------- initialisation
@pytest.mark.parametrize(
    "waits,reason",
    [
        ((10, 5, 20), "drt: refund_wait must be <= owner_claim_wait"),
        ((1, 30, 20), "drt: owner_claim_wait must be <= any_claim_wait"),
        ((0, 0, 2**32), "drt: waits must be < 2**32 seconds"),
    ],
)
def test_initialize_rejects_bad_waits(world, waits, reason):
    impl = world.result.implementation
    init = world.model.abi.encode_call(
        "initialize", (world.owner, "n", "d", "none", *waits, COST_WEIGHT, ["a", "b"], 0, 1)
    )[1]
    expect_revert(lambda: world.factory.transact("create", impl, init, sender=world.owner), reason)


def test_initialize_rejects_huge_cost_weight(world):
    init = world.model.abi.encode_call("initialize", (world.owner, "n", "d", "none", 0, 0, 0, 2**79, ["a", "b"], 0, 1))[1]
    expect_revert(lambda: world.factory.transact("create", world.result.implementation, init, sender=world.owner), "drt: cost_weight")


def test_deploy_validates_waits_before_sending(world):
    n = world.chain.block_number
    with pytest.raises(ValidationError, match="refund_wait <= owner_claim_wait"):
        World("drt", refund_wait=5, owner_claim_wait=1, chain=world.chain)
    assert world.chain.block_number == n


def test_initialize_twice_refused(w):
    init = w.model.abi.encode_call("initialize", (w.alice, "n", "d", "none", 0, 0, 0, 0, ["a", "b"], 0, 1))[1]
    with pytest.raises(TransactionReverted, match="setup: already initialized"):
        w.chain.send(w.model.tx("initialize", w.alice, "n", "d", "none", 0, 0, 0, 0, ["a", "b"], 0, 1, sender=w.alice))
    assert init  # (encodable)
    assert w.model.call("owner") == w.owner


def test_mirror_stub_round_trip(w):
    m = StubMirror()
    assert w.model.call("predict", POS) == 1 and w.model.call("predict", NEG) == 0
    assert m.init_args()[0] == ["Negative", "Positive"]
