"""SharedModel client: typed API over the entry contract (against a Python fake of it)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_shared_model import FakeChain  # noqa: E402

from ledgerlearn.encoders import murmurhash3  # noqa: E402
from ledgerlearn.errors import LedgerlearnError, NotFoundError, TransactionReverted, ValidationError  # noqa: E402
from ledgerlearn.shared_models import SharedModel, Status, contribution_key  # noqa: E402
from ledgerlearn.shared_models.status import (  # noqa: E402
    contribution_status,
    format_duration,
    format_eth,
    parse_amount,
    parse_duration,
    report_reward,
)
from ledgerlearn.store import OriginalStore  # noqa: E402

GOOD = "great movie"
BAD = "awful film"
POS = {murmurhash3("great"): 3 * 10**9, murmurhash3("movie"): 10**9, murmurhash3("awful"): -3 * 10**9}


@pytest.fixture
def chain():
    return FakeChain()


@pytest.fixture
def store(tmp_path):
    s = OriginalStore(tmp_path / "originals.sqlite")
    yield s
    s.close()


def make(chain, store=None, **kw) -> SharedModel:
    kw.setdefault("weights", POS)
    addr = chain.deploy_entry(**kw)
    return SharedModel(chain, addr, store=store)


def test_info_and_predict(chain):
    m = make(chain, name="imdb", description="sentiment")
    info = m.info()
    assert info.name == "imdb" and info.description == "sentiment"
    assert info.encoder == "MurmurHash3" and info.model_type == "sparse perceptron" and info.incentive == "drt"
    assert info.classes == ("Negative", "Positive")
    assert (info.refund_wait, info.owner_claim_wait, info.any_claim_wait) == (3600, 7200, 86400)
    assert info.cost_weight == 10**15 and info.owner == chain.accounts[0]
    assert m.predict(GOOD) == 1 and m.predict_name(GOOD) == "Positive"
    assert m.predict(BAD) == 0
    # Already encoded input (a list) is passed through for a text encoder.
    assert m.predict(sorted({murmurhash3("great")})) == 1
    assert m.predict("GREAT  Movie") == 1  # lower-cased, split on white space


def test_no_contract_at_address(chain):
    with pytest.raises(NotFoundError, match="address"):
        SharedModel(chain, "0x" + "12" * 20)


def test_bad_input_and_label_are_refused_before_sending(chain):
    m = make(chain)
    a = chain.accounts[1]
    n = chain.block_number
    with pytest.raises(ValidationError, match="label"):
        m.contribute(GOOD, 2, sender=a)
    with pytest.raises(ValidationError, match="label"):
        m.contribute(GOOD, "Neutral", sender=a)
    with pytest.raises(ValidationError, match="x"):
        m.contribute([5, 3], 1, sender=a)  # not strictly increasing
    with pytest.raises(ValidationError, match="value"):
        m.contribute(GOOD, 1, sender=a, value=1)
    with pytest.raises(ValidationError, match="max_deposit"):
        m.contribute(GOOD, 1, sender=a, max_deposit=1)
    with pytest.raises(ValidationError, match="sender"):
        m.contribute(GOOD, 1, sender="nobody")
    assert chain.block_number == n


def test_contribute_pays_deposit_and_stores_original(chain, store):
    m = make(chain, store)
    a = chain.accounts[1]
    chain.advance_time(3600)
    dep = m.next_deposit()
    assert dep == 10**15 * 3600 // 60  # cost_weight * 3600 // isqrt(dt) with dt ~ 3600 (+1 s block)
    before = chain.balance(a)
    r = m.contribute(GOOD, "positive", sender=a, value=dep * 3)  # excess returned
    assert r.deposit == dep and r.value == dep * 3 and r.label == 1
    assert chain.balance(a) == before - dep
    assert r.x == tuple(sorted({murmurhash3("great"), murmurhash3("movie")}))
    assert r.key == "0x" + contribution_key(r.x, 1, r.added_time, a, model_type="sparse perceptron").hex()
    rec = store.get(chain.chain_id, r.tx_hash)
    assert rec.raw == GOOD and rec.encoded == r.x and rec.author.lower() == a.lower()
    assert r.gas_used > 0


def test_contribution_lifecycle_refund(chain, store):
    m = make(chain, store)
    a = chain.accounts[1]
    r = m.contribute(GOOD, 1, sender=a)
    [c] = m.my_contributions(a)
    assert c.status == Status.WAITING and c.status_text.startswith("wait ") and c.status_text.endswith(" to refund")
    assert c.original == GOOD and c.mismatch is None and c.tx_hash == r.tx_hash
    with pytest.raises(TransactionReverted, match="too early.*possible in"):
        m.refund(r.tx_hash, sender=a)
    chain.advance_time(3600)
    [c] = m.my_contributions(a)
    assert c.status == Status.REFUNDABLE and c.claimable == r.deposit
    assert c.status_text == f"refund {format_eth(r.deposit)}"
    with pytest.raises(ValidationError, match="sender"):
        m.refund(r.tx_hash, sender=chain.accounts[2])
    before = chain.balance(a)
    res = m.refund(r.tx_hash, sender=a)
    assert res.amount == r.deposit and chain.balance(a) == before + r.deposit
    [c] = m.my_contributions(a)
    assert c.status == Status.REFUNDED and c.status_text == "refunded"
    with pytest.raises(ValidationError, match="already refunded"):
        m.refund(r.key, sender=a)  # by key too
    st = m.stats(a)
    assert st.good_count == 1 and st.total_good == 1 and st.contributions == 1 and st.held == 0


def test_model_disagrees_report_and_take(chain):
    m = make(chain, intercept=-10**9)
    alice, bob, carol = chain.accounts[1:4]
    owner = chain.accounts[0]
    # Bob earns a verified contribution first.
    good = m.contribute(GOOD, 1, sender=bob)
    # Alice adds a wrong label; the update flips nothing that matters for GOOD.
    bad = m.contribute("great movie great", 0, sender=alice)
    chain.advance_time(3600)
    m.refund(good.tx_hash, sender=bob)
    [c] = m.my_contributions(alice)
    assert c.status == Status.DISAGREES and c.status_text == "model disagrees"
    # Carol has no verified contribution: nothing reportable for her.
    assert m.reportable(carol) == []
    with pytest.raises(TransactionReverted, match="no verified contribution"):
        m.report(bad.tx_hash, sender=carol)
    [rp] = m.reportable(bob)
    expected = report_reward(initial=bad.deposit, remaining=bad.deposit, good_reporter=1, total_good=1)
    assert rp.amount == expected and rp.reason == "model disagrees" and rp.contribution.tx_hash == bad.tx_hash
    with pytest.raises(ValidationError, match="author"):
        m.report(bad.tx_hash, sender=alice)
    res = m.report(bad.tx_hash, sender=bob)
    assert res.amount == expected
    assert m.reportable(bob) == []  # already reported, and nothing remains
    [c] = m.my_contributions(alice)
    assert c.status == Status.TAKEN and c.reported_by == (bob,)
    del owner


def test_owner_and_anyone_take_after_waits(chain):
    m = make(chain)
    alice, carol = chain.accounts[1], chain.accounts[3]
    owner = chain.accounts[0]
    r = m.contribute(GOOD, 1, sender=alice)  # the model agrees: only the waits allow a take
    chain.advance_time(7200)
    assert m.reportable(carol) == []
    [rp] = m.reportable(owner)
    assert rp.reason == "owner claim" and rp.amount == r.deposit
    chain.advance_time(86400)
    [rp] = m.reportable(carol)
    assert rp.reason == "anyone may take it"
    res = m.report(r.tx_hash, sender=carol)
    assert res.amount == r.deposit


def test_failed_push_is_credited_and_withdrawn(chain):
    m = make(chain)
    a = chain.accounts[1]
    with pytest.raises(ValidationError, match="nothing to withdraw"):
        m.withdraw(a)
    r = m.contribute(GOOD, 1, sender=a)
    chain.advance_time(3600)
    chain.rejecting.add(a)
    res = m.refund(r.tx_hash, sender=a)
    assert res.amount == r.deposit and res.credited == r.deposit
    assert m.stats(a).pending_withdrawal == r.deposit
    chain.rejecting.clear()
    before = chain.balance(a)
    w = m.withdraw(a)
    assert w.amount == r.deposit and chain.balance(a) == before + r.deposit


def test_points_model(chain):
    m = make(chain, incentive="points", cost_weight=0)
    a, b = chain.accounts[1:3]
    assert m.next_deposit() == 0
    with pytest.raises(ValidationError, match="value"):
        m.contribute(GOOD, 1, sender=a, value=5)
    r = m.contribute(GOOD, 1, sender=a)
    w = m.contribute("great movie great", 0, sender=a)
    chain.advance_time(3600)
    statuses = {c.tx_hash: c for c in m.my_contributions(a)}
    assert statuses[r.tx_hash].status_text == "refund (+1 point)"
    assert statuses[w.tx_hash].status == Status.DISAGREES
    m.refund(r.tx_hash, sender=a)
    assert m.stats(a).points == 1
    [rp] = m.reportable(b)
    assert rp.amount == 0 and rp.contribution.tx_hash == w.tx_hash
    m.report(w.tx_hash, sender=b)
    statuses = {c.tx_hash: c for c in m.my_contributions(a)}
    assert statuses[w.tx_hash].status == Status.TAKEN


def test_mismatch_between_store_and_chain_is_flagged(chain, store):
    m = make(chain, store)
    a = chain.accounts[1]
    r = m.contribute(GOOD, 1, sender=a)
    # Tamper with the stored original: it no longer encodes to what the chain recorded.
    store.add(chain_id=chain.chain_id, tx_hash=r.tx_hash, model=m.address, author=a, raw="something else",
              encoded=r.x, label=1, added_time=r.added_time)
    [c] = m.my_contributions(a)
    assert c.mismatch and "re-encoded" in c.mismatch
    store.add(chain_id=chain.chain_id, tx_hash=r.tx_hash, model=m.address, author=a, raw=GOOD,
              encoded=[1, 2], label=1, added_time=r.added_time)
    [c] = m.my_contributions(a)
    assert c.mismatch and "stored encoded" in c.mismatch


def test_find_unknown_contribution(chain):
    m = make(chain)
    with pytest.raises(NotFoundError):
        m.find("0x" + "ab" * 32)
    with pytest.raises(ValidationError, match="contribution"):
        m.find("0x1234")


def test_vocab_encoder_uses_the_imdb_vocabulary_unless_given_one(chain, monkeypatch):
    import ledgerlearn.encoders as encoders

    # Stands in for the vocabulary built from the IMDB training split (no download in unit tests).
    monkeypatch.setattr(encoders, "imdb_vocab", lambda: {"great": 3, "awful": 5})
    addr = chain.deploy_entry(encoder="IMDB vocab", weights={3: 10**9})
    m = SharedModel(chain, addr)
    assert m.encode("Great, awful!") == [3, 5] and m.predict("great") == 1
    m2 = SharedModel(chain, addr, vocab={"great": 3, "movie": 7})
    assert m2.predict("Great unknownword") == 1
    assert m2.encode("movie great great") == [3, 7]


# ------------------------------------------------------------------ status/units
def test_status_function():
    kw = dict(added_time=1000, refund_wait=3 * 3600, remaining=5 * 10**16, claims=0, refunded=False)
    st = contribution_status(now=1000, model_agrees=None, **kw)
    assert st.status == Status.WAITING and st.text == "wait 3h to refund" and st.wait_s == 3 * 3600
    st = contribution_status(now=1000 + 3 * 3600, model_agrees=True, **kw)
    assert st.text == "refund 0.05 ETH" and st.claimable == 5 * 10**16
    st = contribution_status(now=1000 + 3 * 3600, model_agrees=False, **kw)
    assert st.text == "model disagrees"
    assert contribution_status(now=0, model_agrees=None, **{**kw, "refunded": True}).text == "refunded"
    assert contribution_status(now=0, model_agrees=None, **{**kw, "remaining": 0, "claims": 1}).text == "taken"


def test_units():
    assert format_eth(5 * 10**16) == "0.05 ETH" and format_eth(0) == "0 ETH" and format_eth(3_600_000_000_000_000_000) == "3.6 ETH"
    assert parse_amount("0.05eth") == 5 * 10**16 and parse_amount("100 gwei") == 10**11 and parse_amount("1e15") == 10**15
    assert parse_amount(7) == 7
    for bad in ("-1", "0.5wei", "1 dollar", "abc"):
        with pytest.raises(ValidationError, match="amount"):
            parse_amount(bad)
    assert format_duration(10800) == "3h" and format_duration(10799) == "3h" and format_duration(5400) == "1h 30m"
    assert format_duration(59) == "59s" and format_duration(90061) == "1d 2h"
    assert parse_duration("1d12h") == 129600 and parse_duration("90") == 90 and parse_duration("45m") == 2700
    with pytest.raises(ValidationError, match="refund_wait"):
        parse_duration("3 hours", what="refund_wait")


def test_report_reward_formula():
    # The spec's worked rule: share by verified count, capped, all when 0 or too much.
    assert report_reward(initial=100, remaining=100, good_reporter=1, total_good=4) == 25
    assert report_reward(initial=100, remaining=10, good_reporter=1, total_good=4) == 10
    assert report_reward(initial=1, remaining=1, good_reporter=1, total_good=4) == 1


def test_dense_model_normalises_and_selects_features(chain):
    # weights over 3 selected dimensions of a 5-d embedding; the encoder normalises after selection
    addr = chain.deploy_entry(model_type="dense perceptron", encoder="Normalize to L2 norm 1, multiply by 1E9, then round",
                              weights=[10**9, 0, -(10**9)], intercept=0)
    m = SharedModel(chain, addr, feature_indices=[4, 0, 2])
    assert m.encode([0.0, 9.0, 4.0, 9.0, 3.0]) == [600_000_000, 0, 800_000_000]
    assert m.predict([0.0, 9.0, 1.0, 9.0, 3.0]) == 1  # x4 > x2 after selection
    assert m.predict("[0, 9, 5, 9, 3]") == 0  # a JSON string works too
    with pytest.raises(ValidationError, match="feature indices"):
        m.predict([1.0, 2.0])
    # an already encoded vector must have norm 1
    with pytest.raises(ValidationError, match="norm"):
        m.predict([10**9, 10**9, 0], encoded=True)
    a = chain.accounts[1]
    r = m.contribute([0.0, 9.0, 4.0, 9.0, 3.0], 0, sender=a)
    assert r.x == (600_000_000, 0, 800_000_000)
    [c] = m.my_contributions(a)
    assert c.x == r.x and c.label == 0


def test_dense_fixed_point_encoder_rejects_unnormalised(chain):
    addr = chain.deploy_entry(model_type="dense perceptron", encoder="Multiply by 1E9, then round", weights=[1, 1])
    m = SharedModel(chain, addr)
    assert m.encode([0.6, 0.8]) == [600_000_000, 800_000_000]
    with pytest.raises(ValidationError, match="norm"):
        m.predict([3.0, 4.0])


# ------------------------------------------------------- on the real contracts
@pytest.fixture
def real():
    """The embedded chain and the real deploy function (skipped until they are importable)."""
    local = pytest.importorskip("ledgerlearn.chain.local")
    deploy = pytest.importorskip("ledgerlearn.shared_models.deploy")
    chain = local.LocalChain()
    yield chain, deploy.deploy_shared_model
    chain.close()


def _deploy(real, mirror, **kw):
    chain, deploy_shared_model = real
    args = dict(incentive="drt", name="t", description="d", encoder="MurmurHash3", owner=chain.accounts[0],
                refund_wait=3600, owner_claim_wait=7200, any_claim_wait=86400, cost_weight=10**15)
    args.update(kw)
    res = deploy_shared_model(chain, mirror, **args)
    return res


def test_real_sparse_perceptron_drt_lifecycle(real, tmp_path):
    sp = pytest.importorskip("ledgerlearn.models.sparse_perceptron")
    chain, _ = real
    mirror = sp.SparsePerceptron(classes=["Negative", "Positive"],
                                 weights={murmurhash3("great"): 3 * 10**9, murmurhash3("awful"): -3 * 10**9})
    res = _deploy(real, mirror)
    with OriginalStore(tmp_path / "o.sqlite") as store:
        m = SharedModel(chain, res.address, store=store, from_block=getattr(res, "deploy_block", 0))
        assert m.info().classes == ("Negative", "Positive") and m.info().incentive == "drt"
        assert m.predict("Great movie") == 1 and m.predict("awful") == 0
        a, b = chain.accounts[1], chain.accounts[2]
        good = m.contribute("great movie", "Positive", sender=b)
        bad = m.contribute("great great", 0, sender=a)
        assert good.key == "0x" + contribution_key(good.x, 1, good.added_time, b, model_type="sparse perceptron").hex()
        [c] = m.my_contributions(a)
        assert c.status == Status.WAITING and c.original == "great great" and c.mismatch is None
        with pytest.raises(TransactionReverted, match="too early"):
            m.refund(good.tx_hash, sender=b)
        chain.advance_time(3600)
        assert m.my_contributions(b)[0].status == Status.REFUNDABLE
        before = chain.balance(b)
        r = m.refund(good.tx_hash, sender=b)
        assert r.amount == good.deposit and chain.balance(b) > before  # minus gas on a fee-charging chain
        assert m.my_contributions(a)[0].status == Status.DISAGREES
        [rp] = m.reportable(b)
        assert rp.contribution.tx_hash == bad.tx_hash and rp.amount == bad.deposit
        assert m.report(bad.tx_hash, sender=b).amount == bad.deposit
        assert m.my_contributions(a)[0].status == Status.TAKEN
        st = m.stats(b)
        assert st.good_count == 1 and st.total_good == 1
        with pytest.raises(ValidationError, match="nothing to withdraw"):
            m.withdraw(b)


def test_real_dense_perceptron_accepts_normalised_input(real):
    dp = pytest.importorskip("ledgerlearn.models.dense_perceptron")
    chain, _ = real
    d = 64
    mirror = dp.DensePerceptron(classes=["no", "yes"], weights=[(i % 5 - 2) * 10**9 for i in range(d)])
    res = _deploy(real, mirror, encoder="Normalize to L2 norm 1, multiply by 1E9, then round")
    m = SharedModel(chain, res.address)
    import math

    vecs = [[math.sin(i * k + 0.3) * (k + 1) for i in range(d)] for k in range(5)]
    for v in vecs:
        x = m.encode(v)
        assert m.predict(v) == mirror.predict(x)  # the contract accepts the norm and agrees with the mirror
    r = m.contribute(vecs[0], 1, sender=chain.accounts[1])
    assert list(r.x) == m.encode(vecs[0])


def test_real_points_incentive(real):
    sp = pytest.importorskip("ledgerlearn.models.sparse_perceptron")
    chain, _ = real
    mirror = sp.SparsePerceptron(classes=["Negative", "Positive"], weights={murmurhash3("great"): 3 * 10**9})
    res = _deploy(real, mirror, incentive="points", cost_weight=0, refund_wait=60, owner_claim_wait=60, any_claim_wait=60)
    m = SharedModel(chain, res.address)
    a, b = chain.accounts[1], chain.accounts[2]
    assert m.next_deposit() == 0 and m.info().incentive == "points"
    r = m.contribute("great", 1, sender=a)
    w = m.contribute("great", 0, sender=a)
    chain.advance_time(60)
    st = {c.tx_hash: c for c in m.my_contributions(a)}
    assert st[r.tx_hash].status_text == "refund (+1 point)" and st[w.tx_hash].status == Status.DISAGREES
    m.refund(r.tx_hash, sender=a)
    assert m.stats(a).points == 1
    [rp] = m.reportable(b)
    assert rp.contribution.tx_hash == w.tx_hash and rp.amount == 0
    m.report(w.tx_hash, sender=b)
    assert {c.tx_hash: c.status for c in m.my_contributions(a)} == {r.tx_hash: Status.REFUNDED, w.tx_hash: Status.TAKEN}
