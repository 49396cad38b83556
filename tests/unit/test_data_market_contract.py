"""The secure data market contract (``contracts/markets/data_market.vy``) on chain.

Masked vectors are built here with :func:`packing.prg_lanes` and random pair
seeds (the real X25519/HKDF/Shamir client is tested elsewhere): what matters
to the contract is that pairwise masks cancel in a group sum, that the masks
of a dropped member can be removed with seeds checked against commitments,
and the money. Every transaction to the market is followed by a check of
``balance == escrow_left + owner_pot + dos_owed`` and of ``dos_owed`` against
the per-member books. The exact engine (py-evm) is used unless noted.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest
from eth_utils import keccak

from ledgerlearn.chain.accounts import dev_accounts
from ledgerlearn.chain.base import TxRequest
from ledgerlearn.chain.contract import deploy
from ledgerlearn.chain.fast import FastLocalChain
from ledgerlearn.chain.local import LocalChain
from ledgerlearn.contracts.compiler import compile_file
from ledgerlearn.markets.data import robust
from ledgerlearn.markets.data.packing import (
    MAX_Q_CLIP,
    Q_MOD,
    decode_aggregate,
    decode_sum,
    n_words,
    pack_words,
    prg_lanes,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from incentive_harness import expect_revert  # noqa: E402

ZERO32 = b"\x00" * 32
REWARD = 10**15
DEPOSIT = 10**16
PARAM_ORDER = (
    "public_part_uri", "public_part_hash", "n_params", "q_scale", "q_clip", "head_seed", "max_dos", "min_dos",
    "group_size", "threshold", "byzantine_groups", "rounds", "reward", "deposit", "slash_rejected",
    "register_s", "keys_s", "submit_s", "recover_s",
)  # fmt: skip
DEFAULTS = dict(
    public_part_uri="blob://public-part", public_part_hash=b"\x11" * 32, n_params=37, q_scale=1000, q_clip=5000,
    head_seed=7, max_dos=6, min_dos=3, group_size=3, threshold=2, byzantine_groups=0, rounds=2, reward=REWARD,
    deposit=DEPOSIT, slash_rejected=False, register_s=1000, keys_s=100, submit_s=100, recover_s=100,
)  # fmt: skip


def artifact():
    return compile_file("markets/data_market.vy", "DataMarket")


def ensure_accounts(chain, count: int) -> list[str]:
    """Give the chain ``count`` funded dev accounts (it funds the first 10)."""
    have = len(chain.accounts)
    for acct in dev_accounts(count)[have:]:
        chain.add_account(acct)
        chain.send(TxRequest(sender=chain.accounts[0], to=acct.address, value=10**20))
    return chain.accounts[:count]


def goto(chain, t: int) -> None:
    """Make the next block's timestamp ``t`` (if in the future)."""
    delta = t - chain.timestamp()
    if delta > 0:
        chain.advance_time(delta)


class Books:
    """Checks the market's money invariant after every transaction sent to it."""

    def __init__(self, chain):
        self.chain = chain
        self.market = None
        self.checks = 0
        self._send = chain.send
        chain.send = self.send

    def send(self, tx):
        receipt = self._send(tx)
        if self.market is not None and tx.to is not None and tx.to.lower() == self.market.address.lower():
            self.check()
        return receipt

    def check(self):
        c = self.market
        escrow, pot, owed = c.call("escrow_left"), c.call("owner_pot"), c.call("dos_owed")
        assert self.chain.balance(c.address) == escrow + pot + owed, "contract balance != escrow + pot + owed"
        per_member = sum(c.call("earned", a) + c.call("deposit_held", a) for a in c.call("registrants"))
        assert per_member == owed, "dos_owed != sum of members' deposits and earnings"
        self.checks += 1


