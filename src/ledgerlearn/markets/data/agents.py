"""The two roles of the data market as agents that only read the chain and the blob store.

An agent's :meth:`step` looks at the task's state and sends whatever its role
owes in the current phase (at most a few transactions), so the same agent
runs inside one process (:func:`run_in_process`, the demo and the benchmark)
or as its own process polling a shared chain (``ledgerlearn market data
serve-owner`` / ``join``). Agents keep no state the chain cannot rebuild
except their own secrets (keys) and data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ledgerlearn.errors import LedgerlearnError, TransactionReverted
from ledgerlearn.markets.data import secagg
from ledgerlearn.markets.data.blobstore import BlobStore, decode_public_part
from ledgerlearn.markets.data.client import CANCELLED, CLOSED, FAILED, REGISTRATION, ROUNDS, DataMarketTask
from ledgerlearn.markets.data.model import DEFAULT_TRAINING, LocalTraining, apply_aggregate, local_update
from ledgerlearn.markets.data.packing import pack_words, quantise

TERMINAL = (CLOSED, CANCELLED, FAILED)


def round_context(task: DataMarketTask, round_: int) -> secagg.RoundContext:
    return secagg.RoundContext(chain_id=task.chain.chain_id, task=task.address, round=round_)


class PublicPartTracker:
    """The public part after each finalised round, rebuilt from the blob store and the chain.

    Round 0 is the model owner's initial blob (checked against the hash the
    task records); round r adds the aggregate of the ``RoundFinalized`` event.
    """

    def __init__(self, task: DataMarketTask, blobs: BlobStore):
        self.task = task
        params = task.params()
        arch, vec = decode_public_part(blobs.get("0x" + params.public_part_hash.hex()))
        if vec.size != params.n_params:
            raise LedgerlearnError(f"public part: the blob has {vec.size} parameters, the task declares {params.n_params}")
        self.arch = arch
        self.parts = [vec]
        self.results = []

    def latest(self) -> np.ndarray:
        """The public part for the current round (after every finalised round)."""
        params = self.task.params()
        results = self.task.results()
        for res in results[len(self.results) :]:
            self.parts.append(apply_aggregate(self.parts[-1], res.update(params.n_params, params.q_scale)))
            self.results.append(res)
        return self.parts[-1]


def try_recover(task: DataMarketTask, round_: int, *, sender: str) -> int:
    """Recover every dropped roster member whose revealed shares reach the threshold.

    Anyone may do this (the shares are public once revealed); returns the
    number of recoveries sent.
    """
    if task.now() < task.call("submit_deadline"):
        return 0
    params = task.params()
    ctx = round_context(task, round_)
    sent = 0
    for g in range(task.group_count()):
        state = task.group_state(g)
        submitters = {m.address: m.mask_pk for m in state if m.submitted}
        slots = {m.address: m.slot for m in state}
        for d in state:
            if not d.keyed or d.submitted or d.recovered:
                continue
            revealed = task.revealed_shares(round_, d.address)
            if len(revealed) < params.threshold:
                continue
            shares = {slots[a]: s for a, s in revealed.items() if a in slots}
            try:
                key = secagg.combine_mask_key(shares, d.mask_pk, params.threshold)
            except LedgerlearnError:
                continue  # not enough good shares yet
            seeds = secagg.recovery_seeds(key, d.address, submitters, slots, len(state), ctx)
            try:
                task.recover(round_, d.address, seeds, sender=sender)
                sent += 1
            except TransactionReverted:
                pass  # another agent was first
    return sent


def try_start(task: DataMarketTask, *, sender: str) -> bool:
    """Start the task once registration is full or its deadline passed (anyone may)."""
    if task.phase() != REGISTRATION:
        return False
    full = task.call("registered_count") >= task.params().max_dos
    if not full and task.now() < task.call("register_deadline"):
        return False
    try:
        task.start(sender=sender)
        return True
    except TransactionReverted:
        return False  # another agent was first


def try_finalize(task: DataMarketTask, *, sender: str) -> bool:
    if task.phase() != ROUNDS or not task.can_finalize():
        return False
    try:
        task.finalize(sender=sender)
        return True
    except TransactionReverted:
        return False  # another agent was first


@dataclass
class DataOwnerConfig:
    """How a data owner behaves: honestly, or with an attack, or dropping out."""

    attack: str | None = None
    attack_scale: float = 10.0
    #: Post keys in this round, then never submit (and stop acting).
    drop_round: int | None = None
    training: LocalTraining = field(default_factory=lambda: DEFAULT_TRAINING)
    seed: int = 0
    #: ``update_fn(round, public_part) -> float update`` replaces local training
    #: (benchmarks and tests that measure the protocol, not the model).
    update_fn: Callable[[int, np.ndarray], np.ndarray] | None = None


class DataOwnerAgent:
    """A data owner: registers, trains locally, masks, submits, helps recover, withdraws."""

    def __init__(
        self,
        task: DataMarketTask,
        account: str,
        x: np.ndarray,
        y: np.ndarray,
        *,
        blobs: BlobStore,
        keys_path: str | Path | None = None,
        config: DataOwnerConfig | None = None,
        log: Callable[[str], None] | None = None,
    ):
        self.task = task
        self.me = account
        self.x, self.y = x, y
        self.blobs = blobs
        self.keys_path = Path(keys_path) if keys_path is not None else None
        if self.keys_path is not None and self.keys_path.exists():
            self.keys = secagg.load_keys(self.keys_path, chain_id=task.chain.chain_id, task=task.address)
        else:
            self.keys = secagg.KeyStore(task.chain.chain_id, task.address, secagg.KeyPair.generate())
            self._save_keys()
        self.config = config or DataOwnerConfig()
        self.log = log or (lambda msg: None)
        self._public: PublicPartTracker | None = None
        self.gone = False

    @property
    def public(self) -> PublicPartTracker:
        if self._public is None:
            self._public = PublicPartTracker(self.task, self.blobs)
        return self._public

    def _save_keys(self) -> None:
        # Secrets reach the disk before their public halves reach the chain.
        if self.keys_path is not None:
            self.keys_path.parent.mkdir(parents=True, exist_ok=True)
            secagg.save_keys(self.keys_path, self.keys)

    def register(self) -> None:
        self.task.register(self.keys.enc_key.public, sender=self.me)
        self.log(f"registered {self.me}")

    def step(self) -> bool:
        """Do what the current phase asks of this data owner; True if a transaction was sent.

        Another process may move the task on between this agent's reads and
        its transaction; the contract then refuses it and the next step looks
        again.
        """
        if self.gone:
            return False
        try:
            return self._step()
        except TransactionReverted as exc:
            self.log(f"{self.me}: refused ({exc}); looking again")
            return False

    def _step(self) -> bool:
        phase = self.task.phase()
        if phase == REGISTRATION:
            # Not waiting for the model owner: it may have vanished after paying the escrow.
            return try_start(self.task, sender=self.me)
        if phase in TERMINAL:
            return self._withdraw()
        r = self.task.current_round()
        me = self.task.member(self.me)
        if not me.active:
            return self._withdraw()
        sent = False
        if not me.keyed and self.task.now() < self.task.call("keys_deadline"):
            self._post_keys(r, me.group)
            return True
        if me.keyed and self.config.drop_round == r:
            self.gone = True  # dropping out: keys posted, then nothing more
            self.log(f"round {r}: {self.me} drops out")
            return False
        if me.keyed and not me.submitted and self.task.now() < self.task.call("submit_deadline"):
            if self.task.roster_final(me.group):
                self._submit(r, me)
                return True
        sent |= self._reveal(r, me)
        sent |= try_recover(self.task, r, sender=self.me) > 0
        sent |= try_finalize(self.task, sender=self.me)
        return sent

    # ------------------------------------------------------------------ steps
    def _post_keys(self, r: int, group: int) -> None:
        ctx = round_context(self.task, r)
        mask = self.keys.mask_key(r)
        if r not in self.keys.blobs:  # after a restart: post the same blob again, never a fresh split
            members = {a: self.task.call("slot_of", a) for a in self.task.group_members(group)}
            enc_pks = {a: self.task.enc_key(a) for a in members}
            self.keys.blobs[r] = secagg.shares_blob(
                self.keys.enc_key, self.me, mask, members, enc_pks, self.task.params().threshold, ctx
            )
            self._save_keys()
        self.task.post_keys(r, mask.public, self.keys.blobs[r], sender=self.me)
        self.log(f"round {r}: {self.me} posted keys")

    def local_update(self, r: int) -> np.ndarray:
        """This data owner's float update of the public part for round ``r``."""
        params = self.task.params()
        if self.config.update_fn is not None:
            return np.asarray(self.config.update_fn(r, self.public.latest()), dtype=np.float64)
        return local_update(
            self.public.arch, self.public.latest(), params.head_seed, self.x, self.y, self.config.training,
            attack=self.config.attack, attack_scale=self.config.attack_scale, seed=self.config.seed * 1000 + r,
        )

    def _submit(self, r: int, me) -> None:
        params = self.task.params()
        ctx = round_context(self.task, r)
        state = self.task.group_state(me.group)
        roster = {m.address: m.mask_pk for m in state if m.keyed}
        slots = {m.address: m.slot for m in state}
        mask = self.keys.mask_key(r)
        q = quantise(self.local_update(r), params.q_scale, params.q_clip)
        lanes = secagg.masked_lanes(q, self.me, mask, roster, ctx, q_clip=params.q_clip)
        commits = secagg.seed_commitments(self.me, mask, roster, slots, len(state), ctx)
        self.task.submit(r, pack_words(lanes), commits, sender=self.me)
        self.log(f"round {r}: {self.me} submitted" + (f" ({self.config.attack})" if self.config.attack else ""))

    def _reveal(self, r: int, me) -> bool:
        """Reveal this member's share of every roster member of its group that did not submit."""
        if self.task.now() < self.task.call("submit_deadline"):
            return False
        if self.task.now() >= self.task.call("recover_deadline"):
            return False
        ctx = round_context(self.task, r)
        sent = False
        for d in self.task.group_state(me.group):
            if d.address == self.me or not d.keyed or d.submitted or d.recovered:
                continue
            if self.me in self.task.revealed_shares(r, d.address):
                continue
            blob = self.task.shares_blob(r, d.address)
            if blob is None:
                continue
            facts = secagg.DropFacts(dropped=d.address, same_group=True, keyed=d.keyed, submitted=d.submitted, submit_closed=True)
            share = secagg.share_to_reveal(
                facts, me=self.me, my_slot=me.slot, my_enc_key=self.keys.enc_key,
                dropped_enc_pk=self.task.enc_key(d.address), blob_from_dropped=blob, ctx=ctx,
            )
            try:
                self.task.reveal_share(r, d.address, share, sender=self.me)
                sent = True
                self.log(f"round {r}: {self.me} revealed its share of dropped {d.address}")
            except TransactionReverted as exc:
                self.log(f"round {r}: reveal refused: {exc}")
        return sent

    def _withdraw(self) -> bool:
        if self.task.balance_of(self.me) > 0:
            self.task.withdraw(sender=self.me)
            return True
        return False


