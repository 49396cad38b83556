"""The three roles of the training market as agents that only read the chain and the blob store.

Each agent's :meth:`step` looks at the market's records and sends what its
role owes now (a few transactions at most), so the same agents run in one
process (:func:`run_in_process`: the demo, the tests) or each in its own
process polling a shared chain (``ledgerlearn market training serve-*``).
Apart from their data, agents keep nothing the chain and the blob store
cannot rebuild: identities, hash chains and keys derive from a member's
master secret (:class:`~.transfer.Pseudonyms`).

Where things are found:

* a subset: ``SubsetDelivered.sealed_pointer`` opens (with the instance's
  key) to the key of a content-addressed blob, itself sealed to that key;
* a couple's key: the named blob ``couples/<couple>/keys/<cloud owner>``,
  sealed to the instance's key; the round's model: ``couples/<couple>/round-<r>``
  (and ``couples/<couple>/he-context`` in ckks mode), locked with the
  couple key; its keccak256 is ``RoundRequested.model_hash``;
* a result: ``JobUpdated.sealed_pointer`` opens (with the model owner's key)
  to a content-addressed blob sealed to the model owner.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ledgerlearn.chain.base import Chain, next_timestamp
from ledgerlearn.errors import LedgerlearnError, NotFoundError
from ledgerlearn.markets.data.blobstore import BlobStore
from ledgerlearn.markets.training.client import ZERO32, Couple, TrainingMarket
from ledgerlearn.markets.training.commitments import (
    HashChain, commitment, digest, make_nonce, subsets_of,
)
from ledgerlearn.markets.training.trainers import MODEL_TYPE, CloudTrainer, ModelSpec, OwnerTrainer
from ledgerlearn.markets.training.transfer import (
    Pseudonyms, decode_subset, encode_subset, lock, open_sealed, seal, unlock,
)

ZERO_ADDRESS = "0x" + "00" * 20
BEHAVIOURS = ("honest", "dummy-model", "copy-hash")


def _hex(b: bytes) -> str:
    return bytes(b).hex()


def couple_blob(couple_id: bytes, what: str) -> str:
    """The name of a couple's named blob (``keys/<address>``, ``round-<r>``, ``he-context``)."""
    return f"couples/{_hex(couple_id)}/{what}"


def _ctx(*parts) -> bytes:
    """Associated data binding an encrypted transfer to the record it belongs to."""
    return b"|".join(p if isinstance(p, bytes) else str(p).encode() for p in parts)


def _use(chain: Chain, account) -> str:
    """Let ``chain`` sign for a pseudonym (in-process chains hold keys per process)."""
    add = getattr(chain, "add_account", None)
    return add(account) if add is not None else account.address


@dataclass
class Agent:
    """What every role has: the market, the blob store and the member's pseudonyms."""

    market: TrainingMarket
    blobs: BlobStore
    ids: Pseudonyms

    @property
    def chain(self) -> Chain:
        return self.market.chain

    #: withdraw whatever the market owes as soon as it is owed (the serve commands)
    auto_withdraw = False
    CLOSED = ("completed", "cancelled", "declined")

    def closed_couples(self) -> int:
        """Couples on this agent's dataset that are over."""
        return sum(self.market.couple(ev["couple_id"]).status in self.CLOSED
                   for ev in self._events("CoupleRequested", dataset_id=self.dataset_id))

    def _withdraw(self) -> bool:
        if not self.auto_withdraw or self.market.owed(self.address) == 0:
            return False
        self.market.withdraw(self.address, sender=self.address)
        return True

    def _events(self, name: str, **match) -> list[dict]:
        out = []
        for ev in self.market.events(name):
            if all(ev.get(k) == v for k, v in match.items()):
                out.append(ev)
        return out


# --------------------------------------------------------------------------- data owner