class Market:
    """A deployed task plus the test's view of the secret parts of each round."""

    def __init__(self, chain, owner: str, dos: list[str], books: Books | None = None, value: int | None = None, **overrides):
        self.chain, self.owner, self.dos = chain, owner, list(dos)
        self.params = {**DEFAULTS, **overrides}
        p = self.params
        art = artifact()
        escrow = p["reward"] * p["max_dos"] * p["rounds"] if value is None else value
        self.c, self.deploy_receipt = deploy(chain, art.abi, art.bytecode, *(p[k] for k in PARAM_ORDER), sender=owner, value=escrow)
        if books is not None:
            books.market = self.c
        self.n_params = p["n_params"]
        self.rng = random.Random(1234)

    # -------------------------------------------------------------- helpers
    def tx(self, name, *args, sender, value=0):
        return self.c.transact(name, *args, sender=sender, value=value)

    def call(self, name, *args):
        return self.c.call(name, *args)

    def register_all(self, dos=None):
        receipts = []
        for a in self.dos if dos is None else dos:
            receipts.append(self.tx("register", keccak(text=a), sender=a, value=self.params["deposit"]))
        return receipts

    def start(self):
        if self.call("registered_count") < self.params["max_dos"]:
            goto(self.chain, self.call("register_deadline"))
        return self.tx("start", sender=self.dos[-1])

    def groups(self) -> list[list[str]]:
        return [self.call("group_members", g) for g in range(self.call("group_count"))]

    def random_update(self, scale: int = 200) -> np.ndarray:
        return np.array([self.rng.randint(-scale, scale) for _ in range(self.n_params)], dtype=np.int64)

    # ---------------------------------------------------------------- round
    def play_round(self, updates: dict, *, absent=(), drop=(), vanish=(), recover=True, finalize=True, reveal=True):
        """One round. ``updates``: member -> quantised update (int lanes).

        ``absent`` post no keys; ``drop`` post keys, do not submit, and are
        recovered (if ``recover``); ``vanish`` post keys and disappear (never
        recovered). Returns a dict with the receipts and the secrets.
        """
        r = self.call("current_round")
        out = {"round": r, "keys": {}, "submit": {}, "recover": {}, "seeds": {}, "rosters": []}
        groups = self.groups()
        for members in groups:
            roster = [a for a in members if a not in absent and self.call("is_active", a)]
            out["rosters"].append(roster)
            for a in roster:
                shares = bytes(self.rng.getrandbits(8) for _ in range(48 * len(members)))
                out["keys"][a] = self.tx("post_keys", r, keccak(text=f"mask{r}{a}"), shares, sender=a)
        if any(a not in sum(out["rosters"], []) and self.call("is_active", a) for a in sum(groups, [])):
            goto(self.chain, self.call("keys_deadline"))
        seeds = out["seeds"]
        for roster in out["rosters"]:
            for i, u in enumerate(roster):
                for v in roster[i + 1 :]:
                    seeds[frozenset((u, v))] = self.rng.randbytes(32)
        for members, roster in zip(groups, out["rosters"]):
            for u in roster:
                if u in drop or u in vanish:
                    continue
                words, commits = self.masked(u, updates[u], members, roster, seeds)
                out["submit"][u] = self.tx("submit", r, words, commits, sender=u)
        lost = [a for a in list(drop) + list(vanish) if a in sum(out["rosters"], [])]
        if lost:
            goto(self.chain, self.call("submit_deadline"))
        for members, roster in zip(groups, out["rosters"]):
            for d in roster:
                if d not in drop or not recover:
                    continue
                helpers = [v for v in roster if v != d and v not in drop and v not in vanish]
                if reveal and helpers:
                    self.tx("reveal_share", r, d, keccak(text=f"share{d}"), sender=helpers[0])
                out["recover"][d] = self.tx("recover", r, d, self.recovery_seeds(d, members, roster, seeds, drop, vanish), sender=helpers[-1] if helpers else self.dos[0])
        if finalize:
            if not self.call("can_finalize"):
                goto(self.chain, self.call("recover_deadline"))
            out["finalize"] = self.tx("finalize", sender=self.dos[0])
        return out

    def masked(self, u, q, members, roster, seeds):
        y = np.asarray(q, dtype=np.int64) % Q_MOD
        for v in roster:
            if v == u:
                continue
            m = prg_lanes(seeds[frozenset((u, v))], self.n_params)
            y = (y + m) % Q_MOD if int(u, 16) < int(v, 16) else (y - m) % Q_MOD
        commits = [keccak(seeds[frozenset((u, v))]) if v in roster and v != u else ZERO32 for v in members]
        return pack_words(y), commits

    @staticmethod
    def recovery_seeds(d, members, roster, seeds, drop=(), vanish=()):
        return [seeds[frozenset((d, v))] if v in roster and v != d and v not in drop and v not in vanish else ZERO32 for v in members]

    def group_sums(self) -> list[np.ndarray]:
        return [decode_sum(self.call("group_sum", g), self.n_params) for g in range(self.call("group_count"))]


def true_sum(updates, members):
    return np.sum([np.asarray(updates[a], dtype=np.int64) for a in members], axis=0)


@pytest.fixture(scope="module")
def world():
    chain = LocalChain()
    accounts = ensure_accounts(chain, 22)
    return chain, accounts


@pytest.fixture
def env(world):
    chain, accounts = world
    books = Books(chain)
    sid = chain.snapshot()
    yield chain, accounts, books
    chain.send = books._send
    chain.revert(sid)


# ------------------------------------------------------------ parameters

