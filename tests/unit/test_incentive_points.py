"""Points: free contributions, each claimable exactly once (refund by the author or report by someone else)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from incentive_harness import NEG, POS, REFUND_WAIT, World, expect_revert  # noqa: E402

from ledgerlearn.errors import ValidationError  # noqa: E402


@pytest.fixture(scope="module")
def world():
    return World("points")


@pytest.fixture
def w(world):
    sid = world.chain.snapshot()
    yield world
    assert world.chain.balance(world.model.address) == 0  # no money ever stays
    world.chain.revert(sid)


def test_views(w):
    assert w.model.call("incentive") == "points"
    assert w.model.call("next_deposit") == 0 and w.model.call("cost_weight") == 0
    assert w.model.call("refund_wait") == REFUND_WAIT
    assert w.model.call("pending_withdrawal", w.alice) == 0


def test_contributing_is_free(w):
    a = w.add(w.alice, POS, 1)
    assert a.deposit == 0
    assert w.contribution(a.key) == (0, 0, 0, a.added_time)
    assert w.model.call("last_update") == a.added_time
    expect_revert(lambda: w.add(w.alice, POS, 1, value=1), "points: contributing is free")


def test_refund_earns_a_point_once(w):
    a = w.add(w.alice, POS, 1)
    w.chain.advance_time(REFUND_WAIT)
    r = w.refund(w.alice, a)
    assert w.model.events("Refund", r.logs)[0]["amount"] == 0
    assert w.model.call("points", w.alice) == 1 and w.model.call("good_count", w.alice) == 1
    assert w.model.call("total_good") == 1
    assert w.contribution(a.key) == (0, 0, 1, a.added_time)
    assert w.model.call("has_claimed", a.key, w.alice) and w.model.call("refunded", a.key)
    expect_revert(lambda: w.refund(w.alice, a), "points: already claimed")
    # and nobody can report it afterwards
    w.add(w.bob, POS, 0)  # (unrelated contribution)
    expect_revert(lambda: w.report(w.bob, a), "points: already claimed")


def test_report_claims_once(w):
    bad = w.add(w.alice, POS, 0)
    w.chain.advance_time(REFUND_WAIT)
    r = w.report(w.bob, bad)  # no verified contribution needed under Points
    assert w.model.events("Report", r.logs)[0]["reporter"] == w.bob
    assert w.model.call("has_claimed", bad.key, w.bob) and not w.model.call("has_claimed", bad.key, w.alice)
    assert not w.model.call("refunded", bad.key)
    assert w.contribution(bad.key)[2] == 1
    expect_revert(lambda: w.report(w.carol, bad), "points: already claimed")
    expect_revert(lambda: w.report(w.bob, bad), "points: already claimed")
    assert w.model.call("points", w.alice) == 0


def test_refund_refused_when_model_disagrees(w):
    bad = w.add(w.alice, NEG, 1)
    w.chain.advance_time(REFUND_WAIT)
    expect_revert(lambda: w.refund(w.alice, bad), "points: the model disagrees with the contribution")


def test_report_refused_when_model_agrees(w):
    good = w.add(w.alice, POS, 1)
    w.chain.advance_time(REFUND_WAIT)
    expect_revert(lambda: w.report(w.bob, good), "points: the model agrees with the contribution")


def test_author_cannot_report(w):
    bad = w.add(w.alice, POS, 0)
    w.chain.advance_time(REFUND_WAIT)
    expect_revert(lambda: w.report(w.alice, bad), "points: cannot report your own contribution")


def test_too_early(w):
    a = w.add(w.alice, POS, 1)
    b = w.add(w.alice, POS, 0)
    expect_revert(lambda: w.refund(w.alice, a), "points: too early to refund")
    expect_revert(lambda: w.report(w.bob, b), "points: too early to report")


def test_unknown_data(w):
    a = w.add(w.alice, POS, 1)
    w.chain.advance_time(REFUND_WAIT)
    expect_revert(lambda: w.refund(w.bob, a), "points: data not found")


def test_withdraw_refused(w):
    expect_revert(lambda: w.model.transact("withdraw", sender=w.alice), "points: nothing to withdraw")


def test_initialize_rejects_cost_weight(world):
    init = world.model.abi.encode_call("initialize", (world.owner, "n", "d", "none", 0, 0, 0, 1, ["a", "b"], 0, 1))[1]
    expect_revert(lambda: world.factory.transact("create", world.result.implementation, init, sender=world.owner), "points: cost_weight must be 0")
    with pytest.raises(ValidationError, match="cost_weight"):
        World("points", cost_weight=5, chain=world.chain)


def test_initialize_rejects_bad_wait_order(world):
    init = world.model.abi.encode_call("initialize", (world.owner, "n", "d", "none", 9, 1, 10, 0, ["a", "b"], 0, 1))[1]
    expect_revert(lambda: world.factory.transact("create", world.result.implementation, init, sender=world.owner), "points: refund_wait must be <= owner_claim_wait")
