"""End-to-end proof of the data market's four guarantees (OmniLytics) through the
real agents, client and contract.

Every test runs a whole task in process: the contract on an embedded chain
(``FastLocalChain``, or the exact ``LocalChain`` where it is cheap enough), the
public part in an in-memory blob store, :class:`DataOwnerAgent` /
:class:`OwnerAgent` driven by :func:`run_in_process` (a virtual clock that
jumps to the next deadline when nobody can act). Data owners' updates are
synthetic (``DataOwnerConfig.update_fn``) and recorded, so the test knows
each DO's true quantised update and can compare it with what went on chain.

1. Model security: DOs never receive the private head (nothing published,
   sent or logged contains its float32 bytes).
2. Data security: what a DO submits is masked (uniform-looking, unrelated to
   its update), yet the group sums are exact, with and without dropouts.
3. Share guard: nobody reveals (client) or can publish (contract) a share of a
   member that submitted.
4. Robustness: with 20% malicious DOs, Multi-Krum drops their groups and
   they are never paid; without the rule they are kept.
5. Payment: the MO cannot evade paying once it deployed; DOs alone run and
   close the task and withdraw exactly what they earned.
6. A DO (or a whole group) that disappears cannot block finalisation.

Chains here have a zero gas price (checked), so ether balances move by
exactly the protocol's amounts.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
from eth_abi import decode

from ledgerlearn.chain.base import TxRequest
from ledgerlearn.chain.fast import FastLocalChain
from ledgerlearn.chain.local import LocalChain
from ledgerlearn.errors import TransactionReverted, ValidationError
from ledgerlearn.markets.data import robust, secagg
from ledgerlearn.markets.data.agents import DataOwnerAgent, DataOwnerConfig, OwnerAgent, round_context, run_in_process
from ledgerlearn.markets.data.blobstore import BlobStore, decode_public_part, encode_public_part
from ledgerlearn.markets.data.client import CLOSED, REGISTRATION, ROUNDS, DataMarketTask, TaskParams
from ledgerlearn.markets.data.model import FineTuning, LocalTraining, OwnerModel, architecture
from ledgerlearn.markets.data.packing import Q_BITS, Q_MASK, decode_sum, quantise, unpack_words
from ledgerlearn.markets.data.scenario import fund_accounts

torch.set_num_threads(1)

REWARD = 10**15
DEPOSIT = 3 * 10**15
Q_SCALE = 1000
Q_CLIP = 100_000
NO_X = np.zeros((0, 28, 28), dtype=np.uint8)
NO_Y = np.zeros(0, dtype=np.int64)

UpdateFn = Callable[[int, str, int, np.ndarray], np.ndarray]


# --------------------------------------------------------------------------- harness


class Recorder:
    """Wraps ``chain.send``: keeps every transaction's calldata and receipt, and
    the raw group accumulators right before each ``finalize`` is sent."""

    def __init__(self, chain):
        self.chain = chain
        self.task: DataMarketTask | None = None
        self.calldata: list[bytes] = []
        self.txs: list[tuple[TxRequest, object]] = []
        #: round -> group -> (group_round, raw accumulator words), read just before finalize
        self.before_finalize: dict[int, dict[int, tuple[int, list[int]]]] = {}
        self.books_checked = 0
        self._send = chain.send
        chain.send = self.send

    def selector(self, name: str) -> bytes:
        return self.task.contract.abi.functions[name][0].selector

    def _to_task(self, tx: TxRequest) -> bool:
        return self.task is not None and tx.to is not None and tx.to.lower() == self.task.address.lower()

    def send(self, tx: TxRequest):
        self.calldata.append(bytes(tx.data))
        if self._to_task(tx) and tx.data[:4] == self.selector("finalize"):
            t = self.task
            self.before_finalize[t.current_round()] = {
                g: (t.call("group_round", g), list(t.call("group_sum", g))) for g in range(t.group_count())
            }
        receipt = self._send(tx)
        self.txs.append((tx, receipt))
        if self._to_task(tx):
            # the money invariant of the contract, after every transaction it accepted
            c = self.task
            held = c.call("escrow_left") + c.call("owner_pot") + c.call("dos_owed")
            assert self.chain.balance(c.address) == held, "contract balance != escrow_left + owner_pot + dos_owed"
            self.books_checked += 1
        return receipt

    def decoded(self, name: str) -> list[tuple[str, tuple]]:
        """(sender, decoded arguments) of every sent call of ``name`` to the task."""
        fn = self.task.contract.abi.functions[name][0]
        return [
            (tx.sender, decode(list(fn.inputs), tx.data[4:]))
            for tx, _ in self.txs
            if self._to_task(tx) and tx.data[:4] == fn.selector
        ]


@dataclass
class Market:
    chain: object
    task: DataMarketTask
    blobs: BlobStore
    blob_key: str
    mo: str
    dos: list[str]
    agents: list[DataOwnerAgent]
    owner: OwnerAgent
    rec: Recorder
    #: (DO, round) -> the float update its agent computed (and then quantised, masked, submitted)
    updates: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)

    @property
    def params(self) -> TaskParams:
        return self.task.params()

    def agent(self, address: str) -> DataOwnerAgent:
        return self.agents[self.dos.index(address)]

    def q(self, address: str, round_: int) -> np.ndarray:
        """The true quantised update of ``address`` in ``round_`` (what the masks hide)."""
        return quantise(self.updates[(address, round_)], Q_SCALE, Q_CLIP)

    def start(self) -> None:
        """The owner agent starts the task (it is full) and groups are drawn."""
        assert self.owner.step()
        assert self.task.phase() == ROUNDS

    def steps(self, exclude: set[str] = frozenset(), owner: bool = True) -> list[Callable[[], bool]]:
        out = [self.owner.step] if owner else []
        return out + [a.step for a in self.agents if a.me not in exclude]

    def run(self, exclude: set[str] = frozenset(), owner: bool = True) -> None:
        run_in_process(self.task, self.steps(exclude, owner))

    def groups(self) -> list[list[str]]:
        return [self.task.group_members(g) for g in range(self.task.group_count())]

    def group_of(self, address: str) -> int:
        return next(g for g, members in enumerate(self.groups()) if address in members)

    def submitters(self, round_: int) -> dict[str, int]:
        """DO -> group, from the round's ``Submitted`` events."""
        return {ev["member"]: ev["group"] for ev in self.task.contract.events("Submitted") if ev["round"] == round_}

    def events(self, name: str, round_: int | None = None) -> list[dict]:
        return [ev for ev in self.task.contract.events(name) if round_ is None or ev["round"] == round_]