def test_constructor_validation(env):
    chain, accounts, _ = env
    owner = accounts[0]
    art = artifact()

    def attempt(value=None, **overrides):
        p = {**DEFAULTS, **overrides}
        escrow = p["reward"] * p["max_dos"] * p["rounds"] if value is None else value
        return lambda: deploy(chain, art.abi, art.bytecode, *(p[k] for k in PARAM_ORDER), sender=owner, value=escrow)

    cases = [
        (dict(n_params=0), "n_params"),
        (dict(n_params=4097), "n_params"),
        (dict(q_scale=0), "q_scale"),
        (dict(q_clip=0), "q_clip"),
        (dict(q_clip=MAX_Q_CLIP + 1), "q_clip"),
        (dict(group_size=1, threshold=1, min_dos=3), "group_size"),
        (dict(group_size=8, threshold=2, min_dos=8, max_dos=8), "group_size"),
        (dict(threshold=1), "threshold"),
        (dict(threshold=4), "threshold"),
        (dict(min_dos=2), "min_dos"),
        (dict(max_dos=5, min_dos=6), "max_dos"),
        (dict(max_dos=65), "max_dos"),
        (dict(group_size=2, min_dos=2, max_dos=34), "16 groups"),
        (dict(group_size=5, threshold=2, min_dos=5, max_dos=9), "larger than 8"),
        (dict(group_size=2, min_dos=2, max_dos=32, n_params=2048, byzantine_groups=1), "too many for Multi-Krum"),
        (dict(byzantine_groups=1, max_dos=6), "byzantine_groups"),
        (dict(rounds=0), "rounds"),
        (dict(rounds=101), "rounds"),
        (dict(keys_s=0), "durations"),
        (dict(register_s=0), "durations"),
        (dict(reward=0), "reward"),
    ]
    for overrides, reason in cases:
        expect_revert(attempt(**overrides), reason)
    expect_revert(attempt(value=1), "escrow must equal reward * max_dos * rounds")
    # a valid task echoes every parameter
    m = Market(chain, owner, accounts[1:7], n_params=4096, group_size=4, min_dos=4, max_dos=8, threshold=3)
    for k in PARAM_ORDER:
        assert m.call(k) == m.params[k], k
    assert m.call("owner") == owner and m.call("phase") == 0 and m.call("current_round") == 0
    assert m.call("n_words") == 512 and m.call("escrow_left") == REWARD * 8 * 2
    assert m.call("register_deadline") == m.deploy_receipt.timestamp + DEFAULTS["register_s"]


def test_register_rules(env):
    chain, accounts, books = env
    owner, dos = accounts[0], accounts[1:8]
    m = Market(chain, owner, dos[:6], books)
    a, b = dos[0], dos[1]
    expect_revert(lambda: m.tx("register", keccak(text="k"), sender=a, value=DEPOSIT - 1), "exactly the deposit")
    expect_revert(lambda: m.tx("register", ZERO32, sender=a, value=DEPOSIT), "empty encryption key")
    expect_revert(lambda: m.tx("register", keccak(text="k"), sender=owner, value=DEPOSIT), "owner cannot register")
    r = m.tx("register", keccak(text="ka"), sender=a, value=DEPOSIT)
    (ev,) = m.c.events("Registered", r.logs)
    assert ev["member"] == a and ev["index"] == 0 and ev["enc_pk"] == keccak(text="ka")
    assert m.call("enc_key", a) == keccak(text="ka") and m.call("is_registered", a) and m.call("is_active", a)
    expect_revert(lambda: m.tx("register", keccak(text="k"), sender=a, value=DEPOSIT), "already registered")
    expect_revert(lambda: m.tx("start", sender=b), "registration is still open")
    m.register_all(dos[1:6])
    assert m.call("registered_count") == 6 and m.call("registrants") == dos[:6]
    expect_revert(lambda: m.tx("register", keccak(text="k"), sender=dos[6], value=DEPOSIT), "full")
    # full: anyone may start before the deadline
    r = m.tx("start", sender=dos[6])
    assert m.call("phase") == 1 and m.call("current_round") == 1
    expect_revert(lambda: m.tx("register", keccak(text="k"), sender=dos[6], value=DEPOSIT), "registration is closed")
    expect_revert(lambda: m.tx("start", sender=owner), "not in registration")
    expect_revert(lambda: m.tx("cancel", sender=owner), "only during registration")

    # after the deadline
    m2 = Market(chain, owner, dos[:6], books)
    m2.register_all(dos[:2])
    goto(chain, m2.call("register_deadline"))
    expect_revert(lambda: m2.tx("register", keccak(text="k"), sender=dos[2], value=DEPOSIT), "deadline has passed")
    assert books.checks > 0


def test_start_below_min_dos_fails_and_refunds(env):
    chain, accounts, books = env
    owner, dos = accounts[0], accounts[1:3]
    m = Market(chain, owner, dos, books, min_dos=3)
    m.register_all()
    before = {a: chain.balance(a) for a in [owner, *dos]}
    goto(chain, m.call("register_deadline"))
    r = m.tx("start", sender=dos[0])
    assert m.call("phase") == 4 and m.c.events("Failed", r.logs)[0]["registered"] == 2
    expect_revert(lambda: m.tx("finalize", sender=dos[0]), "not running rounds")
    for a in dos:
        assert m.call("balance_of", a) == DEPOSIT
        m.tx("withdraw", sender=a)
        assert chain.balance(a) - before[a] == DEPOSIT
        expect_revert(lambda: m.tx("withdraw", sender=a), "nothing to withdraw")
    escrow = REWARD * 6 * 2
    assert m.call("balance_of", owner) == escrow
    m.tx("withdraw", sender=owner)
    assert chain.balance(owner) - before[owner] == escrow
    assert chain.balance(m.c.address) == 0


def test_cancel_only_owner_only_in_registration(env):
    chain, accounts, books = env
    owner, dos = accounts[0], accounts[1:4]
    m = Market(chain, owner, dos, books)
    m.register_all()
    expect_revert(lambda: m.tx("cancel", sender=dos[0]), "only the owner")
    assert m.call("balance_of", owner) == 0
    m.tx("cancel", sender=owner)
    assert m.call("phase") == 3
    expect_revert(lambda: m.tx("cancel", sender=owner), "only during registration")
    expect_revert(lambda: m.tx("start", sender=owner), "not in registration")
    expect_revert(lambda: m.tx("register", keccak(text="x"), sender=accounts[5], value=DEPOSIT), "registration is closed")
    for a in dos:
        m.tx("withdraw", sender=a)
    m.tx("withdraw", sender=owner)
    assert chain.balance(m.c.address) == 0