class DataOwnerAgent(Agent):
    """Registers a dataset split into ``subsets`` (each replicated ``n`` times), sends each
    claimed instance its subset, verifies joins, approves couples and draws rounds."""

    def __init__(self, market: TrainingMarket, blobs: BlobStore, ids: Pseudonyms, *, dataset_id: bytes,
                 subsets: Sequence[tuple[np.ndarray, np.ndarray]], n: int, licence_fee: int, job_price: int,
                 meta: bytes = b""):
        super().__init__(market, blobs, ids)
        self.dataset_id = dataset_id
        self.payloads = [encode_subset(x, y) for x, y in subsets]
        self.digests = [digest(p) for p in self.payloads]
        self.n = n
        self.licence_fee = licence_fee
        self.job_price = job_price
        self.meta_hash = digest(meta)
        self.address = _use(self.chain, ids.account(f"do/{_hex(dataset_id)}"))

    def payload_for(self, index: int, subset: int) -> bytes:
        """The bytes instance ``index`` is sent (its subset; a test may send something else)."""
        return self.payloads[subset]

    def hash_chain(self, couple_id: bytes, rounds: int) -> HashChain:
        return HashChain(self.ids.secret("chain", _hex(couple_id)), rounds)

    def step(self) -> bool:
        m = self.market
        d = m.dataset(self.dataset_id)
        if d.owner == ZERO_ADDRESS:
            m.register_dataset(self.dataset_id, len(self.payloads), self.n, self.licence_fee, self.job_price,
                               self.meta_hash, sender=self.address)
            return True
        progress = False
        pending = False  # instances not yet verified or rejected: approving now would leave them out
        for i, inst in enumerate(m.instances(self.dataset_id)):
            subset = d.subset_of(i)
            if inst.status == "claimed":
                ctx = _ctx(self.dataset_id, i)
                key = self.blobs.put(seal(self.payload_for(i, subset), inst.enc_key, ctx))
                m.deliver(self.dataset_id, i, seal(bytes.fromhex(key[2:]), inst.enc_key, ctx), sender=self.address)
                progress = pending = True
            elif inst.status == "joined":
                ok = commitment(self.digests[subset], inst.nonce) == inst.commitment
                m.verify(self.dataset_id, i, ok, sender=self.address)
                progress = pending = True
            elif inst.status in ("free", "delivered"):
                pending = True
        for ev in self._events("CoupleRequested", dataset_id=self.dataset_id):
            cid = ev["couple_id"]
            c = m.couple(cid)
            if c.status == "requested" and not pending:
                m.approve_couple(cid, self.hash_chain(cid, c.rounds).head, sender=self.address)
                progress = True
            elif c.status == "active" and c.phase == "drawing" and next_timestamp(self.chain) <= c.deadline:
                m.draw_round(cid, self.hash_chain(cid, c.rounds).value(c.round), sender=self.address)
                progress = True
        return self._withdraw() or progress


# --------------------------------------------------------------------------- cloud owner