def default_update(i: int, address: str, r: int, public: np.ndarray) -> np.ndarray:
    """Small positive multiples of 1/Q_SCALE: the quantised update is exact and never negative."""
    rng = np.random.default_rng(1000 * r + i)
    return rng.integers(0, 50, public.size) / Q_SCALE


def build_task(
    n_dos: int,
    *,
    chain=None,
    n_params: int = 32,
    rounds: int = 2,
    group_size: int = 3,
    threshold: int = 2,
    byzantine_groups: int = 0,
    update: UpdateFn = default_update,
    public: np.ndarray | None = None,
    arch: str = "small",
    evaluate: Callable[[np.ndarray], float] | None = None,
    register: bool = True,
) -> Market:
    """A task wired as ``scenario.run_scenario`` does it, with synthetic, recorded DO updates.

    ``max_dos == n_dos`` so the task is full (startable) once everybody registered.
    """
    chain = chain if chain is not None else LocalChain()
    blobs = BlobStore(f"memory://ledgerlearn-guarantees-{uuid.uuid4().hex}")
    mo = chain.accounts[0]
    dos = fund_accounts(chain, n_dos, funder=mo, amount=10**20)
    public = np.zeros(n_params, dtype=np.float32) if public is None else public
    key = blobs.put(encode_public_part(arch, public))
    params = TaskParams(
        public_part_uri=blobs.uri(key), public_part_hash=bytes.fromhex(key[2:]), n_params=public.size,
        q_scale=Q_SCALE, q_clip=Q_CLIP, head_seed=1, max_dos=n_dos, min_dos=group_size, reward=REWARD,
        deposit=DEPOSIT, rounds=rounds, group_size=group_size, threshold=threshold, byzantine_groups=byzantine_groups,
    )  # fmt: skip
    rec = Recorder(chain)
    task = DataMarketTask.create(chain, owner=mo, params=params)
    rec.task = task
    updates: dict[tuple[str, int], np.ndarray] = {}

    def make_fn(i: int, address: str):
        def fn(r: int, pub: np.ndarray) -> np.ndarray:
            u = np.asarray(update(i, address, r, pub), dtype=np.float64)
            assert (address, r) not in updates, "an agent computed its update twice in one round"
            updates[(address, r)] = u
            return u

        return fn

    agents = [
        DataOwnerAgent(task, a, NO_X, NO_Y, blobs=blobs, config=DataOwnerConfig(update_fn=make_fn(i, a), seed=i))
        for i, a in enumerate(dos)
    ]
    owner = OwnerAgent(task, mo, blobs=blobs, evaluate=evaluate)
    market = Market(chain, task, blobs, key, mo, dos, agents, owner, rec, updates)
    if register:
        for agent in agents:
            agent.register()
    return market