def next_deadline(task: DataMarketTask) -> int | None:
    """The earliest deadline still ahead of the chain's clock, if any."""
    now = task.now()
    phase = task.phase()
    if phase == REGISTRATION:
        candidates = [task.call("register_deadline")]
    elif phase == ROUNDS:
        candidates = list(task.deadlines().values())
    else:
        return None
    ahead = [t for t in candidates if t >= now]
    return min(ahead) if ahead else None


def run_in_process(
    task: DataMarketTask,
    steps: Sequence[Callable[[], bool]],
    *,
    max_idle: int = 50,
    on_idle: Callable[[], None] | None = None,
) -> None:
    """Step every agent until the task ends, moving the chain's clock to the next deadline when nobody can act."""
    idle = 0
    while True:
        progress = False
        for step in steps:
            progress |= bool(step())
        if task.phase() in TERMINAL and not progress:
            return
        if progress:
            idle = 0
            continue
        idle += 1
        if idle > max_idle:
            raise LedgerlearnError("data market: no agent can make progress (stuck task?)")
        if on_idle is not None:
            on_idle()
        deadline = next_deadline(task)
        now = task.now()
        task.chain.advance_time(max(1, (deadline or now) - now + 1))


@dataclass(frozen=True)
class RoundReport:
    """What the model owner saw in one finalised round."""

    round: int
    accuracy: float | None
    valid_groups: list[int]
    kept_groups: list[int]
    rejected: list[str]
    paid: dict[str, int]
    forfeited: dict[str, int]
    gas: dict[str, list[int]]
    processing_s: float

    def to_dict(self) -> dict:
        return {
            "round": self.round, "accuracy": self.accuracy, "valid_groups": self.valid_groups,
            "kept_groups": self.kept_groups, "rejected": self.rejected, "paid": self.paid,
            "forfeited": self.forfeited, "gas": self.gas, "processing_s": self.processing_s,
        }