class CloudOwnerAgent(Agent):
    """Hosts one instance (a replica of one subset) under its own pseudonym and trains its jobs.

    ``behaviour``: ``honest``; ``dummy-model`` (returns a model it did not
    train); ``copy-hash`` (does no work and posts another replica's
    commitment with its own nonce).
    """

    def __init__(self, market: TrainingMarket, blobs: BlobStore, ids: Pseudonyms, *, dataset_id: bytes,
                 index: int, behaviour: str = "honest"):
        super().__init__(market, blobs, ids)
        if behaviour not in BEHAVIOURS:
            raise LedgerlearnError(f"behaviour: expected one of {', '.join(BEHAVIOURS)}, got {behaviour!r}")
        self.dataset_id = dataset_id
        self.index = index
        self.behaviour = behaviour
        label = f"co/{_hex(dataset_id)}/{index}"
        self.address = _use(self.chain, ids.account(label))
        self.key = ids.enc_key(label)
        self.subset: tuple[np.ndarray, np.ndarray] | None = None
        self.subset_digest: bytes | None = None
        self._trainers: dict[bytes, CloudTrainer] = {}

    def _load_subset(self) -> None:
        (ev,) = [e for e in self._events("SubsetDelivered", dataset_id=self.dataset_id) if e["index"] == self.index]
        ctx = _ctx(self.dataset_id, self.index)
        key = "0x" + open_sealed(ev["sealed_pointer"], self.key, ctx).hex()
        payload = open_sealed(self.blobs.get(key), self.key, ctx)
        self.subset = decode_subset(payload)
        self.subset_digest = digest(payload)

    def check_replicas(self) -> dict[int, bool]:
        """For every other replica of my subset that joined: did it get the same data as me?

        Recomputes its commitment from my subset's digest and its published
        nonce (the spec's question 3); no transaction.
        """
        d = self.market.dataset(self.dataset_id)
        if self.subset_digest is None:
            self._load_subset()
        out = {}
        for j in d.replicas(d.subset_of(self.index)):
            inst = self.market.instance(self.dataset_id, j)
            if j != self.index and inst.status in ("joined", "verified", "rejected"):
                out[j] = commitment(self.subset_digest, inst.nonce) == inst.commitment
        return out

    def step(self) -> bool:
        m = self.market
        inst = m.instance(self.dataset_id, self.index)
        if inst.status == "free":
            if m.dataset(self.dataset_id).owner == ZERO_ADDRESS:
                return False
            m.claim(self.dataset_id, self.index, self.key.public, sender=self.address)
            return True
        if inst.co != self.address:
            return False  # another member holds this instance
        if inst.status == "delivered":
            self._load_subset()
            nonce = make_nonce(self.address)
            m.join(self.dataset_id, self.index, commitment(self.subset_digest, nonce), nonce, sender=self.address)
            return True
        if inst.status != "verified":
            return False
        progress = False
        for ev in self._events("CoupleApproved", dataset_id=self.dataset_id):
            cid = ev["couple_id"]
            c = m.couple(cid)
            if self._owes_job(cid, c):
                progress |= self._do_job(cid, c)
        return self._withdraw() or progress

    def _owes_job(self, cid: bytes, c: Couple) -> bool:
        if c.status != "active" or c.phase != "training" or not c.job_mask >> self.index & 1:
            return False
        d = self.market.dataset(self.dataset_id)
        if not self.market.round_subsets(cid, c.round) >> d.subset_of(self.index) & 1:
            return False
        if next_timestamp(self.chain) > c.deadline:
            return False
        return self.market.result(cid, c.round, self.index).status == "none"

    def _round_model(self, cid: bytes, c: Couple) -> tuple[CloudTrainer, bytes] | None:
        try:
            couple_key = open_sealed(self.blobs.get_named(couple_blob(cid, f"keys/{self.address.lower()}")),
                                     self.key, _ctx(cid, self.address.lower()))
            model = unlock(self.blobs.get_named(couple_blob(cid, f"round-{c.round}")), couple_key, _ctx(cid, c.round))
        except NotFoundError:
            return None  # the model owner has not uploaded it yet
        (req,) = [e for e in self._events("RoundRequested", couple_id=cid) if e["round"] == c.round]
        if digest(model) != req["model_hash"]:
            raise LedgerlearnError(f"couple {_hex(cid)} round {c.round}: the model blob does not match the hash on chain")
        if cid not in self._trainers:
            spec = ModelSpec.from_json(self.market.model(c.model_id).method)
            ctx_bytes = None
            if spec.mode == "ckks":
                ctx_bytes = unlock(self.blobs.get_named(couple_blob(cid, "he-context")), couple_key, _ctx(cid, "he"))
            self._trainers[cid] = CloudTrainer(spec, ctx_bytes)
        return self._trainers[cid], model

    def _do_job(self, cid: bytes, c: Couple) -> bool:
        if self.subset is None:
            self._load_subset()
        nonce = make_nonce(self.address)
        if self.behaviour == "copy-hash":
            others = [e for e in self._events("JobUpdated", couple_id=cid)
                      if e["round"] == c.round and e["index"] != self.index]
            if not others:
                return False  # nothing to copy yet
            commit = others[0]["commitment"]
            result = secrets.token_bytes(64)
        else:
            got = self._round_model(cid, c)
            if got is None:
                return False
            trainer, model = got
            result = trainer.train(model, *self.subset)
            if self.behaviour == "dummy-model":
                result = result[:8] + bytes(len(result) - 8)  # right shape, no training
            commit = commitment(digest(result), nonce)
        ctx = _ctx(cid, c.round, self.index)
        key = self.blobs.put(seal(result, c.mo_enc_key, ctx))
        self.market.update_job(cid, self.index, commit, nonce, seal(bytes.fromhex(key[2:]), c.mo_enc_key, ctx),
                               sender=self.address)
        return True


# --------------------------------------------------------------------------- model owner

@dataclass
class JobView:
    """One job of a round as the model owner saw it."""

    index: int
    subset: int
    co: str
    posted: bool
    matches_commitment: bool | None
    result_digest: bytes | None
    verdict: str = "pending"
    paid: int = 0
    result: bytes | None = field(default=None, repr=False)


