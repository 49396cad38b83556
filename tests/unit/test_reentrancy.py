"""Payments under attack: a hostile receiver re-enters on every payment path, or refuses payments.

Every path that pays (excess return in add_data, refund, report payout, take,
withdraw) is attacked by a contract that re-enters the model when paid. The
re-entry would succeed on its own (an `add_data` with enough value), so only
the re-entrancy guard stops it. A receiver that reverts gets its money
credited to `pending_withdrawal` and blocks nobody else. After every test the
contract's balance equals the remaining deposits plus the pending withdrawals.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from incentive_harness import ANY_WAIT, NEG, POS, REFUND_WAIT, World, expect_revert  # noqa: E402

FUND = 20 * 10**18
REENTRY_VALUE = 4 * 10**18  # more than any deposit: the re-entering add_data would pay enough


@pytest.fixture(scope="module")
def world():
    return World("drt")


@pytest.fixture
def w(world):
    sid = world.chain.snapshot()
    yield world
    world.assert_solvent()
    world.chain.revert(sid)


@pytest.fixture
def h(w):
    """A hostile contract holding FUND wei."""
    c = w.deploy_hostile()
    c.transact("act", w.owner, b"", 0, sender=w.erin, value=FUND)  # fund it (a plain transfer to the owner of 0)
    return c


def act(w, h, fn: str, *args, value: int = 0):
    return h.transact("act", w.model.address, w.calldata(fn, *args), value, sender=w.erin)


def hostile_add(w, h, x, label, value=None):
    value = w.model.call("next_deposit") if value is None else value
    r = act(w, h, "add_data", x, label, value=value)
    ev = w.model.events("DataAdded", r.logs)[0]
    return ev


def arm(w, h, reentry: str = "add_data"):
    """Mode 2: re-enter with a call that would succeed without the guard."""
    if reentry == "add_data":
        data, value = w.calldata("add_data", NEG, 0), REENTRY_VALUE
    elif reentry == "withdraw":
        data, value = w.calldata("withdraw"), 0
    else:
        raise ValueError(reentry)
    h.transact("configure", 2, w.model.address, data, value, sender=w.erin)


def assert_blocked(w, h, attempts: int = 1):
    assert h.call("attempts") == attempts
    assert h.call("successes") == 0


def n_added(w) -> int:
    return len(w.model.events("DataAdded"))


def test_excess_return_reentry_blocked(w, h):
    arm(w, h)
    before = n_added(w)
    d = w.model.call("next_deposit")
    act(w, h, "add_data", POS, 1, value=d + 10**18)
    assert_blocked(w, h)
    assert h.call("received") == 10**18
    assert n_added(w) == before + 1


def test_refund_reentry_blocked(w, h):
    ev = hostile_add(w, h, POS, 1)
    w.chain.advance_time(REFUND_WAIT)
    arm(w, h)
    before = n_added(w)
    act(w, h, "refund", POS, 1, ev["added_time"])
    assert_blocked(w, h)
    assert h.call("received") == ev["deposit"]
    assert n_added(w) == before
    assert w.model.call("good_count", h.address) == 1


def test_refund_reentering_refund_blocked(w, h):
    ev = hostile_add(w, h, POS, 1)
    w.chain.advance_time(REFUND_WAIT)
    h.transact("configure", 2, w.model.address, w.calldata("refund", POS, 1, ev["added_time"]), 0, sender=w.erin)
    act(w, h, "refund", POS, 1, ev["added_time"])
    assert_blocked(w, h)
    assert h.call("received") == ev["deposit"]


def test_report_payout_reentry_blocked(w, h):
    ev = hostile_add(w, h, POS, 1)
    w.chain.advance_time(REFUND_WAIT)
    act(w, h, "refund", POS, 1, ev["added_time"])  # h is verified now (mode 0)
    w.verify(w.bob)  # total_good 2: h's share is half
    bad = w.add(w.alice, POS, 0)
    w.chain.advance_time(REFUND_WAIT)
    arm(w, h)
    r0 = h.call("received")
    act(w, h, "report", POS, 0, bad.added_time, w.alice)
    assert_blocked(w, h)
    assert h.call("received") - r0 == bad.deposit // 2
    assert w.model.call("has_claimed", bad.key, h.address)


def test_take_reentry_blocked(w, h):
    good = w.add(w.alice, POS, 1)
    w.chain.advance_time(ANY_WAIT)
    arm(w, h)
    act(w, h, "report", POS, 1, good.added_time, w.alice)
    assert_blocked(w, h)
    assert h.call("received") == good.deposit
    assert w.contribution(good.key)[1] == 0


def test_withdraw_reentry_blocked(w, h):
    ev = hostile_add(w, h, POS, 1)
    w.chain.advance_time(REFUND_WAIT)
    h.transact("configure", 1, w.model.address, b"", 0, sender=w.erin)  # refuse: credited instead
    r = act(w, h, "refund", POS, 1, ev["added_time"])
    deferred = w.model.events("PaymentDeferred", r.logs)
    assert [(e["account"], e["amount"]) for e in deferred] == [(h.address, ev["deposit"])]
    assert w.model.call("pending_withdrawal", h.address) == ev["deposit"]
    for reentry in ("add_data", "withdraw"):
        sid = w.chain.snapshot()
        arm(w, h, reentry)
        r = act(w, h, "withdraw")
        assert_blocked(w, h)
        assert h.call("received") == ev["deposit"]
        assert w.model.call("pending_withdrawal", h.address) == 0
        assert [(e["account"], e["amount"]) for e in w.model.events("Withdrawal", r.logs)] == [(h.address, ev["deposit"])]
        w.assert_solvent()
        w.chain.revert(sid)


def test_reverting_receiver_blocks_nobody(w, h):
    h.transact("configure", 1, w.model.address, b"", 0, sender=w.erin)
    # excess return fails: the contribution is still accepted, the excess credited
    d = w.model.call("next_deposit")
    r = act(w, h, "add_data", POS, 1, value=d + 123)
    ev = w.model.events("DataAdded", r.logs)[0]
    assert w.model.call("pending_withdrawal", h.address) == 123
    # others go on: contributions, refunds, reports, takes
    a = w.add(w.alice, POS, 1)
    w.verify(w.bob)
    bad = w.add(w.carol, POS, 0)
    w.chain.advance_time(REFUND_WAIT)
    w.refund(w.alice, a)
    w.report(w.bob, bad)
    # the hostile contract's refund is credited, not pushed
    act(w, h, "refund", POS, 1, ev["added_time"])
    assert w.model.call("pending_withdrawal", h.address) == 123 + ev["deposit"]
    w.assert_solvent()
    # pulling while still refusing fails and changes nothing
    expect_revert(lambda: act(w, h, "withdraw"), "drt: transfer failed")
    assert w.model.call("pending_withdrawal", h.address) == 123 + ev["deposit"]
    # once it accepts payments it can pull
    h.transact("configure", 0, w.model.address, b"", 0, sender=w.erin)
    act(w, h, "withdraw")
    assert h.call("received") == 123 + ev["deposit"]
    assert w.model.call("pending_withdrawal", h.address) == 0
    expect_revert(lambda: act(w, h, "withdraw"), "drt: nothing to withdraw")


def test_reverting_author_take_by_others(w, h):
    """A contribution whose author refuses payments can still be taken by anyone."""
    h.transact("configure", 1, w.model.address, b"", 0, sender=w.erin)
    ev = hostile_add(w, h, POS, 1)
    w.chain.advance_time(ANY_WAIT)
    d0 = w.chain.balance(w.dave)
    w.model.transact("report", POS, 1, ev["added_time"], h.address, sender=w.dave)
    assert w.chain.balance(w.dave) - d0 == ev["deposit"]
