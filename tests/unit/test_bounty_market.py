"""The prediction-market bounty on chain.

The reference's own scenario (a perceptron started on 4 of 20 toy samples,
bounty 100,000, a good and a bad contributor alternating 16 contributions, 10
hashed test pieces) runs in both configurations on the exact engine with the
zero-sum invariant checked after every transaction; protection of
contributors, commitment rules, bad input, and the gas bound of every
reward-phase call are checked against the real contract, and the off-chain
mirror (:func:`ledgerlearn.markets.bounty.settle`) must agree with the
contract to the wei on random markets.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import SGDClassifier

from ledgerlearn.chain.base import TxRequest
from ledgerlearn.chain.fast import FastLocalChain
from ledgerlearn.chain.local import LocalChain
from ledgerlearn.errors import ValidationError
from ledgerlearn.markets.bounty import (
    BountyMarket,
    Contribution,
    MarketOptions,
    Perceptron,
    TestSetCommitment,
    encode_sample,
    settle,
    to_features,
)
from ledgerlearn.markets.bounty.client import STEP_GAS_LIMIT
from ledgerlearn.models.sgd import optimal_eta

sys.path.insert(0, str(Path(__file__).resolve().parent))
from incentive_harness import expect_revert  # noqa: E402

# The reference's toy data: label 1 iff x0 * x2 > 0.
X_TRAIN = np.array([
    [0, 0, 0], [1, 1, 1], [0, 0, 1], [0, 1, 0], [0, 1, 1], [1, 0, 0], [1, 0, 1], [1, 1, 0], [0, 0, 2], [0, 2, 0],
    [2, 0, 0], [2, 0, 2], [0, 0, -3], [0, 3, 0], [0, 3, -3], [0, -3, 3], [0, 0, 4], [0, 4, 4], [4, 0, 0], [-6, 0, 0],
])
X_TEST = np.array([[0, 2, 2], [0, 1, -1], [-1, 0, 0], [0, -1, 0], [1, -1, 2], [0, 0, 3], [0, -2, 0], [0, 2, -2], [3, 0, 0], [-2, 0, 2], [2, -2, 0]])
BOUNTY = 100_000
START = 10_000
DAY = 86_400


def truth(x) -> int:
    return 1 if x[0] * x[2] > 0 else 0


def initial_model() -> Perceptron:
    """The reference's initial model: SGD perceptron ("optimal" schedule) on the first 20% (4 samples)."""
    y = [truth(x) for x in X_TRAIN[:4]]
    sgd = SGDClassifier(loss="perceptron", learning_rate="optimal", penalty=None, tol=1e-3, random_state=0).fit(X_TRAIN[:4], y)
    scale = 10**9
    return Perceptron([round(w * scale) for w in sgd.coef_[0]], round(sgd.intercept_[0] * scale), round(optimal_eta(1e-4, sgd.t_) * scale))


def toy_test_set():
    return [(to_features(x, dense=True), truth(x)) for x in X_TEST]


class ZeroSum:
    """Checks contract balance == bounty left + sum of balances after every transaction sent."""

    def __init__(self, chain):
        self.chain = chain
        self.market: BountyMarket | None = None
        self.accounts: list[str] = []
        self.checks = 0
        self._send = chain.send
        chain.send = self.send

    def send(self, tx):
        receipt = self._send(tx)
        if self.market is not None and tx.to == self.market.address:
            assert self.market.zero_sum_gap(self.accounts) == 0, f"books do not balance after {tx.to} {tx.data[:4].hex()}"
            self.checks += 1
        return receipt

    def detach(self):
        self.chain.send = self._send


@pytest.fixture
def exact_chain():
    return LocalChain()


@pytest.fixture(scope="module")
def fast():
    return FastLocalChain()


@pytest.fixture
def chain(fast):
    sid = fast.snapshot()
    yield fast
    fast.revert(sid)


def open_market(chain, options: MarketOptions, *, test=None, pieces: int = 10, model: Perceptron | None = None, bounty: int = BOUNTY):
    provider = chain.accounts[0]
    commitment = TestSetCommitment.split(test or toy_test_set(), pieces)
    market = BountyMarket.create(chain, provider=provider, bounty=bounty, model=model or initial_model(), commitment=commitment, options=options)
    market.reveal_initial(commitment)
    return market, commitment