@dataclass
class RoundReport:
    """What the model owner recorded for one closed round."""

    round: int
    subsets: list[int]
    seed: bytes
    model_hash: bytes
    jobs: list[JobView]
    consensus: dict[int, bytes | None]
    accuracy: float | None
    gas: dict[str, list[int]] = field(default_factory=dict)


class ModelOwnerAgent(Agent):
    """Registers a model, requests a couple on a dataset, runs the rounds and takes the consensus."""

    def __init__(self, market: TrainingMarket, blobs: BlobStore, ids: Pseudonyms, *, model_id: bytes,
                 couple_id: bytes, dataset_id: bytes, spec: ModelSpec, rounds: int, picks: int, timeout: int = 3600,
                 test: tuple[np.ndarray, np.ndarray] | None = None):
        super().__init__(market, blobs, ids)
        self.model_id, self.couple_id, self.dataset_id = model_id, couple_id, dataset_id
        self.spec, self.rounds, self.picks, self.timeout = spec, rounds, picks, timeout
        self.trainer = OwnerTrainer(spec, test)
        self.address = _use(self.chain, ids.account(f"mo/{_hex(model_id)}"))
        self.key = ids.enc_key(f"mo/{_hex(couple_id)}")
        self.chain_values = HashChain(ids.secret("chain", _hex(couple_id)), rounds)
        self.couple_key = ids.secret("couple-key", _hex(couple_id))
        self.reports: list[RoundReport] = []
        self.initial_accuracy = self.trainer.accuracy()
        self._keys_sent: set[int] = set()
        self._results: dict[int, tuple[int, np.ndarray]] = {}  # subset -> consensus result of this round
        self.withdrawn = 0

    @property
    def done(self) -> bool:
        return self.market.couple(self.couple_id).status in self.CLOSED

    def step(self) -> bool:
        m = self.market
        if m.model(self.model_id).owner == ZERO_ADDRESS:
            initial = self.trainer.round_model()
            key = self.blobs.put(seal(initial, self.key.public, _ctx(self.model_id)))
            m.register_model(self.model_id, MODEL_TYPE, self.spec.to_json(), digest(initial),
                             seal(bytes.fromhex(key[2:]), self.key.public, _ctx(self.model_id)), sender=self.address)
            return True
        c = m.couple(self.couple_id)
        if c.status == "none":
            if m.dataset(self.dataset_id).owner == ZERO_ADDRESS:
                return False  # the data owner has not registered the dataset yet
            m.request_couple(self.couple_id, self.model_id, self.dataset_id, self.rounds, self.picks, self.timeout,
                             self.chain_values.head, self.key.public, sender=self.address)
            return True
        if c.status == "active" and c.phase == "idle":
            self._send_keys(c)
            self._start(c)
            return True
        if c.status == "active" and c.phase == "training":
            return self._settle(c)
        if c.status in self.CLOSED and m.owed(self.address) > 0:
            self.withdrawn += m.owed(self.address)
            m.withdraw(self.address, sender=self.address)
            return True
        return False

    def _send_keys(self, c: Couple) -> None:
        for i in c.jobs():
            if i in self._keys_sent:
                continue
            inst = self.market.instance(self.dataset_id, i)
            who = inst.co.lower()
            self.blobs.put_named(couple_blob(self.couple_id, f"keys/{who}"),
                                 seal(self.couple_key, inst.enc_key, _ctx(self.couple_id, who)))
            self._keys_sent.add(i)
        ctx_bytes = self.trainer.public_context()
        if ctx_bytes is not None and c.round == 0:
            self.blobs.put_named(couple_blob(self.couple_id, "he-context"),
                                 lock(ctx_bytes, self.couple_key, _ctx(self.couple_id, "he")))

    def _start(self, c: Couple) -> None:
        rnd = c.round + 1
        model = self.trainer.round_model()
        self.blobs.put_named(couple_blob(self.couple_id, f"round-{rnd}"), lock(model, self.couple_key, _ctx(self.couple_id, rnd)))
        self.market.start_round(self.couple_id, self.chain_values.value(rnd), digest(model), sender=self.address)
        self._results = {}

    def _jobs_of_round(self, c: Couple) -> list[JobView]:
        """Every job of the round's drawn subsets, with what it posted, checked against its commitment."""
        d = self.market.dataset(self.dataset_id)
        posted = {e["index"]: e for e in self._events("JobUpdated", couple_id=self.couple_id)
                  if e["round"] == c.round}
        views = []
        for s in subsets_of(self.market.round_subsets(self.couple_id, c.round)):
            for i in d.replicas(s):
                if not c.job_mask >> i & 1:
                    continue
                ev = posted.get(i)
                view = JobView(index=i, subset=s, co=self.market.instance(self.dataset_id, i).co, posted=ev is not None,
                               matches_commitment=None, result_digest=None)
                if ev is not None:
                    a = ev
                    ctx = _ctx(self.couple_id, c.round, i)
                    try:
                        key = "0x" + open_sealed(a["sealed_pointer"], self.key, ctx).hex()
                        result = open_sealed(self.blobs.get(key), self.key, ctx)
                    except LedgerlearnError:
                        result = None  # an unreadable pointer or blob: cannot match anything
                    if result is not None:
                        view.result_digest = digest(result)
                        view.matches_commitment = commitment(view.result_digest, a["nonce"]) == a["commitment"]
                        view.result = result  # kept for the consensus model
                    else:
                        view.matches_commitment = False
                views.append(view)
        return views

    def _settle(self, c: Couple) -> bool:
        now = next_timestamp(self.chain)
        if c.remaining and now <= c.deadline:
            return False
        jobs = self._jobs_of_round(c)
        n = self.market.dataset(self.dataset_id).n
        progress = False
        consensus: dict[int, bytes | None] = {}
        for s in subsets_of(c.unsettled):
            counts: dict[bytes, int] = {}
            for j in jobs:
                if j.subset == s and j.matches_commitment:
                    counts[j.result_digest] = counts.get(j.result_digest, 0) + 1
            winner = next((dg for dg, k in counts.items() if 2 * k > n), None)
            if winner is None and now <= c.deadline + c.timeout:
                continue  # no majority yet: wait for the dispute timeout
            if winner is not None:
                result = next(j.result for j in jobs if j.subset == s and j.result_digest == winner)
                self._results[s] = self.trainer.read_result(result)
            consensus[s] = winner
            self.market.settle(self.couple_id, s, winner or ZERO32, sender=self.address)
            progress = True
        if progress and self.market.couple(self.couple_id).phase == "idle":
            self._close_round(c, jobs)
        return progress

    def _close_round(self, c: Couple, jobs: list[JobView]) -> None:
        self.trainer.aggregate([self._results[s] for s in sorted(self._results)])
        settled = {(e["index"]): e for e in self._events("JobSettled", couple_id=self.couple_id)
                   if e["round"] == c.round}
        for j in jobs:
            j.verdict = ("none", "submitted", "passed", "fraud", "missing")[settled[j.index]["status"]]
            j.paid = settled[j.index]["paid"]
        (started,) = [e for e in self._events("RoundStarted", couple_id=self.couple_id) if e["round"] == c.round]
        (req,) = [e for e in self._events("RoundRequested", couple_id=self.couple_id) if e["round"] == c.round]
        sub = {e["subset"]: e["digest"] for e in self._events("SubsetSettled", couple_id=self.couple_id)
               if e["round"] == c.round}
        self.reports.append(RoundReport(
            round=c.round, subsets=subsets_of(started["subsets"]), seed=started["seed"], model_hash=req["model_hash"],
            jobs=jobs, consensus={s: (None if dg == ZERO32 else dg) for s, dg in sub.items()},
            accuracy=self.trainer.accuracy(), gas=self.market.meter.gas_by_op(c.round),
        ))


# --------------------------------------------------------------------------- running

def run_in_process(market: TrainingMarket, steps: Sequence[Callable[[], bool]], *, until: Callable[[], bool],
                   max_idle: int = 50, idle_seconds: int = 300) -> None:
    """Step every agent until ``until()``; when nobody can act, move the chain's clock past the next deadline."""
    idle = 0
    while not until():
        progress = False
        for step in steps:
            progress |= bool(step())
        if progress:
            idle = 0
            continue
        idle += 1
        if idle > max_idle:
            raise LedgerlearnError("training market: no agent can make progress (stuck couple?)")
        market.chain.advance_time(idle_seconds)