# ---------------------------------------------------------------- groups

@pytest.mark.parametrize("n,group_size", [(11, 3), (7, 2), (20, 2), (9, 4)])
def test_group_drawing(env, n, group_size):
    chain, accounts, books = env
    owner, dos = accounts[0], accounts[1 : n + 1]
    m = Market(chain, owner, dos, books, max_dos=n, min_dos=group_size, group_size=group_size, threshold=2)
    m.register_all()
    r = m.start()
    (ev,) = m.c.events("Started", r.logs)
    count = n // group_size
    assert ev["groups"] == count == m.call("group_count") and ev["seed"] == m.call("group_seed")
    groups = m.groups()
    sizes = [len(g) for g in groups]
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= group_size and max(sizes) <= 8
    flat = sum(groups, [])
    assert sorted(flat) == sorted(dos)
    assert sorted(m.call("registrants")) == sorted(dos)
    for g, members in enumerate(groups):
        assert m.call("group_size_of", g) == len(members) == m.call("group_active", g)
        for s, a in enumerate(members, start=1):
            assert m.call("group_of", a) == g and m.call("slot_of", a) == s
    assert m.call("slot_of", owner) == 0 and m.call("group_of", owner) == 2**256 - 1
    expect_revert(lambda: m.call("group_members", count), "no such group")


# ---------------------------------------------------------------- rounds

def test_full_round_without_dropouts(env):
    chain, accounts, books = env
    owner, dos = accounts[0], accounts[1:7]
    m = Market(chain, owner, dos, books)  # 6 DOs, 2 groups of 3, n_params 37 (5 words, padded)
    m.register_all()
    m.start()
    groups = m.groups()
    updates = {a: m.random_update() for a in dos}
    out = m.play_round(updates, finalize=False)
    assert m.call("can_finalize")
    kev = m.c.events("KeysPosted", out["keys"][dos[0]].logs)[0]
    assert kev["round"] == 1 and kev["member"] == dos[0] and len(kev["shares"]) == 48 * 3
    assert m.call("mask_key", dos[0]) == keccak(text=f"mask1{dos[0]}")
    sums = m.group_sums()
    for g, members in enumerate(groups):
        assert np.array_equal(sums[g], true_sum(updates, members))
        assert m.call("group_round", g) == 1 and m.call("group_counts", g) == (3, 3, 0)
        u, v = members[0], members[1]
        assert m.call("seed_commit", 1, u, v) == keccak(out["seeds"][frozenset((u, v))])
        assert m.call("seed_commit", 1, u, u) == ZERO32 and m.call("seed_commit", 2, u, v) == ZERO32
    receipt = m.tx("finalize", sender=dos[3])
    (fin,) = m.c.events("RoundFinalized", receipt.logs)
    expected = robust.finalize_round({g: sums[g] for g in range(2)}, {0: 3, 1: 3}, 0, m.n_params)
    assert fin["round"] == 1 and fin["valid"] == 0b11 == fin["kept"] == expected.kept
    assert list(fin["aggregate"]) == expected.words
    assert np.array_equal(decode_aggregate(fin["aggregate"], m.n_params), expected.lanes)
    assert m.call("aggregate_hash", 1) == expected.hash == robust.aggregate_hash(fin["aggregate"])
    assert m.call("kept_groups", 1) == 0b11 and m.call("valid_groups", 1) == 0b11
    # the aggregate is the mean of the group means with 8 fraction bits
    exact = (sums[0] / 3 + sums[1] / 3) / 2 * 256
    assert np.all(np.abs(decode_aggregate(fin["aggregate"], m.n_params) - exact) < 1)
    paid = m.c.events("Paid", receipt.logs)
    assert sorted(e["member"] for e in paid) == sorted(dos) and all(e["amount"] == REWARD for e in paid)
    assert all(m.call("earned", a) == REWARD for a in dos)
    assert m.call("escrow_left") == REWARD * 6 * 2 - REWARD * 6
    assert m.call("current_round") == 2 and m.c.events("RoundStarted", receipt.logs)[0]["round"] == 2
    expect_revert(lambda: m.tx("finalize", sender=dos[0]), "wait for the recovery deadline")

    # round 2: the accumulators are overwritten by the first submission
    updates2 = {a: m.random_update() for a in dos}
    m.play_round(updates2, finalize=False)
    for g, members in enumerate(groups):
        assert np.array_equal(m.group_sums()[g], true_sum(updates2, members))
    m.tx("finalize", sender=owner)
    assert m.call("phase") == 2
    closed = m.c.events("Closed")
    assert closed[0]["escrow_returned"] == 0  # 6 of 6 paid in both rounds
    assert books.checks > 20