def run_reference(chain, grouped: bool, books: ZeroSum | None = None) -> dict:
    """The reference's scenario on ``chain``; returns what each party gained and the checks' inputs."""
    provider, good, bad = chain.accounts[:3]
    deposit = 100 if grouped else 1  # the reference sends 100; one-by-one only min_stake (1) is staked
    options = MarketOptions(
        min_stake=1, min_length_s=100, min_contributions=16,
        group_contributions=grouped, reset_model=grouped, allow_greater_deposit=grouped,
    )
    commitment = TestSetCommitment.split(toy_test_set(), 10)
    model = initial_model()
    balance_before = {a: chain.balance(a) for a in (provider, good, bad)}
    market = BountyMarket.create(chain, provider=provider, bounty=BOUNTY, model=model, commitment=commitment, options=options)
    if books is not None:
        books.market, books.accounts = market, [good, bad]
    market.reveal_initial(commitment)
    contributions = []
    for i in range(16):
        x, label, who = X_TRAIN[4 + i], truth(X_TRAIN[4 + i]), good
        if i % 2:
            who, label = bad, 1 - label  # the bad contributor flips labels
        market.contribute(to_features(x, dense=True), label, sender=who, value=deposit)
        contributions.append(Contribution(who, deposit, to_features(x, dense=True), label))
    chain.advance_time(100)
    market.end(sender=good)
    market.reveal_rest(commitment)
    receipts = market.process_all(sender=bad)
    assert market.status()["phase"] == "finished"
    expected = settle(model, contributions, market.test_samples(), bounty=BOUNTY, min_stake=1, group_contributions=grouped, reset_model=grouped)
    assert {a: market.balance_of(a) for a in (good, bad)} == expected.balances
    assert market.bounty_left() == expected.bounty_left
    for account in (good, bad, provider):
        if market.balance_of(account) or (account == provider and market.bounty_left()):
            market.withdraw(sender=account)
    assert chain.balance(market.address) == 0
    net = {a: chain.balance(a) - balance_before[a] for a in (provider, good, bad)}  # the embedded chain's gas is free
    return dict(net=net, provider=provider, good=good, bad=bad, deposit=deposit, gas=[r.gas_used for r in receipts], drawn=market.drawn_index())


@pytest.mark.parametrize("engine", [LocalChain, FastLocalChain], ids=["exact", "fast"])
@pytest.mark.parametrize("grouped", [False, True], ids=["one-by-one", "grouped-reset-greater-deposits"])
def test_reference_scenario(engine, grouped):
    chain = engine()
    books = ZeroSum(chain)
    out = run_reference(chain, grouped, books)
    net, provider, good, bad = out["net"], out["provider"], out["good"], out["bad"]
    assert max(out["gas"]) < STEP_GAS_LIMIT
    assert sum(net.values()) == 0, "zero sum"
    assert -BOUNTY < net[provider] < 0, "the provider keeps part of the bounty and pays some"
    assert net[good] > 0
    if grouped:
        assert net[bad] == -8 * out["deposit"], "grouped with larger deposits: the bad contributor loses exactly its deposits"
    else:
        assert -8 <= net[bad] <= 0, "one by one: the bad contributor ends within its 8 one-wei stakes of its start"
    assert books.checks > 30


# ------------------------------------------------------------ commitment

def test_piece_that_does_not_match_its_hash_is_rejected(chain):
    provider, a = chain.accounts[:2]
    commitment = TestSetCommitment.split(toy_test_set(), 5)
    market = BountyMarket.create(chain, provider=provider, bounty=BOUNTY, model=initial_model(), commitment=commitment, options=MarketOptions(min_stake=1))
    drawn = market.draw(sender=a)
    other = (drawn + 1) % 5
    expect_revert(lambda: market.contract.transact("reveal", commitment.pieces[other].words, sender=provider), "piece does not match its hash")
    tampered = commitment.pieces[drawn].words
    tampered[2] ^= 1  # flip the first sample's label
    expect_revert(lambda: market.contract.transact("reveal", tampered, sender=provider), "piece does not match its hash")
    wrong_salt = [commitment.pieces[drawn].salt + 1, *commitment.pieces[drawn].words[1:]]
    expect_revert(lambda: market.contract.transact("reveal", wrong_salt, sender=provider), "piece does not match its hash")
    market.reveal_initial(commitment)
    market.contribute({0: 1}, 1, sender=a)
    market.end(sender=a)
    rest = [p for j, p in enumerate(commitment.pieces) if j != drawn]
    bad_rest = rest[0].words
    bad_rest[-1] ^= 1 << 16  # change one feature value
    expect_revert(lambda: market.contract.transact("reveal", bad_rest, sender=provider), "piece does not match its hash")
    assert market.call("next_reveal") == (1 if drawn == 0 else 0), "nothing was accepted"
    market.reveal_rest(commitment)
    assert market.status()["phase"] == "reward"