def blob_keys(blobs: BlobStore) -> set[str]:
    root = blobs.fs._strip_protocol(blobs.url)
    return {p.rsplit("/", 1)[-1] for p in blobs.fs.find(root)}


def top_bit_frequency(lanes: np.ndarray) -> float:
    return float(np.mean((np.asarray(lanes) >> (Q_BITS - 1)) & 1))


# --------------------------------------------------------------------------- 1. model security


def test_model_security_dos_never_receive_the_private_head():
    arch = architecture("small")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 64)
    x_test, y_test = rng.integers(0, 256, (32, 28, 28), dtype=np.uint8), rng.integers(0, 10, 32)
    model = OwnerModel(
        "small", x, y, seed=3,
        training=LocalTraining(epochs=2, batch_size=16, head_lr=1.0, local_classes_only=False),
        fine_tuning=FineTuning(steps=20),
    )  # fmt: skip
    initial = model.fit_initial()
    head_before = model.head_state()
    evaluated: list[np.ndarray] = []

    def evaluate(public: np.ndarray) -> float:
        evaluated.append(public)
        model.fine_tune(public)
        return model.accuracy(x_test, y_test)

    def update(i, address, r, public):
        return np.random.default_rng(100 * r + i).normal(0, 0.01, public.size)

    m = build_task(6, public=initial, arch="small", update=update, evaluate=evaluate)
    keys_published = blob_keys(m.blobs)
    m.run()
    assert m.task.phase() == CLOSED
    head_after = model.head_state()  # fine_tune fitted a fresh private head

    # (a) the only blob is the public part: exactly n_public values, the owner's public vector
    assert keys_published == {m.blob_key}
    name, vec = decode_public_part(m.blobs.get(m.blob_key))
    assert name == "small"
    assert vec.size == arch.n_public == 912
    np.testing.assert_array_equal(vec, initial)
    assert m.params.public_part_hash == bytes.fromhex(m.blob_key[2:])
    # DOs trained on exactly that vector (the tracker checks the hash against the task)
    np.testing.assert_array_equal(m.agents[0].public.parts[0], initial)

    # (c) the owner's fine-tuning after each round published nothing
    assert len(evaluated) == 2 and all(r.accuracy is not None for r in m.owner.reports)
    assert blob_keys(m.blobs) == keys_published

    # (b) nothing a DO can see holds the head: blobs, calldata, log data and topics
    seen = [m.blobs.get(k) for k in blob_keys(m.blobs)]
    seen += m.rec.calldata
    seen += [log.data for log in m.chain.get_logs()] + [t for log in m.chain.get_logs() for t in log.topics]
    haystack = b"|".join(seen)
    assert any(tx.data[:4] == m.rec.selector("submit") for tx, _ in m.rec.txs)

    def windows(raw: bytes) -> list[bytes]:
        ws = [raw[i : i + 8] for i in range(0, len(raw) - 7, 4)]
        return [w for w in ws if w != bytes(8)]

    for state in (head_before, head_after):
        raw = b"".join(t.numpy().astype("<f4").tobytes() for t in state.values())
        assert len(raw) == 4 * arch.n_head
        ws = windows(raw)
        assert len(ws) == arch.n_head - 1  # every 4-byte-aligned 8-byte window
        leaked = [w.hex() for w in ws if w in haystack]
        assert not leaked, f"{len(leaked)} 8-byte windows of the private head are visible to DOs"
    # positive control: the same search finds the public part, which IS published
    pub_ws = windows(initial.astype("<f4").tobytes())
    assert all(w in haystack for w in pub_ws[::50])


