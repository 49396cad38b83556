"""Library API of the secure data market contract (``markets/data_market.vy``).

One contract is one task. Both roles talk to it through :class:`DataMarketTask`:

    task = DataMarketTask.create(chain, owner=mo, params=TaskParams(...))  # escrow paid here
    task.register(enc_pk, sender=do)                                       # deposit paid here
    task.start(sender=anyone)
    task.post_keys(1, mask_pk, shares_blob, sender=do)
    task.submit(1, masked_words, seed_commits, sender=do)
    task.finalize(sender=anyone)
    task.withdraw(sender=do)

Every transaction goes through :class:`TxMeter`, which keeps the gas and the
chain's processing time of each operation (the figures the demo and the
benchmark report). The cryptography lives in :mod:`.secagg`, the role
agents in :mod:`.agents`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cache

import numpy as np

from ledgerlearn.chain.base import Chain, Receipt, next_timestamp
from ledgerlearn.chain.contract import Contract, deploy
from ledgerlearn.contracts.compiler import Artifact, compile_file
from ledgerlearn.errors import ValidationError
from ledgerlearn.markets.data.packing import MEAN_FRAC_BITS, decode_aggregate, decode_sum, n_words

PHASES = ("registration", "rounds", "closed", "cancelled", "failed")
REGISTRATION, ROUNDS, CLOSED, CANCELLED, FAILED = range(5)
#: Bytes of one encrypted share in a ``post_keys`` blob.
SHARE_CIPHERTEXT_BYTES = 48
ZERO32 = b"\x00" * 32


@cache
def artifact() -> Artifact:
    """The compiled task contract."""
    return compile_file("markets/data_market.vy", "DataMarket")


@dataclass(frozen=True)
class TaskParams:
    """Everything a model owner declares when it creates a task (money in wei)."""

    public_part_uri: str
    public_part_hash: bytes
    n_params: int
    q_scale: int
    q_clip: int
    head_seed: int
    max_dos: int
    min_dos: int
    reward: int
    deposit: int
    rounds: int = 3
    group_size: int = 3
    threshold: int = 2
    byzantine_groups: int = 0
    slash_rejected: bool = False
    register_s: int = 600
    keys_s: int = 300
    submit_s: int = 600
    recover_s: int = 300

    @property
    def escrow(self) -> int:
        """Wei the model owner pays at creation: a reward for every DO in every round."""
        return self.reward * self.max_dos * self.rounds

    def constructor_args(self) -> tuple:
        return (
            self.public_part_uri, self.public_part_hash, self.n_params, self.q_scale, self.q_clip,
            self.head_seed, self.max_dos, self.min_dos, self.group_size, self.threshold,
            self.byzantine_groups, self.rounds, self.reward, self.deposit, self.slash_rejected,
            self.register_s, self.keys_s, self.submit_s, self.recover_s,
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["public_part_hash"] = "0x" + self.public_part_hash.hex()
        return d


@dataclass(frozen=True)
class TxRecord:
    """One transaction sent through a :class:`TxMeter`."""

    op: str
    round: int
    sender: str
    gas: int
    seconds: float
    gas_exact: bool


@dataclass
class TxMeter:
    """Gas and processing time of every transaction, by operation and round.

    ``seconds`` is the wall time of ``chain.send`` (signing, execution and, on
    a durable chain, the journal write): the chain's processing time.
    """

    records: list[TxRecord] = field(default_factory=list)
    on_record: Callable[[TxRecord], None] | None = None

    def send(self, op: str, round_: int, sender: str, fn: Callable[[], Receipt]) -> Receipt:
        t0 = time.perf_counter()
        receipt = fn()
        rec = TxRecord(op, round_, sender, receipt.gas_used, time.perf_counter() - t0, receipt.gas_exact)
        self.records.append(rec)
        if self.on_record is not None:
            self.on_record(rec)
        return receipt

    def by_round(self, round_: int) -> list[TxRecord]:
        return [r for r in self.records if r.round == round_]

    def processing_seconds(self, round_: int) -> float:
        """Chain time spent on the round's transactions."""
        return sum(r.seconds for r in self.by_round(round_))

    def gas_by_op(self, round_: int | None = None) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for r in self.records:
            if round_ is None or r.round == round_:
                out.setdefault(r.op, []).append(r.gas)
        return out