def test_reveal_index_is_drawn_from_a_later_block_the_provider_cannot_steer(exact_chain):
    chain = exact_chain
    provider, stranger = chain.accounts[:2]
    commitment = TestSetCommitment.split(toy_test_set(), 4)
    market = BountyMarket.create(chain, provider=provider, bounty=BOUNTY, model=initial_model(), commitment=commitment, options=MarketOptions(min_stake=1))
    expect_revert(lambda: market.contract.transact("draw", sender=stranger), "wait for the draw block")
    expect_revert(lambda: market.contract.transact("reveal", commitment.pieces[0].words, sender=provider), "wait for the draw block")
    expect_revert(lambda: market.add_test_hashes([b"\x01" * 32], sender=stranger), "only the provider")
    # more pieces may be committed before the draw block; that moves the draw block
    extra = TestSetCommitment.split(toy_test_set(), 2)
    market.add_test_hashes(extra.hashes, sender=provider)
    commitment.pieces.extend(extra.pieces)
    draw_block = market.call("draw_block")
    assert draw_block == chain.block_number + 2
    while chain.block_number <= draw_block:
        chain.send(TxRequest(sender=stranger, to=stranger))
    # once the draw block's hash exists, the set of pieces is frozen
    expect_revert(lambda: market.add_test_hashes([b"\x02" * 32], sender=provider), "already determined")
    index = market.draw(sender=stranger)
    # the index is keccak(blockhash(draw block) ++ market address) mod P; the
    # embedded chain's block hash stand-in is keccak(number)
    block_hash = keccak(draw_block.to_bytes(32, "big"))
    expected = int.from_bytes(keccak(block_hash + bytes.fromhex(market.address[2:])), "big") % 6
    assert index == expected
    assert market.drawn_index() == index
    market.reveal_initial(commitment)
    assert market.status()["phase"] == "participation"


def test_drawn_index_varies_with_the_block(chain):
    provider = chain.accounts[0]
    indices = set()
    for _ in range(12):
        commitment = TestSetCommitment.split(toy_test_set(), 8)
        market = BountyMarket.create(chain, provider=provider, bounty=1, model=initial_model(), commitment=commitment, options=MarketOptions(min_stake=1))
        indices.add(market.draw(sender=provider))
    assert len(indices) >= 4, indices


# ------------------------------------------------------------ protection

def test_provider_cannot_withdraw_the_bounty_before_the_reward_phase_ends(chain):
    provider, a, b = chain.accounts[:3]
    commitment = TestSetCommitment.split(toy_test_set(), 5)
    market = BountyMarket.create(chain, provider=provider, bounty=BOUNTY, model=initial_model(), commitment=commitment, options=MarketOptions(min_stake=1))

    def refused():
        expect_revert(lambda: market.withdraw(sender=provider), "nothing to withdraw")
        expect_revert(lambda: market.collect_unclaimed(provider, sender=provider), "not finished")

    refused()  # commitment
    market.reveal_initial(commitment)
    for i in range(6):
        market.contribute(to_features(X_TRAIN[4 + i], dense=True), truth(X_TRAIN[4 + i]) ^ (i % 2), sender=a if i % 2 == 0 else b)
    refused()  # participation
    expect_revert(lambda: market.cancel(sender=provider), "participation has opened")
    market.end(sender=a)
    refused()  # reveal
    market.reveal_rest(commitment)
    kind, index = market.contract.call("next_need")
    market.contract.transact("process", 1, [], commitment.pieces[index].words, sender=a)
    assert market.status()["phase"] == "reward"
    refused()  # reward, part-way
    market.process_all(sender=b)
    left = market.bounty_left()
    assert 0 < left <= BOUNTY
    before = chain.balance(provider)
    market.withdraw(sender=provider)
    assert chain.balance(provider) - before == left
    expect_revert(lambda: market.withdraw(sender=provider), "nothing to withdraw")