# --------------------------------------------------------------------------- 2. data security


@pytest.mark.parametrize("dropouts", [False, True], ids=["no-dropout", "one-dropout-per-group"])
def test_data_security_masked_submissions_exact_group_sums(dropouts):
    n_params = 256
    m = build_task(6, n_params=n_params, rounds=2, group_size=3, threshold=2)
    m.start()
    groups = m.groups()
    assert [len(g) for g in groups] == [3, 3]
    dropped = {g[0] for g in groups} if dropouts else set()
    for d in dropped:
        m.agent(d).config.drop_round = 1
    m.run()
    assert m.task.phase() == CLOSED

    # what each DO sent in `submit` is not its update and looks uniform modulo 2**24
    subs = m.rec.decoded("submit")
    assert len(subs) == 2 * (6 - len(dropped))  # a dropped member is inactive afterwards
    all_lanes = []
    for sender, (round_, words, _commits) in subs:
        lanes = unpack_words(list(words), n_params)
        q = m.q(sender, round_)
        assert q.min() >= 0 and top_bit_frequency(q & Q_MASK) == 0.0  # the true update never sets the top bit
        assert int(np.sum(lanes == (q & Q_MASK))) <= 2, "masked lanes equal the true update"
        assert lanes.max() <= Q_MASK  # 24-bit lanes, no carries
        assert 0.3 <= top_bit_frequency(lanes) <= 0.7
        all_lanes.append(lanes)
    assert 0.45 <= top_bit_frequency(np.concatenate(all_lanes)) <= 0.55
    # two members' submissions in one group are unrelated too
    assert not np.array_equal(all_lanes[0], all_lanes[1])

    # ... yet each group sum the contract holds (read right before finalize) is exact
    for r in (1, 2):
        subs_r = m.submitters(r)
        assert set(subs_r).isdisjoint(dropped)
        assert len(subs_r) == 6 - len(dropped)
        snap = m.rec.before_finalize[r]
        sums, counts = {}, {}
        for g in range(2):
            members = [a for a, gg in subs_r.items() if gg == g]
            expected = sum(m.q(a, r) for a in members)
            group_round, words = snap[g]
            assert group_round == r
            np.testing.assert_array_equal(decode_sum(words, n_params), expected)
            sums[g], counts[g] = expected, len(members)
        # and the published aggregate is exactly robust.py's on the true sums
        (res,) = [x for x in m.task.results() if x.round == r]
        outcome = robust.finalize_round(sums, counts, 0, n_params)
        assert (res.valid, res.kept) == (outcome.valid, outcome.kept) == (0b11, 0b11)
        assert res.aggregate_words == outcome.words
        assert m.task.call("aggregate_hash", r) == outcome.hash

    recovered = m.events("Recovered", 1)
    assert {ev["dropped"] for ev in recovered} == dropped
    assert sorted(ev["group"] for ev in recovered) == ([0, 1] if dropouts else [])
    reveals = m.events("ShareRevealed")
    assert len(reveals) == 2 * len(dropped)  # both other members of each group, round 1 only
    for ev in reveals:
        assert ev["round"] == 1 and ev["dropped"] in dropped
        assert ev["member"] != ev["dropped"]
        assert m.group_of(ev["member"]) == m.group_of(ev["dropped"])
        assert ev["member"] in m.submitters(1)
    if dropouts:
        assert set(m.task.forfeited(1)) == dropped
        assert all(m.task.call("deposit_held", d) == 0 for d in dropped)
        # no update of a dropped member ever existed, so none was exposed
        assert all((d, r) not in m.updates for d in dropped for r in (1, 2))