class OwnerAgent:
    """The model owner: starts the task, drives rounds nobody else finalises, scores each round.

    ``evaluate(public_part) -> accuracy`` fine-tunes the owner's private head
    under a public part and measures it; it never leaves this process.
    """

    def __init__(
        self,
        task: DataMarketTask,
        account: str,
        *,
        blobs: BlobStore,
        evaluate: Callable[[np.ndarray], float] | None = None,
        log: Callable[[str], None] | None = None,
        on_round: Callable[[RoundReport], None] | None = None,
    ):
        self.task = task
        self.me = account
        self.blobs = blobs
        self.evaluate = evaluate
        self.log = log or (lambda msg: None)
        self.on_round = on_round
        self.public = PublicPartTracker(task, blobs)
        self.reports: list[RoundReport] = []

    def step(self) -> bool:
        """Start, recover, finalise and withdraw when due; score newly finalised rounds."""
        try:
            return self._step()
        except TransactionReverted as exc:
            self.log(f"model owner: refused ({exc}); looking again")
            return False

    def _step(self) -> bool:
        phase = self.task.phase()
        sent = False
        if phase == REGISTRATION:
            if try_start(self.task, sender=self.me):
                self.log(f"task started: {self.task.phase_name()}, {self.task.group_count()} groups")
                return True
            return False
        if phase == ROUNDS:
            r = self.task.current_round()
            sent |= try_recover(self.task, r, sender=self.me) > 0
            sent |= try_finalize(self.task, sender=self.me)
        self._report_new_rounds()
        if self.task.phase() in TERMINAL and self.task.balance_of(self.me) > 0:
            self.task.withdraw(sender=self.me)
            sent = True
        return sent

    def _report_new_rounds(self) -> None:
        self.public.latest()
        for res in self.public.results[len(self.reports) :]:
            part = self.public.parts[res.round]
            acc = self.evaluate(part) if self.evaluate is not None and res.kept else None
            groups = {g: self.task.group_members(g) for g in range(self.task.group_count())}
            kept = res.groups("kept")
            rejected = [a for g in res.groups("valid") if g not in kept for a in groups[g]]
            report = RoundReport(
                round=res.round, accuracy=acc, valid_groups=res.groups("valid"), kept_groups=kept,
                rejected=rejected, paid=self.task.paid(res.round), forfeited=self.task.forfeited(res.round),
                gas=self.task.meter.gas_by_op(res.round), processing_s=self.task.meter.processing_seconds(res.round),
            )
            self.reports.append(report)
            if self.on_round is not None:
                self.on_round(report)