def test_submit_and_keys_rules(env):
    chain, accounts, books = env
    owner, dos = accounts[0], accounts[1:7]
    m = Market(chain, owner, dos, books)
    m.register_all()
    m.start()
    groups = m.groups()
    g0 = groups[0]
    a, b, c = g0
    shares = b"\x01" * 48 * 3
    expect_revert(lambda: m.tx("post_keys", 2, keccak(text="m"), shares, sender=a), "not the current round")
    expect_revert(lambda: m.tx("post_keys", 1, keccak(text="m"), shares[:-1], sender=a), "48 bytes per group slot")
    expect_revert(lambda: m.tx("post_keys", 1, ZERO32, shares, sender=a), "empty mask key")
    expect_revert(lambda: m.tx("post_keys", 1, keccak(text="m"), shares, sender=owner), "not an active member")
    m.tx("post_keys", 1, keccak(text="ma"), shares, sender=a)
    expect_revert(lambda: m.tx("post_keys", 1, keccak(text="m"), shares, sender=a), "already posted")
    words = [0] * n_words(m.n_params)
    commits = [ZERO32] * 3
    expect_revert(lambda: m.tx("submit", 1, words, commits, sender=b), "post keys first")
    expect_revert(lambda: m.tx("submit", 1, words, commits, sender=a), "roster is not final")
    m.tx("post_keys", 1, keccak(text="mb"), shares, sender=b)
    m.tx("post_keys", 1, keccak(text="mc"), shares, sender=c)
    expect_revert(lambda: m.tx("submit", 1, words[:-1], commits, sender=a), "wrong number of words")
    expect_revert(lambda: m.tx("submit", 1, words, commits[:2], sender=a), "one seed commitment per group slot")
    bad = list(words)
    bad[1] = 1 << 24
    expect_revert(lambda: m.tx("submit", 1, bad, commits, sender=a), "lane out of range")
    bad = list(words)
    bad[-1] = 1 << (32 * (m.n_params % 8))  # a padding lane of the last word
    expect_revert(lambda: m.tx("submit", 1, bad, commits, sender=a), "lane out of range")
    ok = list(words)
    ok[0] = (1 << 24) - 1
    m.tx("submit", 1, ok, commits, sender=a)
    expect_revert(lambda: m.tx("submit", 1, words, commits, sender=a), "already submitted")
    expect_revert(lambda: m.tx("reveal_share", 1, b, ZERO32, sender=a), "outside the recovery phase")
    expect_revert(lambda: m.tx("recover", 1, b, [ZERO32] * 3, sender=a), "outside the recovery phase")
    goto(chain, m.call("keys_deadline"))
    expect_revert(lambda: m.tx("post_keys", 1, keccak(text="m"), b"\x01" * 48 * len(groups[1]), sender=groups[1][0]), "keys phase is over")
    goto(chain, m.call("submit_deadline"))
    expect_revert(lambda: m.tx("submit", 1, words, commits, sender=b), "submit phase is over")


def test_round_with_dropout(env):
    chain, accounts, books = env
    owner, dos = accounts[0], accounts[1:7]
    m = Market(chain, owner, dos, books)
    m.register_all()
    m.start()
    groups = m.groups()
    d = groups[0][1]
    updates = {a: m.random_update() for a in dos}
    out = m.play_round(updates, drop=[d], recover=False, finalize=False)
    r = 1
    members = groups[0]
    roster = out["rosters"][0]
    subs = [a for a in members if a != d]
    # reveal: refused for a submitter, accepted once for the dropped member
    expect_revert(lambda: m.tx("reveal_share", r, subs[0], keccak(text="s"), sender=subs[1]), "submitted")
    expect_revert(lambda: m.tx("reveal_share", r, d, keccak(text="s"), sender=groups[1][0]), "not in the dropped member's group")
    expect_revert(lambda: m.tx("reveal_share", r, d, keccak(text="s"), sender=d), "not your own share")
    rv = m.tx("reveal_share", r, d, keccak(text="s0"), sender=subs[0])
    (ev,) = m.c.events("ShareRevealed", rv.logs)
    assert ev["dropped"] == d and ev["member"] == subs[0] and ev["share"] == keccak(text="s0") and ev["round"] == 1
    expect_revert(lambda: m.tx("reveal_share", r, d, keccak(text="s0"), sender=subs[0]), "already revealed")
    m.tx("reveal_share", r, d, keccak(text="s1"), sender=subs[1])
    # recovery
    seeds = m.recovery_seeds(d, members, roster, out["seeds"], drop=[d])
    wrong = list(seeds)
    wrong[members.index(subs[0])] = b"\x42" * 32
    expect_revert(lambda: m.tx("recover", r, d, wrong, sender=owner), "seed mismatch")
    expect_revert(lambda: m.tx("recover", r, d, seeds[:2], sender=owner), "one seed per group slot")
    expect_revert(lambda: m.tx("recover", r, subs[0], seeds, sender=owner), "it submitted")
    assert not m.call("can_finalize")
    rec = m.tx("recover", r, d, seeds, sender=accounts[12])  # anyone
    assert m.c.events("Recovered", rec.logs)[0]["group"] == 0
    expect_revert(lambda: m.tx("recover", r, d, seeds, sender=owner), "already recovered")
    assert m.call("recovered_round", d) == 1 and m.call("group_counts", 0) == (3, 2, 1)
    assert np.array_equal(m.group_sums()[0], true_sum(updates, subs))
    assert np.array_equal(m.group_sums()[1], true_sum(updates, groups[1]))
    assert m.call("can_finalize")
    fin = m.tx("finalize", sender=subs[0])
    (ff,) = m.c.events("Forfeited", fin.logs)
    assert ff["member"] == d and ff["amount"] == DEPOSIT
    assert not m.call("is_active", d) and m.call("deposit_held", d) == 0 and m.call("group_active", 0) == 2
    assert m.call("owner_pot") == DEPOSIT and m.call("balance_of", owner) == 0
    (rf,) = m.c.events("RoundFinalized", fin.logs)
    sums = m.group_sums()
    expected = robust.finalize_round({0: sums[0], 1: sums[1]}, {0: 2, 1: 3}, 0, m.n_params)
    assert rf["kept"] == 0b11 and list(rf["aggregate"]) == expected.words
    assert sorted(e["member"] for e in m.c.events("Paid", fin.logs)) == sorted(a for a in dos if a != d)
    # the dropped member is out of later rounds; its group's roster is final without it
    expect_revert(lambda: m.tx("post_keys", 2, keccak(text="m"), b"\x01" * 144, sender=d), "not an active member")
    out2 = m.play_round({a: m.random_update() for a in dos if a != d}, absent=[d])
    assert m.c.events("RoundFinalized", out2["finalize"].logs)[0]["kept"] == 0b11
    assert m.call("phase") == 2


