"""Training market contract rules, through the Python client on the embedded chain.

Money is checked after every transaction: the contract's balance equals the
escrow of every couple plus everything it owes.
"""

from __future__ import annotations

import pytest
from eth_account import Account

from ledgerlearn.chain.base import TxRequest, next_timestamp
from ledgerlearn.errors import TransactionReverted
from ledgerlearn.markets.training.client import TrainingMarket
from ledgerlearn.markets.training.commitments import (
    HashChain, commitment, digest, draw_subsets, make_nonce, round_seed, subsets_of,
)
from ledgerlearn.simulation.runner import make_chain

FEE, PRICE = 10**16, 10**15
DS, MODEL = b"\x0d" * 32, b"\x0e" * 32
SUBSET_DATA = [b"subset-%d" % s for s in range(16)]


class World:
    """A market with one dataset (m subsets x n replicas, all verified) and one model."""

    def __init__(self, m: int = 2, n: int = 3, engine: str = "fast"):
        self.chain = make_chain(engine)
        self.m, self.n = m, n
        funder = self.chain.accounts[0]
        self.accounts = []
        for _ in range(3 + m * n):
            acct = Account.create()
            self.chain.add_account(acct)
            self.chain.send(TxRequest(sender=funder, to=acct.address, data=b"", value=10**19))
            self.accounts.append(acct.address)
        self.do, self.mo, self.stranger = self.accounts[:3]
        self.cos = self.accounts[3:]
        self.market = TrainingMarket.deploy(self.chain, sender=funder)
        self.couples: list[bytes] = []
        mk = self.market
        mk.register_dataset(DS, m, n, FEE, PRICE, b"\x01" * 32, sender=self.do)
        for i, co in enumerate(self.cos):
            mk.claim(DS, i, b"\x02" * 32, sender=co)
            mk.deliver(DS, i, b"pointer", sender=self.do)
            nonce = make_nonce(co)
            mk.join(DS, i, commitment(digest(SUBSET_DATA[i // n]), nonce), nonce, sender=co)
            mk.verify(DS, i, True, sender=self.do)
        mk.register_model(MODEL, "linear-lsq", "{}", b"\x03" * 32, b"", sender=self.mo)
        self.chains: dict[bytes, tuple[HashChain, HashChain]] = {}
        self.check()

    def check(self) -> None:
        mk = self.market
        escrow = sum(mk.couple(c).escrow for c in self.couples)
        owed = sum(mk.owed(a) for a in self.accounts)
        assert self.chain.balance(mk.address) == escrow + owed

    def request(self, cid: bytes, rounds: int = 2, picks: int = 1, timeout: int = 600, approve: bool = True) -> None:
        mo_chain, do_chain = HashChain.fresh(rounds), HashChain.fresh(rounds)
        self.chains[cid] = (mo_chain, do_chain)
        self.market.request_couple(cid, MODEL, DS, rounds, picks, timeout, mo_chain.head, b"\x04" * 32, sender=self.mo)
        self.couples.append(cid)
        if approve:
            self.market.approve_couple(cid, do_chain.head, sender=self.do)
        self.check()

    def start(self, cid: bytes) -> int:
        """Start and draw the next round; returns the drawn subsets' mask."""
        mo_chain, do_chain = self.chains[cid]
        rnd = self.market.couple(cid).round + 1
        self.market.start_round(cid, mo_chain.value(rnd), b"\x05" * 32, sender=self.mo)
        self.market.draw_round(cid, do_chain.value(rnd), sender=self.do)
        self.check()
        return self.market.round_subsets(cid, rnd)

    def post(self, cid: bytes, index: int, model: bytes) -> bytes:
        co = self.cos[index]
        nonce = make_nonce(co)
        self.market.update_job(cid, index, commitment(digest(model), nonce), nonce, b"ptr", sender=co)
        self.check()
        return nonce


def revert(fn, reason: str):
    with pytest.raises(TransactionReverted, match=reason):
        fn()


@pytest.fixture
def world() -> World:
    return World()


def test_a_full_couple_pays_passed_jobs_and_the_licence_and_refunds_the_rest(world):
    w, mk = world, world.market
    cid = b"\xc1" * 32
    w.request(cid)
    assert mk.couple(cid).escrow == FEE + PRICE * 3 * 1 * 2
    seen = set()
    for _ in range(2):
        mask = w.start(cid)
        (s,) = subsets_of(mask)
        seen.add(s)
        model = b"model-%d" % s
        for i in range(s * 3, s * 3 + 3):
            w.post(cid, i, model if i % 3 else b"dummy")  # replica 0 of each subset cheats
        mk.settle(cid, s, digest(model), sender=w.stranger)  # anyone may settle
        w.check()
        statuses = [mk.result(cid, mk.couple(cid).round, i).status for i in range(s * 3, s * 3 + 3)]
        assert statuses == ["fraud", "passed", "passed"]
    assert seen == {0, 1}  # every subset trained
    c = mk.couple(cid)
    assert c.status == "completed" and c.escrow == 0
    assert mk.owed(w.do) == FEE
    assert all(mk.owed(w.cos[i]) == 2 * PRICE * 0 + (PRICE if i % 3 else 0) for i in range(6))
    assert mk.owed(w.mo) == 2 * PRICE  # the two fraudulent jobs' price comes back
    before = w.chain.balance(w.stranger)
    mk.withdraw(w.stranger, sender=w.cos[1])
    assert w.chain.balance(w.stranger) == before + PRICE  # paid out to another address
    revert(lambda: mk.withdraw(w.stranger, sender=w.cos[1]), "nothing to withdraw")
    w.check()


def test_nonces_are_bound_to_their_sender_and_used_once(world):
    w, mk = world, world.market
    cid = b"\xc2" * 32
    w.request(cid)
    (s,) = subsets_of(w.start(cid))
    a, b = s * 3, s * 3 + 1
    nonce = w.post(cid, a, b"model")
    first = mk.result(cid, 1, a)
    # copying the whole (commitment, nonce) pair: refused
    revert(lambda: mk.update_job(cid, b, first.commitment, nonce, b"p", sender=w.cos[b]), "nonce not bound to sender")
    # reusing one's own nonce from the join: refused
    join_nonce = mk.instance(DS, b).nonce
    revert(lambda: mk.update_job(cid, b, first.commitment, join_nonce, b"p", sender=w.cos[b]), "nonce already used")
    assert mk.result(cid, 1, b).status == "none"


def test_a_copied_commitment_with_ones_own_nonce_is_fraud_and_unpaid(world):
    w, mk = world, world.market
    cid = b"\xc3" * 32
    w.request(cid)
    (s,) = subsets_of(w.start(cid))
    idx = list(range(s * 3, s * 3 + 3))
    w.post(cid, idx[0], b"trained")
    w.post(cid, idx[1], b"trained")
    copier = w.cos[idx[2]]
    copied = mk.result(cid, 1, idx[0]).commitment
    mk.update_job(cid, idx[2], copied, make_nonce(copier), b"p", sender=copier)
    mk.settle(cid, s, digest(b"trained"), sender=w.mo)
    assert [mk.result(cid, 1, i).status for i in idx] == ["passed", "passed", "fraud"]
    assert mk.owed(copier) == 0
    w.check()


def test_settle_needs_a_strict_majority_and_no_consensus_waits_for_the_dispute_timeout(world):
    w, mk = world, world.market
    cid = b"\xc4" * 32
    w.request(cid, timeout=600)
    (s,) = subsets_of(w.start(cid))
    idx = list(range(s * 3, s * 3 + 3))
    for i, model in zip(idx, (b"a", b"b", b"c")):
        w.post(cid, i, model)
    revert(lambda: mk.settle(cid, s, digest(b"a"), sender=w.mo), "no majority")
    revert(lambda: mk.settle(cid, s, b"\x00" * 32, sender=w.mo), "only after the dispute timeout")
    w.chain.advance_time(1300)
    mk.settle(cid, s, b"\x00" * 32, sender=w.mo)
    assert [mk.result(cid, 1, i).status for i in idx] == ["fraud"] * 3
    assert mk.couple(cid).phase == "idle"
    w.check()


def test_missing_jobs_block_settlement_only_until_the_deadline(world):
    w, mk = world, world.market
    cid = b"\xc5" * 32
    w.request(cid, timeout=600)
    (s,) = subsets_of(w.start(cid))
    idx = list(range(s * 3, s * 3 + 3))
    w.post(cid, idx[0], b"m")
    w.post(cid, idx[1], b"m")
    revert(lambda: mk.settle(cid, s, digest(b"m"), sender=w.mo), "jobs still training")
    w.chain.advance_time(700)
    revert(lambda: w.post(cid, idx[2], b"m"), "deadline passed")
    mk.settle(cid, s, digest(b"m"), sender=w.stranger)
    assert [mk.result(cid, 1, i).status for i in idx] == ["passed", "passed", "missing"]
    w.check()


def test_roles_are_enforced(world):
    w, mk = world, world.market
    cid = b"\xc6" * 32
    w.request(cid, approve=False)
    mo_chain, do_chain = w.chains[cid]
    revert(lambda: mk.approve_couple(cid, do_chain.head, sender=w.mo), "only the data owner")
    mk.approve_couple(cid, do_chain.head, sender=w.do)
    revert(lambda: mk.start_round(cid, mo_chain.value(1), b"\x05" * 32, sender=w.do), "only the model owner")
    mk.start_round(cid, mo_chain.value(1), b"\x05" * 32, sender=w.mo)
    revert(lambda: mk.draw_round(cid, do_chain.value(1), sender=w.mo), "only the data owner")
    mk.draw_round(cid, do_chain.value(1), sender=w.do)
    (s,) = subsets_of(mk.round_subsets(cid, 1))
    other = w.cos[((1 - s) * 3)]
    nonce = make_nonce(other)
    revert(lambda: mk.update_job(cid, s * 3, b"\x01" * 32, nonce, b"p", sender=other), "not the job's cloud owner")
    revert(lambda: mk.update_job(cid, (1 - s) * 3, b"\x01" * 32, nonce, b"p", sender=other), "subset not drawn")
    revert(lambda: mk.verify(DS, 0, True, sender=w.stranger), "only the data owner")
    revert(lambda: mk.deliver(DS, 0, b"p", sender=w.stranger), "only the data owner")
    revert(lambda: mk.claim(DS, 0, b"\x02" * 32, sender=w.stranger), "instance taken")
    revert(lambda: mk.register_model(MODEL, "x", "{}", b"\x00" * 32, b"", sender=w.stranger), "id taken")
    revert(lambda: mk.request_couple(b"\xc7" * 32, MODEL, DS, 1, 1, 60, b"\x01" * 32, b"\x01" * 32, sender=w.stranger),
           "not the model's owner")


def test_the_escrow_must_be_exact_and_parameters_in_range(world):
    w, mk = world, world.market
    price = mk.couple_price(DS, 2, 1)
    args = (b"\xc8" * 32, MODEL, DS, 2, 1, 600, b"\x01" * 32, b"\x01" * 32)
    revert(lambda: mk.request_couple(*args, sender=w.mo, value=price - 1), "value must equal couple_price")
    revert(lambda: mk.request_couple(*args[:4], 3, *args[5:], sender=w.mo, value=0), "picks out of range")
    revert(lambda: mk.request_couple(*args[:3], 0, *args[4:], sender=w.mo, value=0), "rounds out of range")
    revert(lambda: mk.register_dataset(b"\x99" * 32, 17, 3, 0, 0, b"", sender=w.do), "m out of range")
    revert(lambda: mk.register_dataset(b"\x99" * 32, 2, 9, 0, 0, b"", sender=w.do), "n out of range")
    assert w.chain.balance(mk.address) == 0


def test_cancel_decline_and_a_late_data_owner(world):
    w, mk = world, world.market
    a, b, c = b"\xca" * 32, b"\xcb" * 32, b"\xcc" * 32
    w.request(a, approve=False)
    mk.cancel_couple(a, sender=w.mo)
    assert mk.couple(a).status == "cancelled" and mk.owed(w.mo) == mk.couple_price(DS, 2, 1)
    w.request(b, approve=False)
    revert(lambda: mk.decline_couple(b, sender=w.mo), "only the data owner")
    mk.decline_couple(b, sender=w.do)
    assert mk.couple(b).status == "declined"
    w.check()
    w.request(c, timeout=600)
    mo_chain, do_chain = w.chains[c]
    mk.start_round(c, mo_chain.value(1), b"\x05" * 32, sender=w.mo)
    revert(lambda: mk.cancel_couple(c, sender=w.mo), "not late")
    w.chain.advance_time(700)
    revert(lambda: mk.draw_round(c, do_chain.value(1), sender=w.do), "deadline passed")
    mk.cancel_couple(c, sender=w.mo)
    assert mk.owed(w.mo) == 3 * mk.couple_price(DS, 2, 1)
    w.check()


def test_the_draw_follows_both_hash_chains_and_nothing_else():
    w = World(m=5, n=1)
    mk = w.market
    cid = b"\xd1" * 32
    w.request(cid, rounds=9, picks=2)
    mo_chain, do_chain = w.chains[cid]
    revert(lambda: mk.start_round(cid, b"\x07" * 32, b"\x05" * 32, sender=w.mo), "does not extend the hash chain")
    revert(lambda: mk.start_round(cid, mo_chain.value(2), b"\x05" * 32, sender=w.mo), "does not extend the hash chain")
    used, epoch, rounds = 0, set(), []
    for rnd in range(1, 10):
        mk.start_round(cid, mo_chain.value(rnd), b"\x05" * 32, sender=w.mo)
        revert(lambda: mk.draw_round(cid, do_chain.value(rnd + 1) if rnd < 9 else b"\x07" * 32, sender=w.do),
               "does not extend the hash chain")
        # block data must not matter: move the clock and the block number first
        w.chain.advance_time(17 * rnd)
        w.chain.send(TxRequest(sender=w.stranger, to=w.stranger, data=b"", value=0))
        mk.draw_round(cid, do_chain.value(rnd), sender=w.do)
        mask = mk.round_subsets(cid, rnd)
        expected, used = draw_subsets(round_seed(cid, rnd, mo_chain.value(rnd), do_chain.value(rnd)), 2, 5, used)
        assert mask == expected and len(subsets_of(mask)) == 2
        rounds.append(subsets_of(mask))
        for s in subsets_of(mask):
            w.post(cid, s, b"m")
        for s in subsets_of(mask):
            mk.settle(cid, s, digest(b"m"), sender=w.mo)
    # picks form a sequence of epochs, each every subset once: the first ceil(5/2) = 3
    # rounds use all five, and at any time use counts differ by at most one
    assert set().union(*map(set, rounds[:3])) == set(range(5))
    for r in range(1, len(rounds) + 1):
        counts = [sum(s in chosen for chosen in rounds[:r]) for s in range(5)]
        assert max(counts) - min(counts) <= 1, rounds
    w.check()


def test_draw_mirror_uses_every_subset_once_per_epoch():
    import os

    for m, picks in [(2, 1), (4, 2), (5, 2), (7, 3), (16, 5), (3, 3)]:
        used, counts = 0, [0] * m
        for r in range(1, 40):
            chosen, used = draw_subsets(os.urandom(32), picks, m, used)
            assert len(subsets_of(chosen)) == picks
            for s in subsets_of(chosen):
                counts[s] += 1
            assert max(counts) - min(counts) <= 1, (m, picks, r, counts)
            if r == -(-m // picks):
                assert min(counts) >= 1