@pytest.fixture
def books(chain):
    checker = ZeroSum(chain)
    yield checker
    checker.detach()


def test_silent_provider_cannot_block_deposits_or_the_bounty_share(chain, books):
    provider, a, b, c = chain.accounts[:4]
    commitment = TestSetCommitment.split(toy_test_set(), 5)
    opts = MarketOptions(min_stake=7, min_length_s=DAY, reveal_window_s=3 * DAY, allow_greater_deposit=True)
    market = BountyMarket.create(chain, provider=provider, bounty=BOUNTY, model=initial_model(), commitment=commitment, options=opts)
    market.reveal_initial(commitment)
    books.market, books.accounts = market, [a, b, c]
    market.contribute({0: 1}, 1, sender=a, value=7)
    market.contribute({1: 2}, 0, sender=b, value=50)
    market.contribute({2: -1}, 1, sender=a, value=7)
    expect_revert(lambda: market.end(sender=c), "min_length_s has not passed")
    chain.advance_time(DAY)
    market.end(sender=c)  # anyone may close participation; the provider then stays silent
    expect_revert(lambda: market.declare_failed(sender=c), "deadline has not passed")
    chain.advance_time(3 * DAY + 1)
    expect_revert(lambda: market.contract.transact("reveal", commitment.pieces[0].words, sender=provider), "deadline has passed")
    share = BOUNTY // 3
    assert market.balance_of(a) == 14 + 2 * share and market.balance_of(b) == 50 + share
    before = {x: chain.balance(x) for x in (a, b, provider)}
    market.withdraw(sender=a)  # the first withdrawal records the failure
    assert market.status()["phase"] == "failed"
    market.withdraw(sender=b)
    market.withdraw(sender=provider)  # only the rounding remainder
    assert chain.balance(a) - before[a] == 14 + 2 * share
    assert chain.balance(b) - before[b] == 50 + share
    assert chain.balance(provider) - before[provider] == BOUNTY - 3 * share
    assert chain.balance(market.address) == 0
    expect_revert(lambda: market.withdraw(sender=a), "nothing to withdraw")


def test_unclaimed_balances_can_be_collected_by_anyone_after_the_wait(chain):
    provider, a, stranger = chain.accounts[:3]
    market, commitment = open_market(chain, MarketOptions(min_stake=1, any_claim_wait_s=10 * DAY))
    market.contribute(to_features(X_TRAIN[4], dense=True), truth(X_TRAIN[4]), sender=a)
    market.end(sender=a)
    market.reveal_rest(commitment)
    market.process_all(sender=stranger)
    owed = market.balance_of(a)
    assert owed >= 1
    expect_revert(lambda: market.collect_unclaimed(a, sender=stranger), "any_claim_wait_s has not passed")
    chain.advance_time(10 * DAY)
    before = chain.balance(stranger)
    market.collect_unclaimed(a, sender=stranger)
    market.collect_unclaimed(provider, sender=stranger)
    assert chain.balance(stranger) - before == owed + (BOUNTY - (owed - 1))
    assert chain.balance(market.address) == 0


def test_provider_can_cancel_only_before_participation(chain):
    provider, a = chain.accounts[:2]
    commitment = TestSetCommitment.split(toy_test_set(), 3)
    market = BountyMarket.create(chain, provider=provider, bounty=BOUNTY, model=initial_model(), commitment=commitment, options=MarketOptions(min_stake=1))
    expect_revert(lambda: market.cancel(sender=a), "only the provider")
    market.cancel(sender=provider)
    expect_revert(lambda: market.contribute({0: 1}, 1, sender=a), "not accepting contributions")
    before = chain.balance(provider)
    market.withdraw(sender=provider)
    assert chain.balance(provider) - before == BOUNTY


def test_end_needs_time_and_count_or_a_reveal_window_more(chain):
    a = chain.accounts[1]
    market, _ = open_market(chain, MarketOptions(min_stake=1, min_length_s=DAY, min_contributions=2, reveal_window_s=DAY))
    market.contribute({0: 1}, 1, sender=a)
    chain.advance_time(DAY)
    expect_revert(lambda: market.end(sender=a), "not enough contributions yet")
    chain.advance_time(DAY)
    market.end(sender=a)  # an unpopular market still ends one reveal window later
    assert market.status()["phase"] == "reveal"