def test_two_dropouts_invalid_and_vanished_member(env):
    chain, accounts, books = env
    owner, dos = accounts[0], accounts[1:7]
    m = Market(chain, owner, dos, books, rounds=1)
    m.register_all()
    m.start()
    groups = m.groups()
    d1, d2 = groups[0][0], groups[0][2]
    v = groups[1][1]
    updates = {a: m.random_update() for a in dos}
    m.play_round(updates, drop=[d1, d2], vanish=[v], finalize=False)
    # group 0 is settled (both recovered) but has 1 submitter < threshold 2;
    # group 1 waits for a recovery that never comes
    assert not m.call("can_finalize")
    expect_revert(lambda: m.tx("finalize", sender=dos[0]), "wait for the recovery deadline")
    goto(chain, m.call("recover_deadline"))
    assert m.call("can_finalize")
    fin = m.tx("finalize", sender=groups[0][1])
    (rf,) = m.c.events("RoundFinalized", fin.logs)
    assert rf["valid"] == 0 and rf["kept"] == 0 and list(rf["aggregate"]) == [0] * n_words(m.n_params)
    assert m.c.events("Paid", fin.logs) == []
    assert sorted(e["member"] for e in m.c.events("Forfeited", fin.logs)) == sorted([d1, d2, v])
    assert m.call("phase") == 2 and m.call("owner_pot") == 3 * DEPOSIT + REWARD * 6
    before = chain.balance(owner)
    m.tx("withdraw", sender=owner)
    assert chain.balance(owner) - before == 3 * DEPOSIT + REWARD * 6
    for a in dos:
        if a in (d1, d2, v):
            expect_revert(lambda: m.tx("withdraw", sender=a), "nothing to withdraw")
        else:
            assert m.tx("withdraw", sender=a) and m.call("balance_of", a) == 0
    assert chain.balance(m.c.address) == 0


def test_round_without_keys_closes(env):
    chain, accounts, books = env
    owner, dos = accounts[0], accounts[1:7]
    m = Market(chain, owner, dos, books, rounds=3)
    m.register_all()
    m.start()
    goto(chain, m.call("keys_deadline"))
    assert m.call("can_finalize")
    r = m.tx("finalize", sender=dos[0])
    assert m.call("phase") == 2 and m.c.events("Closed", r.logs)[0]["escrow_returned"] == REWARD * 6 * 3
    assert m.c.events("Forfeited", r.logs) == []
    for a in dos:
        assert m.call("balance_of", a) == DEPOSIT


# ----------------------------------------------------------- Multi-Krum

@pytest.mark.parametrize("f", [4, 0])
def test_multi_krum_rejects_poisoned_groups(env, f):
    chain, accounts, books = env
    owner, dos = accounts[0], accounts[1:21]
    m = Market(chain, owner, dos, books, max_dos=20, min_dos=20, group_size=2, threshold=2, byzantine_groups=f, rounds=1, n_params=64)
    m.register_all()
    m.start()
    groups = m.groups()
    assert len(groups) == 10
    rng = np.random.default_rng(5)
    base = rng.integers(-300, 300, m.n_params)
    updates = {a: base + rng.integers(-20, 20, m.n_params) for a in dos}
    bad = [dos[i] for i in (2, 7, 11, 16)]
    for i, a in enumerate(bad):
        updates[a] = -10 * updates[a] if i % 2 == 0 else rng.integers(-5000, 5000, m.n_params)
    out = m.play_round(updates)
    (rf,) = m.c.events("RoundFinalized", out["finalize"].logs)
    sums = m.group_sums()
    expected = robust.finalize_round({g: sums[g] for g in range(10)}, {g: 2 for g in range(10)}, f, m.n_params)
    assert rf["valid"] == 2**10 - 1 == expected.valid
    assert rf["kept"] == expected.kept and list(rf["aggregate"]) == expected.words
    assert m.call("aggregate_hash", 1) == expected.hash
    poisoned = {g for g, members in enumerate(groups) if any(a in bad for a in members)}
    paid = {e["member"] for e in m.c.events("Paid", out["finalize"].logs)}
    if f == 0:
        assert rf["kept"] == 2**10 - 1 and paid == set(dos)
    else:
        assert bin(rf["kept"]).count("1") == 10 - f
        assert all(not rf["kept"] >> g & 1 for g in poisoned)
        assert not paid & set(bad) and all(m.call("earned", a) == 0 for a in bad)
        assert paid == {a for g, members in enumerate(groups) if rf["kept"] >> g & 1 for a in members}
        # the aggregate is close to the honest mean
        agg = decode_aggregate(rf["aggregate"], m.n_params) / 256
        assert np.max(np.abs(agg - base)) < 25