# --------------------------------------------------------------------------- 3. share guard


def test_share_guard_refuses_to_reveal_a_submitter_share():
    chain = LocalChain()  # exact py-evm
    m = build_task(6, chain=chain, n_params=16, rounds=1, group_size=3, threshold=2)
    m.start()
    g0 = m.groups()[0]
    d, u, v = g0  # d drops (keeps the round open for recovery), u and v submit
    m.agent(d).config.drop_round = 1
    steps = m.steps(owner=False)
    while any([s() for s in steps]):  # keys and submissions, no time moves
        pass
    assert set(m.submitters(1)) == set(m.dos) - {d}
    # into the recovery phase, before anyone acts there
    t = m.task
    chain.advance_time(t.call("submit_deadline") - chain.timestamp())  # the next block's time
    assert t.call("submit_deadline") <= t.now() < t.call("recover_deadline")

    ctx = round_context(t, 1)
    mv = t.member(v)
    facts = secagg.DropFacts(
        dropped=u, same_group=True, keyed=t.member(u).keyed, submitted=t.member(u).submitted, submit_closed=True
    )
    assert facts.submitted
    with pytest.raises(ValidationError, match="submitted"):
        secagg.check_reveal(facts)
    with pytest.raises(ValidationError, match="submitted"):
        secagg.share_to_reveal(
            facts, me=v, my_slot=mv.slot, my_enc_key=m.agent(v).keys.enc_key,
            dropped_enc_pk=t.enc_key(u), blob_from_dropped=t.shares_blob(1, u), ctx=ctx,
        )  # fmt: skip

    # bypassing the client guard with v's real share of u: the contract refuses it
    real_share = secagg.decrypt_share(
        m.agent(v).keys.enc_key, t.enc_key(u), ctx, u, v, secagg.share_from_blob(t.shares_blob(1, u), mv.slot)
    )
    balances = {a: chain.balance(a) for a in [m.mo, *m.dos, t.address]}
    owed = {a: t.balance_of(a) for a in [m.mo, *m.dos]}
    block, n_logs = chain.block_number, len(chain.get_logs())
    with pytest.raises(TransactionReverted, match="submitted") as exc:
        t.reveal_share(1, u, real_share, sender=v)
    assert "submitted" in exc.value.reason
    assert (chain.block_number, len(chain.get_logs())) == (block, n_logs)
    assert m.events("ShareRevealed") == []
    assert {a: chain.balance(a) for a in balances} == balances
    assert {a: t.balance_of(a) for a in owed} == owed

    # the agent itself only ever reveals for the member that did not submit
    assert m.agent(v)._reveal(1, mv)
    assert [(ev["dropped"], ev["member"]) for ev in m.events("ShareRevealed")] == [(d, v)]
    m.run(exclude={d})
    assert t.phase() == CLOSED
    reveals = {(ev["dropped"], ev["member"]) for ev in m.events("ShareRevealed")}
    assert reveals == {(d, v), (d, u)}
    assert [ev["dropped"] for ev in m.events("Recovered")] == [d]


# --------------------------------------------------------------------------- 4. robustness