def test_market_without_contributions_returns_the_bounty(chain):
    provider = chain.accounts[0]
    market, _ = open_market(chain, MarketOptions(min_stake=1))
    market.end(sender=provider)
    assert market.status()["phase"] == "finished"
    before = chain.balance(provider)
    market.withdraw(sender=provider)
    assert chain.balance(provider) - before == BOUNTY


# -------------------------------------------------------------- bad input

def test_bad_contributions_are_refused_with_a_reason(chain):
    provider, a = chain.accounts[:2]
    market, _ = open_market(chain, MarketOptions(min_stake=5))
    c = market.contract
    expect_revert(lambda: market.contribute({0: 1}, 1, sender=a, value=4), "deposit must equal min_stake")
    expect_revert(lambda: market.contribute({0: 1}, 1, sender=a, value=6), "deposit must equal min_stake")
    expect_revert(lambda: c.transact("contribute", [2 | (1 << 8), 5], sender=a, value=5), "label must be 0 or 1")
    expect_revert(lambda: c.transact("contribute", [1 | (1 << 8), 3], sender=a, value=5), "feature index out of range")
    expect_revert(lambda: c.transact("contribute", [1 | (1 << 8), 1 | (7 << 32)], sender=a, value=5), "bad padding")
    expect_revert(lambda: c.transact("contribute", [1 | (9 << 8), 1], sender=a, value=5), "truncated sample")
    expect_revert(lambda: c.transact("contribute", [1 | (1 << 24)], sender=a, value=5), "bad sample header")
    expect_revert(lambda: c.transact("contribute", [1, 0], sender=a, value=5), "give exactly one sample")
    expect_revert(lambda: c.transact("contribute", [1 | (600 << 8)] + [0] * 64, sender=a, value=5), "too many features")
    expect_revert(lambda: c.transact("load_weights", [1], sender=provider), "fixed once participation opens")
    with pytest.raises(ValidationError, match="feature index 3 out of range"):
        market.contribute({3: 1}, 1, sender=a)
    with pytest.raises(ValidationError, match="label"):
        encode_sample({0: 1}, 2)
    assert market.call("num_contributions") == 0
    assert chain.balance(market.address) == BOUNTY


def test_bad_market_parameters_are_refused(chain):
    provider = chain.accounts[0]
    commitment = TestSetCommitment.split(toy_test_set(), 2)

    def create(**kw):
        opts = dict(min_stake=1)
        bounty = kw.pop("bounty", 1)
        model = kw.pop("model", initial_model())
        opts.update(kw)
        return BountyMarket.create(chain, provider=provider, bounty=bounty, model=model, commitment=commitment, options=MarketOptions(**opts))

    with pytest.raises(ValidationError, match="bounty"):
        create(bounty=0)
    expect_revert(lambda: create(min_stake=0), "min_stake out of range")
    expect_revert(lambda: create(reveal_window_s=0), "reveal_window_s must be positive")
    expect_revert(lambda: create(model=Perceptron([2**60, 0, 0], 0, 1)), "weight out of range")
    market = create()
    expect_revert(lambda: market.contract.transact("reveal", commitment.pieces[0].words, sender=chain.accounts[1]), "only the provider")
    with pytest.raises(ValidationError, match="at least 2"):
        TestSetCommitment.split(toy_test_set(), 1)


def test_reveal_before_all_weights_are_loaded_is_refused(chain):
    provider = chain.accounts[0]
    commitment = TestSetCommitment.split(toy_test_set(), 2)
    market = BountyMarket.create(chain, provider=provider, bounty=1, model=initial_model(), commitment=commitment, options=MarketOptions(min_stake=1))
    # a second market whose weights are never loaded
    from ledgerlearn.chain.contract import deploy
    from ledgerlearn.markets.bounty.client import artifact

    art = artifact()
    bare, _ = deploy(chain, art.abi, art.bytecode, 3, 0, 1, commitment.hashes, 1, 0, 0, DAY, DAY, False, False, False, "", sender=provider, value=1)
    market2 = BountyMarket(chain, bare.address)
    market2.draw(sender=provider)
    expect_revert(lambda: market2.reveal_initial(commitment), "load all initial weights first")
    market.reveal_initial(commitment)


# ----------------------------------------------------------------- gas bound

