"""Library API of the training market contract (``markets/training_market.vy``).

One contract holds the whole market (datasets, models, couples), like the
paper's chaincode. Every role talks to it through :class:`TrainingMarket`::

    market = TrainingMarket.deploy(chain, sender=anyone)
    market.register_dataset(ds_id, m, n, licence_fee, job_price, meta_hash, sender=do)
    market.claim(ds_id, i, enc_pk, sender=co); market.deliver(ds_id, i, sealed, sender=do)
    market.join(ds_id, i, commit, nonce, sender=co); market.verify(ds_id, i, True, sender=do)
    market.register_model(model_id, "linear", method, model_hash, pointer, sender=mo)
    market.request_couple(couple_id, model_id, ds_id, rounds, picks, timeout, head, enc_pk, sender=mo)
    market.approve_couple(couple_id, do_head, sender=do)
    market.start_round(couple_id, mo_value, model_hash, sender=mo)
    market.draw_round(couple_id, do_value, sender=do)
    market.update_job(couple_id, i, commit, nonce, sealed, sender=co)
    market.settle(couple_id, subset, digest, sender=anyone)
    market.withdraw(to, sender=member)

Transactions go through a :class:`~ledgerlearn.markets.data.client.TxMeter`
(gas and chain time per operation). Hashes and the draw are in
:mod:`.commitments`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from ledgerlearn.chain.base import Chain, Receipt, checksum
from ledgerlearn.chain.contract import Contract, deploy
from ledgerlearn.contracts.compiler import Artifact, compile_file
from ledgerlearn.markets.data.client import TxMeter

__all__ = [
    "COUPLE_STATUS", "Couple", "Dataset", "Instance", "JobResult", "Model", "TrainingMarket", "artifact",
]

INSTANCE_STATUS = ("free", "claimed", "delivered", "joined", "verified", "rejected")
COUPLE_STATUS = ("none", "requested", "active", "completed", "cancelled", "declined")
PHASES = ("idle", "drawing", "training")
RESULT_STATUS = ("none", "submitted", "passed", "fraud", "missing")
ZERO32 = b"\x00" * 32


@cache
def artifact() -> Artifact:
    """The compiled market contract."""
    return compile_file("markets/training_market.vy", "TrainingMarket")


@dataclass(frozen=True)
class Dataset:
    owner: str
    m: int
    n: int
    licence_fee: int
    job_price: int
    meta_hash: bytes

    def subset_of(self, index: int) -> int:
        return index // self.n

    def replicas(self, subset: int) -> range:
        """Instance indices holding ``subset``."""
        return range(subset * self.n, (subset + 1) * self.n)


@dataclass(frozen=True)
class Instance:
    co: str
    status: str
    enc_key: bytes
    commitment: bytes
    nonce: bytes


@dataclass(frozen=True)
class Model:
    owner: str
    model_hash: bytes
    model_type: str
    method: str
    pointer: bytes


@dataclass(frozen=True)
class Couple:
    model_id: bytes
    dataset_id: bytes
    mo: str
    status: str
    phase: str
    rounds: int
    picks: int
    round: int
    timeout: int
    deadline: int
    remaining: int
    unsettled: int
    used: int
    job_mask: int
    escrow: int
    mo_chain: bytes
    do_chain: bytes
    mo_value: bytes
    mo_enc_key: bytes

    def jobs(self) -> list[int]:
        """Instance indices that have a train job."""
        return [i for i in range(self.job_mask.bit_length()) if self.job_mask >> i & 1]


@dataclass(frozen=True)
class JobResult:
    co: str
    status: str
    commitment: bytes
    nonce: bytes


class TrainingMarket:
    """A deployed training market."""

    def __init__(self, chain: Chain, address: str, *, meter: TxMeter | None = None):
        self.chain = chain
        self.contract = Contract(chain, address, artifact().abi)
        self.meter = meter or TxMeter()

    @property
    def address(self) -> str:
        return self.contract.address

    @classmethod
    def deploy(cls, chain: Chain, *, sender: str, meter: TxMeter | None = None) -> "TrainingMarket":
        """Deploy a new market contract (it has no owner: any pseudonym may deploy it)."""
        art = artifact()
        contract, _ = deploy(chain, art.abi, art.bytecode, sender=sender)
        return cls(chain, contract.address, meter=meter)

    def _send(self, op: str, round_: int, *args, sender: str, value: int = 0) -> Receipt:
        return self.meter.send(op, round_, sender, lambda: self.contract.transact(op, *args, sender=sender, value=value))

    # ---------------------------------------------------------------- data
    def register_dataset(self, dataset_id: bytes, m: int, n: int, licence_fee: int, job_price: int,
                         meta_hash: bytes, *, sender: str) -> Receipt:
        return self._send("register_dataset", 0, dataset_id, m, n, licence_fee, job_price, meta_hash, sender=sender)

    def claim(self, dataset_id: bytes, index: int, enc_key: bytes, *, sender: str) -> Receipt:
        return self._send("claim", 0, dataset_id, index, enc_key, sender=sender)

    def deliver(self, dataset_id: bytes, index: int, sealed_pointer: bytes, *, sender: str) -> Receipt:
        return self._send("deliver", 0, dataset_id, index, sealed_pointer, sender=sender)

    def join(self, dataset_id: bytes, index: int, commitment: bytes, nonce: bytes, *, sender: str) -> Receipt:
        return self._send("join", 0, dataset_id, index, commitment, nonce, sender=sender)

    def verify(self, dataset_id: bytes, index: int, ok: bool, *, sender: str) -> Receipt:
        return self._send("verify", 0, dataset_id, index, ok, sender=sender)

    # ---------------------------------------------------------------- models and couples
    def register_model(self, model_id: bytes, model_type: str, method: str, model_hash: bytes,
                       pointer: bytes, *, sender: str) -> Receipt:
        return self._send("register_model", 0, model_id, model_type, method, model_hash, pointer, sender=sender)

    def couple_price(self, dataset_id: bytes, rounds: int, picks: int) -> int:
        return self.contract.call("couple_price", dataset_id, rounds, picks)

    def request_couple(self, couple_id: bytes, model_id: bytes, dataset_id: bytes, rounds: int, picks: int,
                       timeout: int, mo_chain: bytes, mo_enc_key: bytes, *, sender: str,
                       value: int | None = None) -> Receipt:
        """Request a couple, paying ``couple_price`` (or ``value``, to test the check)."""
        if value is None:
            value = self.couple_price(dataset_id, rounds, picks)
        return self._send("request_couple", 0, couple_id, model_id, dataset_id, rounds, picks, timeout,
                          mo_chain, mo_enc_key, sender=sender, value=value)

    def approve_couple(self, couple_id: bytes, do_chain: bytes, *, sender: str) -> Receipt:
        return self._send("approve_couple", 0, couple_id, do_chain, sender=sender)

    def decline_couple(self, couple_id: bytes, *, sender: str) -> Receipt:
        return self._send("decline_couple", 0, couple_id, sender=sender)

    def cancel_couple(self, couple_id: bytes, *, sender: str) -> Receipt:
        return self._send("cancel_couple", 0, couple_id, sender=sender)

    # ---------------------------------------------------------------- rounds
    def start_round(self, couple_id: bytes, mo_value: bytes, model_hash: bytes, *, sender: str) -> Receipt:
        rnd = self.couple(couple_id).round + 1
        return self._send("start_round", rnd, couple_id, mo_value, model_hash, sender=sender)

    def draw_round(self, couple_id: bytes, do_value: bytes, *, sender: str) -> Receipt:
        return self._send("draw_round", self.couple(couple_id).round, couple_id, do_value, sender=sender)

    def update_job(self, couple_id: bytes, index: int, commitment: bytes, nonce: bytes,
                   sealed_pointer: bytes, *, sender: str) -> Receipt:
        return self._send("update_job", self.couple(couple_id).round, couple_id, index, commitment, nonce,
                          sealed_pointer, sender=sender)

    def settle(self, couple_id: bytes, subset: int, digest: bytes, *, sender: str) -> Receipt:
        return self._send("settle", self.couple(couple_id).round, couple_id, subset, digest, sender=sender)

    def withdraw(self, to: str, *, sender: str) -> Receipt:
        return self._send("withdraw", 0, to, sender=sender)

    # ---------------------------------------------------------------- views
    def dataset(self, dataset_id: bytes) -> Dataset:
        owner, m, n, fee, price, meta = self.contract.call("datasets", dataset_id)
        return Dataset(checksum(owner), m, n, fee, price, meta)

    def instance(self, dataset_id: bytes, index: int) -> Instance:
        co, status, key, commit, nonce = self.contract.call("instances", dataset_id, index)
        return Instance(checksum(co), INSTANCE_STATUS[status], key, commit, nonce)

    def instances(self, dataset_id: bytes) -> list[Instance]:
        d = self.dataset(dataset_id)
        return [self.instance(dataset_id, i) for i in range(d.m * d.n)]

    def model(self, model_id: bytes) -> Model:
        owner, *rest = self.contract.call("models", model_id)
        return Model(checksum(owner), *rest)

    def couple(self, couple_id: bytes) -> Couple:
        v = list(self.contract.call("couples", couple_id))
        v[2] = checksum(v[2])
        v[3] = COUPLE_STATUS[v[3]]
        v[4] = PHASES[v[4]]
        return Couple(*v)

    def round_subsets(self, couple_id: bytes, round_: int) -> int:
        return self.contract.call("round_subsets", couple_id, round_)

    def result(self, couple_id: bytes, round_: int, index: int) -> JobResult:
        co, status, commit, nonce = self.contract.call("result", couple_id, round_, index)
        return JobResult(checksum(co), RESULT_STATUS[status], commit, nonce)

    def owed(self, member: str) -> int:
        return self.contract.call("owed", member)

    def nonce_used(self, nonce: bytes) -> bool:
        return self.contract.call("nonce_used", nonce)

    def events(self, name: str | None = None, from_block: int = 0) -> list[dict]:
        return self.contract.events(name, from_block=from_block)