#: (group_size, byzantine_groups, where the 4 malicious DOs sit: (group, member index, attack)).
#: 20 DOs, 4 malicious (20%). Groups of 2: 10 groups, each malicious DO in its own group (the
#: spread that poisons the most groups), f = 4. Groups of 3: 6 groups (two of 4 members), the
#: malicious DOs in 3 groups, f = 3 (the most this many groups allow).
LAYOUTS = {
    "groups-of-2": (2, 4, [(0, 0, "sign_flip"), (3, 1, "noise"), (6, 1, "sign_flip"), (9, 0, "noise")]),
    "groups-of-3": (3, 3, [(0, 0, "sign_flip"), (0, 3, "sign_flip"), (1, 1, "noise"), (2, 2, "noise")]),
}
LAYOUT_PARAMS = [
    pytest.param("groups-of-2", id="groups-of-2"),
    pytest.param("groups-of-3", id="groups-of-3"),
]


def _byzantine_market(layout: str, byzantine_groups: int):
    """Honest updates: a common direction plus small noise. Attacks: -10 x the honest
    direction (sign flip) or large Gaussian noise. Roles are handed out once the groups are
    drawn (the update function reads them at submit time)."""
    group_size, _, placement = LAYOUTS[layout]
    n_params = 64
    direction = np.random.default_rng(42).uniform(-1, 1, n_params)
    roles: dict[str, str] = {}

    def update(i, address, r, public):
        rng = np.random.default_rng(10_000 * r + i)
        kind = roles.get(address)
        if kind == "sign_flip":
            return -10.0 * direction
        if kind == "noise":
            return rng.normal(0.0, 10.0, n_params)
        return direction + rng.normal(0.0, 0.05, n_params)

    m = build_task(
        20, chain=FastLocalChain(), n_params=n_params, rounds=2, group_size=group_size, threshold=2,
        byzantine_groups=byzantine_groups, update=update,
    )  # fmt: skip
    m.start()
    groups = m.groups()
    assert len(groups) == 20 // group_size
    for g, k, kind in placement:
        roles[groups[g][k]] = kind
    m.run()
    assert m.task.phase() == CLOSED
    bad = set(roles)
    assert len(bad) == 4
    assert all(m.q(a, 1).max() < Q_CLIP for a in bad)  # not clipped: full strength
    return m, bad, {g for g, _, _ in placement}


def _check_selection_matches_robust(m, r: int, f: int):
    """The contract's valid/kept sets and aggregate equal robust.py's on the sums it held."""
    (res,) = [x for x in m.task.results() if x.round == r]
    subs = m.submitters(r)
    snap = m.rec.before_finalize[r]
    sums, counts = {}, {}
    for g in range(m.task.group_count()):
        members = [a for a, gg in subs.items() if gg == g]
        assert snap[g][0] == r
        sums[g] = decode_sum(snap[g][1], m.params.n_params)
        np.testing.assert_array_equal(sums[g], sum(m.q(a, r) for a in members))
        counts[g] = len(members)
    outcome = robust.finalize_round(sums, counts, f, m.params.n_params)
    assert (res.valid, res.kept, res.aggregate_words) == (outcome.valid, outcome.kept, outcome.words)
    return res


@pytest.mark.parametrize("layout", LAYOUT_PARAMS)
def test_robustness_multi_krum_filters_20_percent_malicious(layout):
    f = LAYOUTS[layout][1]
    m, bad, bad_groups = _byzantine_market(layout, byzantine_groups=f)
    groups = m.groups()
    assert bad_groups == {g for g, members in enumerate(groups) if bad & set(members)}
    n_groups = len(groups)
    for r in (1, 2):
        res = _check_selection_matches_robust(m, r, f)
        assert res.valid == (1 << n_groups) - 1
        assert len(res.groups("kept")) == n_groups - f
        assert bad_groups.isdisjoint(res.groups("kept")), f"round {r}: a malicious group was kept"
        paid = m.task.paid(r)
        assert bad.isdisjoint(paid)
        assert set(paid) == {a for g in res.groups("kept") for a in groups[g]}
        assert set(paid.values()) == {REWARD}
    # rejected, not slashed: the malicious DOs only ever got their own deposit back
    withdrawn = {ev["who"]: ev["amount"] for ev in m.task.contract.events("Withdrawn")}
    for a in bad:
        assert m.task.call("earned", a) == 0
        assert withdrawn[a] == DEPOSIT