def test_multi_krum_unequal_groups_matches_mirror(env):
    """Groups with different submitter counts (dropouts) and sign-mixed sums: the contract == robust.py."""
    chain, accounts, books = env
    owner, dos = accounts[0], accounts[1:16]
    m = Market(chain, owner, dos, books, max_dos=15, min_dos=15, group_size=3, threshold=2, byzantine_groups=1, rounds=2, n_params=45)
    m.register_all()
    m.start()
    groups = m.groups()
    assert len(groups) == 5
    rng = np.random.default_rng(11)
    for rnd, drop in ((1, [groups[1][0], groups[3][2]]), (2, [groups[0][1]])):
        live = [a for a in dos if m.call("is_active", a)]
        updates = {a: rng.integers(-4000, 4000, m.n_params) for a in live}
        out = m.play_round(updates, drop=drop, absent=[a for a in dos if a not in live])
        (rf,) = m.c.events("RoundFinalized", out["finalize"].logs)
        sums = m.group_sums()
        counts = {g: sum(a in out["submit"] for a in members) for g, members in enumerate(groups)}
        expected = robust.finalize_round({g: sums[g] for g in range(5)}, counts, 1, m.n_params)
        assert sorted(counts.values()) != [3] * 5
        assert rf["round"] == rnd and rf["valid"] == 31 and rf["kept"] == expected.kept and bin(rf["kept"]).count("1") == 4
        assert list(rf["aggregate"]) == expected.words and m.call("aggregate_hash", rnd) == expected.hash
        means = [sums[g] / counts[g] for g in expected.kept_groups]
        assert np.all(np.abs(expected.lanes - np.trunc(np.mean(means, axis=0) * 256)) <= 1)


def test_robust_mirror_agrees_with_float_multi_krum():
    rng = np.random.default_rng(3)
    for _ in range(20):
        v = int(rng.integers(4, 12))
        f = int(rng.integers(1, v - 2))
        counts = [int(rng.integers(2, 9)) for _ in range(v)]
        sums = [rng.integers(-(2**20), 2**20, 30) for _ in range(v)]
        dist = robust.pairwise_distances(sums, counts)
        means = [s / n for s, n in zip(sums, counts)]
        for a in range(v):
            for b in range(v):
                assert abs(dist[a][b] / 840**2 - float(np.sum((means[a] - means[b]) ** 2))) <= 1e-6 * max(1.0, dist[a][b] / 840**2)
        kept = robust.multi_krum(dist, f)
        k = v - f - 2
        scores = [sorted(float(np.sum((means[a] - means[b]) ** 2)) for b in range(v) if b != a)[:k] for a in range(v)]
        order = sorted(range(v), key=lambda a: (sum(scores[a]), a))
        assert len(kept) == v - f and set(kept) == set(order[: v - f])
    assert robust.multi_krum([[0] * 4] * 4, 2) == []  # V < f + 3
    assert robust.multi_krum([[0] * 3] * 3, 0) == [0, 1, 2]
    lanes = robust.aggregate_lanes([np.array([-7, 7, -1])], [3])  # trunc(-7 * 256 / 3) = -597
    assert lanes.tolist() == [-597, 597, -85]


def test_slash_rejected(env):
    chain, accounts, books = env
    owner, dos = accounts[0], accounts[1:13]
    m = Market(chain, owner, dos, books, max_dos=12, min_dos=12, group_size=2, byzantine_groups=1, slash_rejected=True, rounds=1, n_params=16)
    m.register_all()
    m.start()
    groups = m.groups()
    updates = {a: np.full(16, 10, dtype=np.int64) for a in dos}
    bad = groups[2][0]
    updates[bad] = np.full(16, -4000, dtype=np.int64)
    out = m.play_round(updates)
    (rf,) = m.c.events("RoundFinalized", out["finalize"].logs)
    assert rf["kept"] == (2**6 - 1) & ~(1 << 2)
    forfeited = {e["member"] for e in m.c.events("Forfeited", out["finalize"].logs)}
    assert forfeited == set(groups[2])
    assert m.call("owner_pot") == 2 * DEPOSIT + REWARD * 2  # 2 slashed deposits + 2 unpaid rewards


# ------------------------------------------------------------------ money