@dataclass(frozen=True)
class MemberState:
    """One registered data owner as the contract sees it in the current round."""

    address: str
    group: int
    slot: int
    active: bool
    keyed: bool
    submitted: bool
    recovered: bool
    mask_pk: bytes


@dataclass(frozen=True)
class RoundResult:
    """A finalised round, read back from its ``RoundFinalized`` event."""

    round: int
    valid: int
    kept: int
    aggregate_words: list[int]

    def groups(self, mask_name: str) -> list[int]:
        mask = getattr(self, mask_name)
        return [g for g in range(mask.bit_length()) if mask >> g & 1]

    def update(self, n_params: int, q_scale: int) -> np.ndarray:
        """The round's public-part change in float64 (zeros when no group was kept)."""
        if not self.kept:
            return np.zeros(n_params)
        return decode_aggregate(self.aggregate_words, n_params).astype(np.float64) / (q_scale * (1 << MEAN_FRAC_BITS))


class DataMarketTask:
    """A deployed data-market task."""

    def __init__(self, chain: Chain, address: str, *, meter: TxMeter | None = None):
        self.chain = chain
        self.contract = Contract(chain, address, artifact().abi)
        self.meter = meter or TxMeter()
        self._params: TaskParams | None = None

    @property
    def address(self) -> str:
        return self.contract.address

    @classmethod
    def create(cls, chain: Chain, *, owner: str, params: TaskParams, meter: TxMeter | None = None) -> "DataMarketTask":
        """Deploy a task, paying the escrow from ``owner``."""
        words = n_words(params.n_params) if params.n_params > 0 else 0
        if len(params.public_part_hash) != 32:
            raise ValidationError("public_part_hash: expected 32 bytes")
        if not words:
            raise ValidationError(f"n_params: must be positive, got {params.n_params}")
        art = artifact()
        meter = meter or TxMeter()
        holder: dict[str, Contract] = {}

        def _deploy() -> Receipt:
            holder["c"], receipt = deploy(chain, art.abi, art.bytecode, *params.constructor_args(), sender=owner, value=params.escrow)
            return receipt

        meter.send("create", 0, owner, _deploy)
        task = cls(chain, holder["c"].address, meter=meter)
        task._params = params
        return task

    # --------------------------------------------------------------- actions
    def _tx(self, op: str, round_: int, *args, sender: str, value: int = 0) -> Receipt:
        return self.meter.send(op, round_, sender, lambda: self.contract.transact(op, *args, sender=sender, value=value))

    def register(self, enc_pk: bytes, *, sender: str) -> Receipt:
        """Join the task with a long-lived encryption key, paying the deposit."""
        return self._tx("register", 0, enc_pk, sender=sender, value=self.params().deposit)

    def start(self, *, sender: str) -> Receipt:
        return self._tx("start", 0, sender=sender)

    def cancel(self, *, sender: str) -> Receipt:
        return self._tx("cancel", 0, sender=sender)

    def post_keys(self, round_: int, mask_pk: bytes, shares: bytes, *, sender: str) -> Receipt:
        return self._tx("post_keys", round_, round_, mask_pk, shares, sender=sender)

    def submit(self, round_: int, masked_words: list[int], seed_commits: list[bytes], *, sender: str) -> Receipt:
        return self._tx("submit", round_, round_, masked_words, seed_commits, sender=sender)

    def reveal_share(self, round_: int, dropped: str, share: bytes, *, sender: str) -> Receipt:
        return self._tx("reveal_share", round_, round_, dropped, share, sender=sender)

    def recover(self, round_: int, dropped: str, seeds: list[bytes], *, sender: str) -> Receipt:
        return self._tx("recover", round_, round_, dropped, seeds, sender=sender)

    def finalize(self, *, sender: str) -> Receipt:
        return self._tx("finalize", self.current_round(), sender=sender)

    def withdraw(self, *, sender: str) -> Receipt:
        return self._tx("withdraw", self.current_round(), sender=sender)

    # ----------------------------------------------------------------- views
    def call(self, name: str, *args):
        return self.contract.call(name, *args)

    def params(self) -> TaskParams:
        """The task's declared parameters (read once from the contract)."""
        if self._params is None:
            c = self.call
            self._params = TaskParams(
                public_part_uri=c("public_part_uri"), public_part_hash=bytes(c("public_part_hash")),
                n_params=c("n_params"), q_scale=c("q_scale"), q_clip=c("q_clip"), head_seed=c("head_seed"),
                max_dos=c("max_dos"), min_dos=c("min_dos"), reward=c("reward"), deposit=c("deposit"),
                rounds=c("rounds"), group_size=c("group_size"), threshold=c("threshold"),
                byzantine_groups=c("byzantine_groups"), slash_rejected=c("slash_rejected"),
                register_s=c("register_s"), keys_s=c("keys_s"), submit_s=c("submit_s"), recover_s=c("recover_s"),
            )
        return self._params

    def now(self) -> int:
        """The timestamp the next transaction will see (deadlines are compared with it)."""
        return next_timestamp(self.chain)

    def owner(self) -> str:
        return self.call("owner")

    def phase(self) -> int:
        return self.call("phase")

    def phase_name(self) -> str:
        return PHASES[self.phase()]

    def current_round(self) -> int:
        return self.call("current_round")

    def deadlines(self) -> dict[str, int]:
        return {name: self.call(name) for name in ("keys_deadline", "submit_deadline", "recover_deadline")}

    def registrants(self) -> list[str]:
        return list(self.call("registrants"))

    def enc_key(self, member: str) -> bytes:
        return bytes(self.call("enc_key", member))

    def group_count(self) -> int:
        return self.call("group_count")

    def group_members(self, group: int) -> list[str]:
        return list(self.call("group_members", group))

    def member(self, address: str) -> MemberState:
        r = self.current_round()
        return MemberState(
            address=address, group=self.call("group_of", address), slot=self.call("slot_of", address),
            active=self.call("is_active", address), keyed=self.call("keyed_round", address) == r,
            submitted=self.call("submitted_round", address) == r, recovered=self.call("recovered_round", address) == r,
            mask_pk=bytes(self.call("mask_key", address)),
        )

    def group_state(self, group: int) -> list[MemberState]:
        return [self.member(a) for a in self.group_members(group)]

    def roster_final(self, group: int) -> bool:
        """Whether the group's keys phase is over (deadline, or every active member posted keys)."""
        if self.now() >= self.call("keys_deadline"):
            return True
        return all(m.keyed for m in self.group_state(group) if m.active)

    def group_sum(self, group: int) -> np.ndarray:
        """The group's current accumulator decoded to signed sums (meaningful once settled)."""
        return decode_sum(list(self.call("group_sum", group)), self.params().n_params)

    def balance_of(self, who: str) -> int:
        return self.call("balance_of", who)

    def can_finalize(self) -> bool:
        return bool(self.call("can_finalize"))

    # ---------------------------------------------------------------- events
    def shares_blob(self, round_: int, member: str) -> bytes | None:
        """The encrypted-shares blob ``member`` posted with its keys in ``round_``."""
        for ev in self.contract.events("KeysPosted"):
            if ev["round"] == round_ and ev["member"].lower() == member.lower():
                return bytes(ev["shares"])
        return None

    def revealed_shares(self, round_: int, dropped: str) -> dict[str, bytes]:
        """Member -> plaintext share revealed for ``dropped`` in ``round_``."""
        return {
            ev["member"]: bytes(ev["share"])
            for ev in self.contract.events("ShareRevealed")
            if ev["round"] == round_ and ev["dropped"].lower() == dropped.lower()
        }

    def results(self) -> list[RoundResult]:
        """Every finalised round, in order."""
        return [
            RoundResult(ev["round"], ev["valid"], ev["kept"], list(ev["aggregate"]))
            for ev in self.contract.events("RoundFinalized")
        ]

    def paid(self, round_: int) -> dict[str, int]:
        return {ev["member"]: ev["amount"] for ev in self.contract.events("Paid") if ev["round"] == round_}

    def forfeited(self, round_: int) -> dict[str, int]:
        return {ev["member"]: ev["amount"] for ev in self.contract.events("Forfeited") if ev["round"] == round_}