@pytest.mark.parametrize("layout", LAYOUT_PARAMS)
def test_robustness_without_multi_krum_keeps_malicious_groups(layout):
    m, bad, bad_groups = _byzantine_market(layout, byzantine_groups=0)
    n_groups = len(m.groups())
    for r in (1, 2):
        res = _check_selection_matches_robust(m, r, 0)
        assert res.kept == res.valid == (1 << n_groups) - 1
        assert bad_groups <= set(res.groups("kept"))
        paid = m.task.paid(r)
        assert bad <= set(paid)
        assert set(paid) == set(m.dos) and set(paid.values()) == {REWARD}


# --------------------------------------------------------------------------- 5. payment


def test_payment_cannot_be_evaded_by_the_model_owner():
    chain = LocalChain()  # exact py-evm
    m = build_task(6, chain=chain, n_params=16, rounds=2, group_size=3, threshold=2, register=False)
    t, mo, p = m.task, m.mo, m.params
    escrow = REWARD * 6 * 2
    assert p.escrow == escrow and chain.balance(t.address) == escrow
    mo_after_deploy = chain.balance(m.mo)
    before = {a: chain.balance(a) for a in m.dos}
    for agent in m.agents:
        agent.register()
    assert chain.balance(t.address) == escrow + 6 * DEPOSIT

    # the MO never acts again; DO agents alone cannot start (see report), a DO's client does
    assert t.phase() == REGISTRATION
    t.start(sender=m.dos[0])
    assert t.phase() == ROUNDS
    with pytest.raises(TransactionReverted, match="only during registration"):
        t.cancel(sender=mo)
    with pytest.raises(TransactionReverted, match="nothing to withdraw"):  # no escrow back while running
        t.withdraw(sender=mo)
    dropper = m.groups()[1][0]
    m.agent(dropper).config.drop_round = 1
    m.run(owner=False)
    assert t.phase() == CLOSED
    with pytest.raises(TransactionReverted, match="only during registration") as exc:
        t.cancel(sender=mo)
    assert "cancel" in exc.value.reason

    assert all(receipt.effective_gas_price == 0 for _, receipt in m.rec.txs)
    paid = {a: sum(t.paid(r).get(a, 0) for r in (1, 2)) for a in m.dos}
    assert paid[dropper] == 0 and all(paid[a] == 2 * REWARD for a in m.dos if a != dropper)
    assert t.forfeited(1) == {dropper: DEPOSIT}
    for a in m.dos:
        # deposit out and back (except the forfeited one), plus exactly the rewards earned
        assert chain.balance(a) - before[a] == paid[a] - (DEPOSIT if a == dropper else 0)
        assert t.balance_of(a) == 0 and t.call("deposit_held", a) == 0 and t.call("earned", a) == 0
    assert chain.balance(mo) == mo_after_deploy  # the MO sent nothing after the deploy

    # the contract keeps exactly the MO's pot: unspent escrow plus the forfeit
    pot = escrow - sum(paid.values()) + DEPOSIT
    assert pot == 2 * REWARD + DEPOSIT
    assert chain.balance(t.address) == pot == t.call("owner_pot") == t.balance_of(mo)
    assert (t.call("escrow_left"), t.call("dos_owed")) == (0, 0)
    for who in (m.dos[1], dropper, chain.accounts[-1]):
        with pytest.raises(TransactionReverted, match="nothing to withdraw"):
            t.withdraw(sender=who)
    t.withdraw(sender=mo)
    assert chain.balance(mo) == mo_after_deploy + pot
    assert chain.balance(t.address) == 0