def test_owner_disappears_dos_run_everything(env):
    chain, accounts, books = env
    owner, dos = accounts[0], accounts[1:8]
    m = Market(chain, owner, dos, books, max_dos=7, min_dos=6, rounds=3)  # 7 DOs: groups of 4 and 3
    start = {a: chain.balance(a) for a in [owner, *dos]}
    m.register_all()
    m.start()
    groups = m.groups()
    big = groups[0] if len(groups[0]) == 4 else groups[1]
    d = big[0]
    # round 1: one dropout, recovered; round 2: it is gone; round 3: all others
    m.play_round({a: m.random_update() for a in dos}, drop=[d])
    expect_revert(lambda: m.tx("withdraw", sender=owner), "nothing to withdraw")
    for a in dos:
        if a != d:
            assert m.call("balance_of", a) == REWARD
    m.tx("withdraw", sender=dos[1] if dos[1] != d else dos[2])  # earnings any time
    m.play_round({a: m.random_update() for a in dos if a != d}, absent=[d])
    expect_revert(lambda: m.tx("withdraw", sender=owner), "nothing to withdraw")
    m.play_round({a: m.random_update() for a in dos if a != d}, absent=[d])
    assert m.call("phase") == 2
    escrow = REWARD * 7 * 3
    paid = REWARD * 6 * 3
    assert m.c.events("Closed")[0]["escrow_returned"] == escrow - paid
    for a in dos:
        m.tx("withdraw", sender=a) if a != d else expect_revert(lambda: m.tx("withdraw", sender=a), "nothing")
        want = -DEPOSIT if a == d else 3 * REWARD
        assert chain.balance(a) - start[a] == want, a
    m.tx("withdraw", sender=owner)
    assert chain.balance(owner) - start[owner] == escrow - paid + DEPOSIT  # unspent escrow plus the forfeit
    assert chain.balance(m.c.address) == 0


def test_withdraw_reentrancy(env):
    """A DO contract that re-enters withdraw when paid gets its deposit once."""
    chain, accounts, books = env
    owner, dos = accounts[0], accounts[1:3]
    art = compile_file("test/hostile_receiver.vy", "HostileReceiver")
    hostile, _ = deploy(chain, art.abi, art.bytecode, sender=accounts[5])
    m = Market(chain, owner, dos, books, min_dos=4)
    register = m.c.abi.encode_call("register", (keccak(text="h"),))[1]
    withdraw = m.c.abi.encode_call("withdraw", ())[1]
    hostile.transact("act", m.c.address, register, DEPOSIT, sender=accounts[5], value=DEPOSIT)
    m.register_all()
    goto(chain, m.call("register_deadline"))
    m.tx("start", sender=owner)
    assert m.call("phase") == 4  # 3 < min_dos: FAILED, everyone refundable
    # a receiver that refuses payment cannot withdraw, and keeps its claim
    hostile.transact("configure", 1, m.c.address, b"", 0, sender=accounts[5])
    expect_revert(lambda: hostile.transact("act", m.c.address, withdraw, 0, sender=accounts[5]), "transfer failed")
    assert m.call("balance_of", hostile.address) == DEPOSIT
    # one that re-enters withdraw when paid gets its deposit exactly once
    hostile.transact("configure", 2, m.c.address, withdraw, 0, sender=accounts[5])
    hostile.transact("act", m.c.address, withdraw, 0, sender=accounts[5])
    assert hostile.call("attempts") == 1 and hostile.call("successes") == 0
    assert hostile.call("received") == DEPOSIT and m.call("balance_of", hostile.address) == 0
    books.check()
    assert chain.balance(m.c.address) == 2 * DEPOSIT + REWARD * 6 * 2


def test_fast_chain_smoke():
    chain = FastLocalChain()
    accounts = ensure_accounts(chain, 8)
    books = Books(chain)
    m = Market(chain, accounts[0], accounts[1:7], books, rounds=2)
    m.register_all()
    m.start()
    groups = m.groups()
    d = groups[1][2]
    updates = {a: m.random_update() for a in accounts[1:7]}
    m.play_round(updates, drop=[d])
    out = m.play_round({a: m.random_update() for a in accounts[1:7] if a != d}, absent=[d])
    assert m.call("phase") == 2 and m.c.events("RoundFinalized", out["finalize"].logs)[0]["kept"] == 0b11
    for a in accounts[1:7]:
        if m.call("balance_of", a):
            m.tx("withdraw", sender=a)
    m.tx("withdraw", sender=accounts[0])
    assert chain.balance(m.c.address) == 0 and books.checks > 10


def test_gas_report(env, capsys):
    """Prints (does not assert) the gas of each step for a typical task."""
    chain, accounts, _ = env
    owner, dos = accounts[0], accounts[1:13]
    m = Market(chain, owner, dos, max_dos=12, min_dos=12, group_size=3, threshold=2, byzantine_groups=1, rounds=1, n_params=912)
    reg = m.register_all()
    st = m.start()
    groups = m.groups()
    d = groups[0][0]
    out = m.play_round({a: m.random_update() for a in dos}, drop=[d])
    sub = list(out["submit"].values())
    art = artifact()
    with capsys.disabled():
        print(
            f"\n[data market gas] 12 DOs, 4 groups of 3, n_params 912, f=1, runtime {len(art.runtime_bytecode)} bytes:"
            f" register {reg[1].gas_used}, start {st.gas_used}, post_keys {next(iter(out['keys'].values())).gas_used},"
            f" submit first/other {sub[0].gas_used}/{sub[1].gas_used}, recover {out['recover'][d].gas_used},"
            f" finalize {out['finalize'].gas_used}"
        )
    assert len(art.runtime_bytecode) <= 24_576