def test_every_reward_call_stays_under_a_quarter_block_at_the_declared_bounds(exact_chain):
    """Largest pieces (2048 features), largest samples (512 features), reset
    replays and grouped contributors: no process call reaches 7.5M gas."""
    chain = exact_chain
    provider, a, b, c = chain.accounts[:4]
    rng = random.Random(7)
    nf = 4096
    model = Perceptron([rng.randrange(-10**6, 10**6) for _ in range(nf)], 0, 3 * 10**5)

    def sample(label):
        return {i: rng.choice([1, -1, 2]) for i in rng.sample(range(nf), 512)}, label

    test = [sample(k % 2) for k in range(12)]  # 4 samples of 512 distinct features per piece
    commitment = TestSetCommitment.split(test, 3)
    opts = MarketOptions(min_stake=10, group_contributions=True, reset_model=True, allow_greater_deposit=True)
    market = BountyMarket.create(chain, provider=provider, bounty=10**6, model=model, commitment=commitment, options=opts)
    market.reveal_initial(commitment)
    for k, who in enumerate([a, b, a, c, b, a]):
        market.contribute(*sample(k % 2), sender=who, value=10 + k)
    market.end(sender=a)
    market.reveal_rest(commitment)
    receipts = market.process_all(sender=c)
    gas = [r.gas_used for r in receipts]
    assert market.status()["phase"] == "finished"
    print("process calls", len(gas), "max gas", max(gas))
    assert max(gas) < STEP_GAS_LIMIT, max(gas)
    assert len(gas) >= 6, "the work was split across calls"


def test_settlement_of_many_participants_is_split_across_calls(chain):
    provider = chain.accounts[0]
    accounts = chain.accounts[1:9]
    market, commitment = open_market(chain, MarketOptions(min_stake=1))
    n = 400
    for k in range(n):
        x = X_TRAIN[4 + k % 16]
        market.contribute(to_features(x, dense=True), truth(x) ^ (k % 3 == 0), sender=accounts[k % len(accounts)])
    market.end(sender=provider)
    market.reveal_rest(commitment)
    steps = []
    receipts = market.process_all(sender=provider, max_steps=64, on_receipt=lambda w, r: steps.append(r))
    assert market.status()["phase"] == "finished"
    assert len(receipts) > n // 64
    assert market.zero_sum_gap(accounts) == 0


# ------------------------------------------------------------- the mirror

@st.composite
def markets(draw):
    n = draw(st.integers(1, 14))
    contributions = [
        (draw(st.integers(0, 3)), draw(st.lists(st.integers(-3, 3), min_size=3, max_size=3)), draw(st.integers(0, 1)), draw(st.integers(0, 40)))
        for _ in range(n)
    ]
    return dict(
        contributions=contributions,
        grouped=draw(st.booleans()), reset=draw(st.booleans()), greater=draw(st.booleans()),
        min_stake=draw(st.integers(1, 20)), bounty=draw(st.integers(1, 10**6)), pieces=draw(st.integers(2, 5)),
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=markets())
def test_contract_settles_exactly_like_the_mirror(fast, case):
    chain = fast
    sid = chain.snapshot()
    try:
        provider = chain.accounts[0]
        who = chain.accounts[1:5]
        opts = MarketOptions(min_stake=case["min_stake"], group_contributions=case["grouped"], reset_model=case["reset"], allow_greater_deposit=case["greater"])
        model = initial_model()
        market, commitment = open_market(chain, opts, pieces=case["pieces"], model=model, bounty=case["bounty"])
        done = []
        for k, x, label, extra in case["contributions"]:
            value = case["min_stake"] + (extra if case["greater"] else 0)
            feats = to_features(x, dense=True)
            market.contribute(feats, label, sender=who[k], value=value)
            done.append(Contribution(who[k], value, feats, label))
        market.end(sender=provider)
        market.reveal_rest(commitment)
        market.process_all(sender=provider)
        expected = settle(model, done, market.test_samples(), bounty=case["bounty"], min_stake=case["min_stake"], group_contributions=case["grouped"], reset_model=case["reset"])
        assert {a: market.balance_of(a) for a in expected.balances} == expected.balances
        assert market.bounty_left() == expected.bounty_left
        assert market.call("rounds_left") == expected.rounds_left
        assert market.call("pass_number") == expected.passes
        assert market.zero_sum_gap(list(expected.balances)) == 0
    finally:
        chain.revert(sid)