# --------------------------------------------------------------------------- 6. liveness


def test_vanished_dos_cannot_block_finalisation():
    m = build_task(9, n_params=16, rounds=2, group_size=3, threshold=2)
    t = m.task
    m.start()
    groups = m.groups()
    silent = groups[0][0]  # registered, never posts keys
    vanished = groups[1][0]  # posts keys in round 1, then disappears
    m.agent(vanished).config.drop_round = 1
    m.run(exclude={silent})
    assert t.phase() == CLOSED

    assert t.call("keyed_round", silent) == 0 and t.call("submitted_round", silent) == 0
    for r in (1, 2):
        res = t.results()[r - 1]
        assert res.kept == res.valid == 0b111  # every group counts, the vanished one's through recovery
        assert silent not in t.paid(r) and vanished not in t.paid(r)
        assert set(t.paid(r)) == set(m.dos) - {silent, vanished}
    assert [ev["dropped"] for ev in m.events("Recovered")] == [vanished]
    assert t.forfeited(1) == {vanished: DEPOSIT} and t.forfeited(2) == {}
    assert t.call("deposit_held", vanished) == 0 and not t.call("is_active", vanished)
    # an absent member is just not paid: it keeps its deposit
    assert t.balance_of(silent) == DEPOSIT
    # the MO's pot: unspent escrow plus the forfeited deposit (withdrawn by the owner agent)
    paid_total = sum(sum(t.paid(r).values()) for r in (1, 2))
    assert paid_total == 2 * 7 * REWARD
    w = [ev for ev in t.contract.events("Withdrawn") if ev["who"] == m.mo]
    assert [ev["amount"] for ev in w] == [REWARD * 9 * 2 - paid_total + DEPOSIT]


def test_a_whole_group_vanishing_cannot_block_finalisation():
    m = build_task(9, n_params=16, rounds=2, group_size=3, threshold=2)
    t = m.task
    m.start()
    groups = m.groups()
    silent = set(groups[0])  # all silent from registration on
    for a in groups[1]:  # all post keys in round 1, then vanish
        m.agent(a).config.drop_round = 1
    m.run(exclude=silent)
    assert t.phase() == CLOSED

    started = {ev["round"]: ev for ev in t.contract.events("RoundStarted")}
    finalized = {ev["round"]: ev for ev in t.contract.events("RoundFinalized")}
    # round 1: group 1 never settles (nobody left to reveal), finalize waits for the recovery deadline
    ts1 = m.chain.receipt(finalized[1]["_log"].tx_hash).timestamp
    assert ts1 >= started[1]["recover_deadline"]
    assert (finalized[1]["valid"], finalized[1]["kept"]) == (0b100, 0b100)
    assert set(t.paid(1)) == set(groups[2])
    assert t.forfeited(1) == {a: DEPOSIT for a in groups[1]}
    assert m.events("Recovered") == [] and m.events("ShareRevealed") == []
    # round 2: the silent group's roster closes at the keys deadline; the rest settle then
    ts2 = m.chain.receipt(finalized[2]["_log"].tx_hash).timestamp
    assert started[2]["keys_deadline"] <= ts2 < started[2]["recover_deadline"]
    assert (finalized[2]["valid"], finalized[2]["kept"]) == (0b100, 0b100)
    assert set(t.paid(2)) == set(groups[2]) and t.forfeited(2) == {}
    for a in silent:
        assert t.balance_of(a) == DEPOSIT and t.call("is_active", a)
    for a in groups[1]:
        assert t.balance_of(a) == 0 and t.call("group_active", 1) == 0


def test_do_agents_alone_start_the_task():
    """The model owner vanishes right after paying the escrow: data owners start the task themselves."""
    m = build_task(6, n_params=8, rounds=1, group_size=3, threshold=2)
    m.run(owner=False)
    assert m.task.phase() == CLOSED
