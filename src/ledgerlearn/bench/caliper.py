"""A Hyperledger-Caliper-style throughput benchmark of the training market.

The reference is IBM's "Ownership preserving AI Market Places using
Blockchain" (2019): 15 member-facing transactions per model training on
Hyperledger Fabric, measured with Caliper at send rates up to 1000 tps
(throughput ~1000 tps, falling sharply at 1500 tps; block size 500, batch
timeout 1 s), i.e. 65-70 model trainings recorded per second, sub-second
latency and ~15 s of blockchain time per training; PostgreSQL alone did
2000-3600 tps. :data:`PAPER` holds those figures.

**Definitions** (Caliper's, used exactly). For one run at one target rate:

* send rate = (succ + fail) / (last submit - first submit);
* throughput = (succ + fail) / (last finish - first submit), where *finish*
  is when the client observes the transaction committed (or its failure);
* latency = finish - submit over the successful transactions: avg, min,
  max, p50, p95;
* failures = transactions that reverted, were rejected by the node, or were
  not committed within ``commit_timeout`` seconds of the last submission
  (those get finish = submit + ``commit_timeout``);
* a training is *recorded* when all 15 of its transactions succeeded;
  trainings/s = recorded trainings / (last finish - first submit).

**The workload.** Set-up (not timed): deploy the market, register
``datasets`` datasets of m=2 subsets x n=3 replicas, each instance claimed by
its own cloud-owner pseudonym, delivered by the data owner (DO), joined by the
cloud owner (CO) and verified by the DO; every pseudonym funded. One model
training is exactly these 15 transactions (:data:`STEPS`)::

    1 MO register_model   2 MO request_couple (rounds=2, picks=1, value=couple_price)
    3 DO approve_couple
    round r = 1, 2:  MO start_round, DO draw_round,
                     CO update_job x3 (the drawn subset's 3 replicas, each its own
                     pseudonym, commitments of the round's model digest with
                     their own nonces from make_nonce), MO settle(digest)

Ids are caller-chosen, so the whole run is built before the clock starts: the
driver plays every role, knows both hash chains, and computes the subset
each round draws with :func:`~ledgerlearn.markets.training.commitments.draw_subsets`.
Model owners are ``model_owners`` pseudonyms shared round-robin by the
trainings; training ``i`` uses dataset ``i mod datasets``.

**The schedule (open loop).** Submit times are fixed in advance at exactly
``rate`` transactions per second (slot ``j`` at ``j / rate``) and nothing
waits for results. A training's transactions go in 10 stages
(:data:`STAGES`: [1,2] [3] [4] [5] [6,7,8] [9] [10] [11] [12,13,14] [15]);
across senders a dependent transaction must be submitted a *stage gap* after
its prerequisite (as a Fabric client would submit it only once the
prerequisite is committed), and the gap should exceed the block interval
(a result notes when it does not).
With ``T = rate * duration / 15`` trainings the run is one *wave*: all
trainings' stage 1 in training order, then all their stage 2, ..., stage 10.
Every slot is used, so the send rate is the target over the whole run, every
training can complete, and consecutive stages of one training are at least
``T`` slots = ``duration / 15`` seconds apart (1.2 s with the default 18 s,
more than the 1 s batch timeout). (A conveyor of trainings each
started at a fixed pace would take ~9 stage gaps to ramp up and again to
drain: with ~1 s gaps and a 15 s run, it would send at about half the target
rate on average.) The price is that the mix is uniform over the run (each
step exactly 1/15 of it), not at every instant: stage blocks follow each
other. Same-sender transactions are ordered by nonce.

**Pre-computed before the timed window:** ids, hash chains, draws, nonces,
commitments, ABI-encoded calldata and, for anvil, the signed raw
transactions (EIP-1559, signed with coincurve; the signing time is measured
and reported separately) and their JSON-RPC request text. Nothing else.

**anvil backend.** A fresh anvil per run, with ``--no-mining`` and a 2e9
block gas limit (gas never limits how many pending transactions a block
takes); the client mines with ``evm_mine`` on the policy of Fabric's orderer:
a block as soon as ``block_size`` transactions are pending, or
``block_timeout`` seconds after the first pending one (a block takes
everything pending at that moment, so it may hold a few more than
``block_size``). After each ``evm_mine`` the client reads, in one JSON-RPC
batch, the block's transaction hashes (``eth_getBlockByNumber``: committed)
and the market's logs of the block (``eth_getLogs``): each of the 15 calls
emits exactly one of :data:`SUCCESS_EVENTS` when it succeeds and a reverted
call emits nothing, so a committed transaction without one reverted (a
failure). Those transactions finish when that answer arrives. Receipts would
say the same, but anvil 1.7.1's ``eth_getBlockReceipts`` takes time quadratic
in the block size (measured here: 500 transactions 72 ms, 1,000 277 ms,
2,000 3.6 s), which turned a short backlog into a collapse.
Submission: one thread sends every transaction of one ``tick`` (default
5 ms) as one JSON-RPC batch array of ``eth_sendRawTransaction`` over a
keep-alive connection (a request per transaction is too slow from Python),
and each gets the batch's send time as its submit time (never earlier than
its slot; at 1000 tps ~5 transactions a batch). A transaction the node
answers with an error is rejected: a failure, finished when the answer
arrives. anvil orders pending transactions of equal fee by arrival and one
thread sends in slot order, so a dependent transaction sent before its
prerequisite is mined still executes after it, in the same block.

**embedded backend.** The in-process chain (``make_chain("fast")``: pyrevm,
virtual clock; ``"exact"``: py-evm) executes a transaction as soon as it is
sent, one per block. A scheduler thread enqueues the transactions at their
submit times (same ticks); one executor (the calling thread) runs them in
order; finish =
when ``chain.send`` returns (a revert raises and counts as a failure).
"""

from __future__ import annotations

import http.client
import json
import re
import statistics
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Callable

from coincurve import PrivateKey
from eth_utils import keccak, to_canonical_address, to_checksum_address

from ledgerlearn.bench.throughput import _percentiles
from ledgerlearn.chain.base import Chain, TxRequest
from ledgerlearn.errors import ChainError, TransactionReverted, ValidationError
from ledgerlearn.markets.training.client import TrainingMarket
from ledgerlearn.markets.training.commitments import (
    HashChain, commitment, digest, draw_subsets, make_nonce, round_seed, subsets_of,
)

__all__ = [
    "PAPER", "STAGES", "STEPS", "BenchSettings", "CaliperBench", "Plan", "RateResult", "Roles", "SigningStats",
    "SignedPlan", "build_plan", "make_roles", "run_anvil", "run_anvil_rate", "run_bench", "run_embedded",
    "run_embedded_rate", "schedule", "setup_market", "sign_plan", "summarize", "training_txs",
]

#: The paper's figures (IBM Research 2019, Hyperledger Fabric + Caliper; PostgreSQL for comparison).
PAPER = {
    "platform": "Hyperledger Fabric, measured with Hyperledger Caliper",
    "transactions_per_training": 15,
    "send_rates_tps": [500, 1000, 1500],
    "throughput_tps": 1000,
    "throughput_note": "~1000 tps up to a 1000 tps send rate, falling sharply at 1500 tps",
    "trainings_per_s": [65, 70],
    "latency": "sub-second",
    "blockchain_seconds_per_training": 15,
    "block_size": 500,
    "batch_timeout_s": 1.0,
    "postgres_tps": [2000, 3600],
}

#: The 15 transactions of one model training, in order.
STEPS: tuple[str, ...] = (
    "register_model", "request_couple", "approve_couple",
    "start_round", "draw_round", "update_job", "update_job", "update_job", "settle",
    "start_round", "draw_round", "update_job", "update_job", "update_job", "settle",
)  # fmt: skip
#: Steps (0-based indices into :data:`STEPS`) sent together; each stage waits a stage gap after the previous one.
STAGES: tuple[tuple[int, ...], ...] = ((0, 1), (2,), (3,), (4,), (5, 6, 7), (8,), (9,), (10,), (11, 12, 13), (14,))

ROUNDS = 2
PICKS = 1
SUBSETS = 2
REPLICAS = 3
#: Seconds each round phase may take (request_couple's timeout): the embedded chain's virtual
#: clock moves one second per transaction, so it must cover a whole run.
ROUND_TIMEOUT = 30 * 86_400
#: Gas limit of every benchmark transaction on anvil (the heaviest, request_couple, uses ~270k).
TX_GAS = 600_000
#: Block gas limit anvil is started with: never the limit on how many pending transactions a block takes.
ANVIL_GAS_LIMIT = 2_000_000_000
#: EIP-1559 fees of every benchmark transaction (anvil runs with a fixed zero base fee; equal fees keep arrival order).
TIP = 10**9
MAX_FEE = 10**9
FUND_WEI = 1_000 * 10**18
#: Most transactions in one JSON-RPC batch (a backlog goes out in several; anvil refuses bodies over 2 MB).
MAX_BATCH = 1000


# ---------------------------------------------------------------- settings and results
@dataclass(frozen=True)
class BenchSettings:
    """Knobs of one benchmark run (shared by all rates and backends)."""

    duration_s: float = 18.0
    block_size: int = 500
    block_timeout_s: float = 1.0
    tick_s: float = 0.005
    datasets: int = 8
    model_owners: int = 64
    commit_timeout_s: float = 30.0
    seed: int = 0

    def validate(self) -> None:
        if not self.duration_s > 0:
            raise ValidationError(f"duration: must be positive, got {self.duration_s}")
        if not isinstance(self.block_size, int) or self.block_size < 1:
            raise ValidationError(f"block_size: must be a positive integer, got {self.block_size!r}")
        if not self.block_timeout_s > 0:
            raise ValidationError(f"block_timeout: must be positive, got {self.block_timeout_s}")
        if not 0 < self.tick_s <= 0.1:
            raise ValidationError(f"tick: must be in (0, 0.1] seconds, got {self.tick_s}")
        if not isinstance(self.datasets, int) or self.datasets < 1:
            raise ValidationError(f"datasets: must be a positive integer, got {self.datasets!r}")
        if not isinstance(self.model_owners, int) or self.model_owners < 1:
            raise ValidationError(f"model_owners: must be a positive integer, got {self.model_owners!r}")
        if not self.commit_timeout_s > 0:
            raise ValidationError(f"commit_timeout: must be positive, got {self.commit_timeout_s}")


@dataclass
class SigningStats:
    """Signing the anvil run's transactions ahead of the timed window."""

    transactions: int
    seconds: float
    processes: int

    @property
    def us_per_tx(self) -> float:
        return 1e6 * self.seconds / self.transactions if self.transactions else 0.0

    def to_json(self) -> dict:
        return {**asdict(self), "seconds": round(self.seconds, 3), "us_per_tx": round(self.us_per_tx, 1)}


@dataclass
class RateResult:
    """One open-loop run at one target send rate on one backend (Caliper's report row)."""

    backend: str
    engine: str
    target_tps: float
    duration_s: float
    stage_gap_s: float
    trainings: int
    transactions: int
    succeeded: int
    failed: int
    reverted: int
    rejected: int
    timed_out: int
    send_rate_tps: float
    throughput_tps: float
    latency_ms: dict[str, float]
    trainings_recorded: int
    trainings_per_s: float
    first_submit_s: float
    last_submit_s: float
    last_finish_s: float
    submit_lag_ms: dict[str, float]
    failures_by_step: dict[str, int] = field(default_factory=dict)
    blocks: int = 0
    block_txs: dict[str, float] = field(default_factory=dict)
    mine_ms: dict[str, float] = field(default_factory=dict)
    status_ms: dict[str, float] = field(default_factory=dict)
    batches: int = 0
    batch_rtt_ms: dict[str, float] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)
    setup_s: float = 0.0
    signing: SigningStats | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        d = asdict(self)
        d["signing"] = self.signing.to_json() if self.signing else None
        return d


@dataclass
class CaliperBench:
    """Every run of one ``bench caliper`` invocation."""

    settings: BenchSettings
    results: list[RateResult]

    def to_json(self) -> dict:
        s = self.settings
        return {
            "method": "Hyperledger Caliper definitions, open-loop fixed-rate schedule (see ledgerlearn.bench.caliper)",
            "definitions": {
                "send_rate": "(succ + fail) / (last submit - first submit)",
                "throughput": "(succ + fail) / (last finish - first submit)",
                "latency": "finish - submit over successful transactions",
                "trainings_per_s": "trainings with all 15 transactions successful / (last finish - first submit)",
            },
            "workload": {
                "transactions_per_training": len(STEPS), "steps": list(STEPS), "stages": [[i + 1 for i in st] for st in STAGES],
                "datasets": s.datasets, "subsets": SUBSETS, "replicas": REPLICAS, "rounds": ROUNDS, "picks": PICKS,
                "model_owners": s.model_owners, "cloud_owners": s.datasets * SUBSETS * REPLICAS,
            },
            "settings": asdict(s),
            "paper": PAPER,
            "results": [r.to_json() for r in self.results],
        }


# ---------------------------------------------------------------- roles and set-up
@dataclass
class Roles:
    """The pseudonyms of the workload and their private keys."""

    data_owners: list[str]
    cloud_owners: list[list[str]]  # per dataset, instance index -> CO
    model_owners: list[str]
    keys: dict[str, bytes]

    @property
    def all(self) -> list[str]:
        return self.data_owners + [c for cos in self.cloud_owners for c in cos] + self.model_owners


def _key(seed: int, label: str, i: int) -> bytes:
    return keccak(f"ledgerlearn/bench/caliper/{seed}/{label}/{i}".encode())


def _address(key: bytes) -> str:
    pub = PrivateKey(key).public_key.format(compressed=False)[1:]
    return to_checksum_address(keccak(pub)[-20:])


def make_roles(settings: BenchSettings) -> Roles:
    """Deterministic pseudonyms: one DO and m*n COs per dataset, ``model_owners`` MOs."""
    keys: dict[str, bytes] = {}

    def new(label: str, i: int) -> str:
        k = _key(settings.seed, label, i)
        a = _address(k)
        keys[a] = k
        return a

    dos = [new("do", d) for d in range(settings.datasets)]
    cos = [[new("co", d * SUBSETS * REPLICAS + j) for j in range(SUBSETS * REPLICAS)] for d in range(settings.datasets)]
    mos = [new("mo", i) for i in range(settings.model_owners)]
    return Roles(dos, cos, mos, keys)


def _dataset_id(d: int) -> bytes:
    return keccak(b"caliper/dataset/%d" % d)


def _subset_bytes(d: int, s: int) -> bytes:
    return b"caliper dataset %d subset %d" % (d, s)


def setup_market(chain: Chain, roles: Roles, settings: BenchSettings, *, fund: Callable[[list[str]], None] | None = None) -> TrainingMarket:
    """Deploy the market, fund the pseudonyms and bring every dataset instance to VERIFIED.

    ``fund`` funds addresses (anvil: ``anvil_setBalance``); by default dev
    accounts transfer ether to them. The chain must already sign for the
    pseudonyms (``add_account``).
    """
    addrs = roles.all
    if fund is not None:
        fund(addrs)
    else:
        devs = chain.accounts[:10]
        reqs = [TxRequest(sender=devs[i % len(devs)], to=a, value=FUND_WEI // 10) for i, a in enumerate(addrs)]
        _check(chain.send_many(reqs), "funding")
    market = TrainingMarket.deploy(chain, sender=roles.data_owners[0])
    c = market.contract
    reqs = [c.tx("register_dataset", _dataset_id(d), SUBSETS, REPLICAS, 10**15, 10**14, keccak(b"meta%d" % d), sender=do)
            for d, do in enumerate(roles.data_owners)]
    _check(chain.send_many(reqs), "register_dataset")
    reqs = []
    for d, do in enumerate(roles.data_owners):
        ds = _dataset_id(d)
        for i, co in enumerate(roles.cloud_owners[d]):
            nonce = make_nonce(co)
            reqs += [
                c.tx("claim", ds, i, keccak(b"x25519/" + to_canonical_address(co)), sender=co),
                c.tx("deliver", ds, i, b"\x5e" * 96, sender=do),
                c.tx("join", ds, i, commitment(digest(_subset_bytes(d, i // REPLICAS)), nonce), nonce, sender=co),
                c.tx("verify", ds, i, True, sender=do),
            ]
    _check(chain.send_many(reqs), "instance set-up")
    return market


def _check(results: list, what: str) -> None:
    for r in results:
        if isinstance(r, Exception):
            raise ChainError(f"caliper set-up ({what}) failed: {r}")


# ---------------------------------------------------------------- the plan
@dataclass
class Plan:
    """A run built in advance: requests in submit order and their slot times."""

    rate: float
    trainings: int
    market: str
    requests: list[TxRequest]
    times: list[float]  # seconds after the start
    training: list[int]
    step: list[int]
    stage_gap_s: float

    def __len__(self) -> int:
        return len(self.requests)


def schedule(trainings: int) -> list[tuple[int, int]]:
    """(training, step) in submit order: the one-wave schedule (stage by stage, trainings in order)."""
    return [(i, s) for stage in STAGES for i in range(trainings) for s in stage]


def training_txs(market: TrainingMarket, roles: Roles, settings: BenchSettings, i: int, *, tag: bytes = b"") -> list[TxRequest]:
    """The 15 requests of training ``i`` (:data:`STEPS` order)."""
    c = market.contract
    d = i % settings.datasets
    ds = _dataset_id(d)
    mo = roles.model_owners[i % len(roles.model_owners)]
    do = roles.data_owners[d]
    cos = roles.cloud_owners[d]
    base = b"caliper/%d/" % i + tag
    model_id = keccak(base + b"model")
    couple_id = keccak(base + b"couple")
    mo_chain = HashChain(keccak(base + b"mo-secret"), ROUNDS)
    do_chain = HashChain(keccak(base + b"do-secret"), ROUNDS)
    models = [b"model %d round %d" % (i, r) for r in range(ROUNDS + 1)]  # models[0]: the initial model
    price = 10**15 + 10**14 * REPLICAS * PICKS * ROUNDS
    out = [
        c.tx("register_model", model_id, "linear", '{"method":"fedavg","lr":0.1}', digest(models[0]), b"\xa7" * 96, sender=mo),
        c.tx("request_couple", couple_id, model_id, ds, ROUNDS, PICKS, ROUND_TIMEOUT, mo_chain.head,
             keccak(b"x25519/" + base), sender=mo, value=price),
        c.tx("approve_couple", couple_id, do_chain.head, sender=do),
    ]
    used = 0
    for r in range(1, ROUNDS + 1):
        mv, dv = mo_chain.value(r), do_chain.value(r)
        chosen, used = draw_subsets(round_seed(couple_id, r, mv, dv), PICKS, SUBSETS, used)
        (subset,) = subsets_of(chosen)
        trained = digest(models[r])
        out += [c.tx("start_round", couple_id, mv, digest(models[r - 1]), sender=mo), c.tx("draw_round", couple_id, dv, sender=do)]
        for index in range(subset * REPLICAS, (subset + 1) * REPLICAS):
            co = cos[index]
            nonce = make_nonce(co)
            out.append(c.tx("update_job", couple_id, index, commitment(trained, nonce), nonce, b"\xc3" * 96, sender=co))
        out.append(c.tx("settle", couple_id, subset, trained, sender=mo))
    assert len(out) == len(STEPS)
    return out


def build_plan(market: TrainingMarket, roles: Roles, settings: BenchSettings, rate: float) -> Plan:
    """The whole run at ``rate`` tps for ``settings.duration_s`` seconds, in submit order."""
    trainings = max(1, round(rate * settings.duration_s / len(STEPS)))
    per = [training_txs(market, roles, settings, i) for i in range(trainings)]
    order = schedule(trainings)
    return Plan(
        rate=rate, trainings=trainings, market=market.address, requests=[per[i][s] for i, s in order], times=[j / rate for j in range(len(order))],
        training=[i for i, _ in order], step=[s for _, s in order], stage_gap_s=trainings / rate,
    )


# ---------------------------------------------------------------- results
def summarize(plan: Plan, *, backend: str, engine: str, submit: list[float], finish: list[float], outcome: bytearray,
              settings: BenchSettings, extra: dict | None = None) -> RateResult:
    """Caliper's numbers from per-transaction submit/finish times and outcomes.

    ``outcome[j]``: 1 committed and succeeded, 2 reverted, 3 rejected, 4 not
    committed within the timeout.
    """
    n = len(plan)
    succ = sum(1 for o in outcome if o == 1)
    reverted = sum(1 for o in outcome if o == 2)
    rejected = sum(1 for o in outcome if o == 3)
    timed_out = sum(1 for o in outcome if o == 4)
    first_submit, last_submit, last_finish = min(submit), max(submit), max(finish)
    total = succ + reverted + rejected + timed_out
    assert total == n, (total, n)
    lat = [finish[j] - submit[j] for j in range(n) if outcome[j] == 1]
    failed_training = set()
    by_step: dict[str, int] = {}
    for j in range(n):
        if outcome[j] != 1:
            failed_training.add(plan.training[j])
            key = f"{plan.step[j] + 1}:{STEPS[plan.step[j]]}"
            by_step[key] = by_step.get(key, 0) + 1
    recorded = plan.trainings - len(failed_training)
    window = last_finish - first_submit
    lag = [submit[j] - plan.times[j] for j in range(n)]
    lat_ms = _latency_ms(lat)
    return RateResult(
        backend=backend, engine=engine, target_tps=plan.rate, duration_s=settings.duration_s,
        stage_gap_s=round(plan.stage_gap_s, 3), trainings=plan.trainings, transactions=n, succeeded=succ,
        failed=n - succ, reverted=reverted, rejected=rejected, timed_out=timed_out,
        send_rate_tps=round(total / (last_submit - first_submit), 1) if last_submit > first_submit else float("nan"),
        throughput_tps=round(total / window, 1) if window > 0 else float("nan"),
        latency_ms=lat_ms, trainings_recorded=recorded, trainings_per_s=round(recorded / window, 2) if window > 0 else float("nan"),
        first_submit_s=round(first_submit, 6), last_submit_s=round(last_submit, 6), last_finish_s=round(last_finish, 6),
        submit_lag_ms=_latency_ms(lag), failures_by_step=by_step, **(extra or {}),
    )


def _latency_ms(samples_s: list[float]) -> dict[str, float]:
    if not samples_s:
        return {}
    p = _percentiles(samples_s)
    return {"avg": p["avg"], "min": round(1000 * min(samples_s), 3), "p50": p["p50"], "p95": p["p95"], "max": p["max"]}


def _stats(values: list[float], digits: int = 1) -> dict[str, float]:
    if not values:
        return {}
    return {"avg": round(statistics.fmean(values), digits), "min": round(min(values), digits), "max": round(max(values), digits)}


def _sleep_until(t: float) -> None:
    """Sleep until ``perf_counter() >= t`` (no spinning: the node needs the other core)."""
    while True:
        d = t - time.perf_counter()
        if d <= 0:
            return
        time.sleep(d)


# ---------------------------------------------------------------- embedded driver
def run_embedded(chain: Chain, plan: Plan, settings: BenchSettings, *, backend: str = "embedded",
                 engine: str | None = None) -> RateResult:
    """Open loop on an in-process chain: a scheduler thread enqueues, one executor runs in order."""
    n = len(plan)
    submit = [0.0] * n
    finish = [0.0] * n
    outcome = bytearray(n)
    q: deque[int] = deque()
    cond = threading.Condition()
    done_sending = threading.Event()
    batches = 0
    t0 = time.perf_counter() + 0.05

    def scheduler() -> None:
        nonlocal batches
        j = 0
        tick = settings.tick_s
        k = 0
        while j < n:
            k += 1
            _sleep_until(max(t0 + plan.times[j], t0 + k * tick))
            now = time.perf_counter()
            start = j
            limit = now - t0
            while j < n and plan.times[j] <= limit:
                submit[j] = limit
                j += 1
            if j > start:
                batches += 1
                with cond:
                    q.extend(range(start, j))
                    cond.notify()
        done_sending.set()
        with cond:
            cond.notify()

    th = threading.Thread(target=scheduler, name="caliper-scheduler", daemon=True)
    th.start()
    send = chain.send
    reqs = plan.requests
    executed = 0
    while executed < n:
        with cond:
            while not q:
                cond.wait(0.05)
            idx = q.popleft()
        try:
            send(reqs[idx])
            outcome[idx] = 1
        except TransactionReverted:
            outcome[idx] = 2
        finish[idx] = time.perf_counter() - t0
        executed += 1
    th.join()
    eng = engine or getattr(chain, "engine_name", type(chain).__name__)
    return summarize(plan, backend=backend, engine=eng, submit=submit, finish=finish, outcome=outcome, settings=settings,
                     extra={"batches": batches, "blocks": executed, "block_txs": {"avg": 1.0, "min": 1.0, "max": 1.0}})


# ---------------------------------------------------------------- anvil driver
class _Http:
    """One keep-alive JSON-RPC connection (http.client; no web3, no middleware)."""

    def __init__(self, url: str, timeout: float = 120.0):
        u = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
        self.path = u.path or "/"
        self.headers = {"Content-Type": "application/json"}

    def post_raw(self, body: bytes) -> bytes:
        self.conn.request("POST", self.path, body, self.headers)
        return self.conn.getresponse().read()

    def post(self, body: bytes):
        return json.loads(self.post_raw(body))

    def call(self, method: str, params: list):
        out = self.post(json.dumps({"jsonrpc": "2.0", "id": 0, "method": method, "params": params}).encode())
        if "error" in out:
            raise ChainError(f"{method}: {out['error']}")
        return out["result"]

    def close(self) -> None:
        self.conn.close()


#: The one event each of the 15 calls emits exactly once when it succeeds (a reverted call emits none).
SUCCESS_EVENTS = ("ModelRegistered", "CoupleRequested", "CoupleApproved", "RoundRequested", "RoundStarted", "JobUpdated",
                  "SubsetSettled")
_HASH = re.compile(rb'"(0x[0-9a-f]{64})"')
_TX_HASH = re.compile(rb'"transactionHash":"(0x[0-9a-f]{64})"')
_TXS = re.compile(rb'"transactions":\[([^\]]*)\]')


def _success_topics() -> list[str]:
    from ledgerlearn.chain.contract import ContractABI
    from ledgerlearn.markets.training.client import artifact

    events = ContractABI(artifact().abi).events
    return ["0x" + events[name].topic0.hex() for name in SUCCESS_EVENTS]


def _block_status(conn: "_Http", number: int, market: str, topics: list) -> tuple[list[str], set[str]]:
    """Hashes of the transactions in block ``number`` and of those that succeeded.

    One batch: ``eth_getBlockByNumber(n, false)`` (inclusion) and the block's
    :data:`SUCCESS_EVENTS` logs from the market (success). anvil 1.7.1's
    ``eth_getBlockReceipts`` takes time quadratic in the block's size (measured
    here: 500 transactions 72 ms, 1,000 277 ms, 2,000 3.6 s), which turned
    any backlog into a collapse; these two calls stay linear (2,000: ~70 ms).
    """
    q = hex(number)
    body = json.dumps([
        {"jsonrpc": "2.0", "id": 0, "method": "eth_getBlockByNumber", "params": [q, False]},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [{"fromBlock": q, "toBlock": q, "address": market, "topics": topics}]},
    ]).encode()
    raw = conn.post_raw(body)
    m = _TXS.search(raw)
    if m is None or b'"error"' in raw[:200]:
        raise ChainError(f"block {number}: unexpected answer {raw[:300]!r}")
    included = [h.decode() for h in _HASH.findall(m.group(1))]
    return included, {h.decode() for h in _TX_HASH.findall(raw)}


@dataclass
class SignedPlan:
    """A plan's transactions signed for anvil: request text and hash per slot."""

    bodies: list[bytes]  # one JSON-RPC request object each, id = slot index
    hashes: list[str]
    signing: SigningStats


def _sign_slice(args) -> list[tuple[bytes, bytes]]:
    from ledgerlearn.chain.rpc import sign_eip1559

    chain_id, items = args
    cache: dict[bytes, PrivateKey] = {}
    out = []
    for key, nonce, to, value, data in items:
        pk = cache.get(key)
        if pk is None:
            pk = cache[key] = PrivateKey(key)
        out.append(sign_eip1559(pk, chain_id, nonce, TIP, MAX_FEE, TX_GAS, to, value, data))
    return out


def sign_plan(plan: Plan, roles: Roles, chain_id: int, nonces: dict[str, int], *, processes: int = 1) -> SignedPlan:
    """Sign every transaction of ``plan`` (nonces in submit order per sender)."""
    t = time.perf_counter()
    nxt = dict(nonces)
    items = []
    for req in plan.requests:
        nonce = nxt[req.sender]
        nxt[req.sender] = nonce + 1
        items.append((roles.keys[req.sender], nonce, to_canonical_address(req.to), req.value, req.data))
    if processes > 1 and len(items) > 2000:
        import multiprocessing as mp

        size = -(-len(items) // processes)
        parts = [(chain_id, items[k:k + size]) for k in range(0, len(items), size)]
        with mp.get_context("fork").Pool(processes) as pool:
            signed = [x for part in pool.map(_sign_slice, parts) for x in part]
    else:
        processes = 1
        signed = _sign_slice((chain_id, items))
    bodies = [
        b'{"jsonrpc":"2.0","id":%d,"method":"eth_sendRawTransaction","params":["0x%s"]}' % (j, raw.hex().encode())
        for j, (raw, _) in enumerate(signed)
    ]
    hashes = ["0x" + h.hex() for _, h in signed]
    return SignedPlan(bodies, hashes, SigningStats(len(items), time.perf_counter() - t, processes))


def _cpu_seconds(pid: int | None = None) -> float | None:
    """User + system CPU seconds of a process (Linux /proc; None elsewhere)."""
    try:
        with open(f"/proc/{pid or 'self'}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        import os

        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def run_anvil(url: str, plan: Plan, signed: SignedPlan, settings: BenchSettings, *, engine: str = "anvil",
              node_pid: int | None = None, trace: list | None = None) -> RateResult:
    """Open loop against anvil (``--no-mining``): submitter thread, client-side block policy, commit status per block.

    ``trace``, if given, receives one ``(time, pending, txs, mine_ms, status_ms)`` per block.
    """
    n = len(plan)
    submit = [0.0] * n
    finish = [0.0] * n
    outcome = bytearray(n)
    index = {h: j for j, h in enumerate(signed.hashes)}
    topics = [_success_topics()]
    cond = threading.Condition()
    pending: deque[int] = deque()  # sent, not yet finished, in submit order
    state = {"inflight": 0, "sending_done": False, "stop": False, "batches": 0}
    blocks: list[int] = []
    mine_ms: list[float] = []
    rcpt_ms: list[float] = []
    rtt_ms: list[float] = []
    errors: list[str] = []
    sub_conn, mine_conn = _Http(url), _Http(url)
    start_block = int(mine_conn.call("eth_blockNumber", []), 16)
    cpu0 = (_cpu_seconds(), _cpu_seconds(node_pid) if node_pid else None)
    t0 = time.perf_counter() + 0.1

    def submitter() -> None:
        j = 0
        k = 0
        tick = settings.tick_s
        try:
            while j < n:
                k += 1
                _sleep_until(max(t0 + plan.times[j], t0 + k * tick))
                now = time.perf_counter() - t0
                start = j
                while j < n and plan.times[j] <= now and j - start < MAX_BATCH:
                    j += 1
                if j == start:
                    continue
                with cond:
                    for x in range(start, j):
                        submit[x] = now
                    pending.extend(range(start, j))
                    state["inflight"] += j - start
                    cond.notify()
                body = b"[" + b",".join(signed.bodies[start:j]) + b"]"
                b0 = time.perf_counter()
                res = sub_conn.post(body)
                rtt_ms.append(1000 * (time.perf_counter() - b0))
                state["batches"] += 1
                bad = []
                if isinstance(res, dict):  # the whole batch refused
                    bad = list(range(start, j))
                    errors.append(str(res.get("error", res))[:200])
                else:
                    for r in res:
                        if "error" in r:
                            bad.append(r["id"])
                            if len(errors) < 5:
                                errors.append(str(r["error"])[:200])
                if bad:
                    t = time.perf_counter() - t0
                    with cond:
                        for x in bad:
                            if outcome[x] == 0:
                                outcome[x] = 3
                                finish[x] = t
                                state["inflight"] -= 1
                        cond.notify()
        finally:
            with cond:
                state["sending_done"] = True
                cond.notify()

    def oldest_pending() -> float | None:
        while pending and outcome[pending[0]] != 0:
            pending.popleft()
        return submit[pending[0]] if pending else None

    def miner() -> None:
        number = start_block
        while True:
            with cond:
                while True:
                    if state["stop"]:
                        return
                    if state["inflight"] >= settings.block_size:
                        break
                    first = oldest_pending()
                    if first is not None:
                        wait = first + settings.block_timeout_s - (time.perf_counter() - t0)
                        if wait <= 0:
                            break
                        cond.wait(wait)
                    else:
                        if state["sending_done"]:
                            return
                        cond.wait(0.05)
            m0 = time.perf_counter()
            inflight = state["inflight"]
            mine_conn.call("evm_mine", [])
            m1 = time.perf_counter()
            number += 1
            included, succeeded = _block_status(mine_conn, number, plan.market, topics)
            m2 = time.perf_counter()
            t = m2 - t0
            mine_ms.append(1000 * (m1 - m0))
            rcpt_ms.append(1000 * (m2 - m1))
            blocks.append(len(included))
            if trace is not None:
                trace.append((round(m0 - t0, 3), inflight, len(included), round(1000 * (m1 - m0), 1), round(1000 * (m2 - m1), 1)))
            with cond:
                for h in included:
                    j = index.get(h)
                    if j is None or outcome[j] != 0:
                        continue
                    outcome[j] = 1 if h in succeeded else 2
                    finish[j] = t
                    state["inflight"] -= 1
            if not included:
                time.sleep(0.002)

    crashed: list[BaseException] = []

    def guarded(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                crashed.append(exc)
        return run

    ts = threading.Thread(target=guarded(submitter), name="caliper-submit", daemon=True)
    tm = threading.Thread(target=guarded(miner), name="caliper-miner", daemon=True)
    ts.start()
    tm.start()
    ts.join()
    deadline = time.perf_counter() + settings.commit_timeout_s + settings.block_timeout_s
    while time.perf_counter() < deadline and not crashed:
        with cond:
            if state["inflight"] <= 0:
                break
        time.sleep(0.01)
    with cond:
        state["stop"] = True
        cond.notify()
    tm.join(timeout=60)
    cpu1 = (_cpu_seconds(), _cpu_seconds(node_pid) if node_pid else None)
    sub_conn.close()
    mine_conn.close()
    if crashed:
        raise ChainError(f"caliper run against {url} failed: {crashed[0]!r}") from crashed[0]
    cpu = {}
    if cpu0[0] is not None and cpu1[0] is not None:
        cpu["client"] = round(cpu1[0] - cpu0[0], 2)
    if cpu0[1] is not None and cpu1[1] is not None:
        cpu["node"] = round(cpu1[1] - cpu0[1], 2)
    for j in range(n):
        if outcome[j] == 0:
            outcome[j] = 4
            finish[j] = submit[j] + settings.commit_timeout_s
    notes = [f"node errors (first {len(errors)}): " + "; ".join(errors)] if errors else []
    return summarize(plan, backend="anvil", engine=engine, submit=submit, finish=finish, outcome=outcome, settings=settings,
                     extra={"blocks": len(blocks), "block_txs": _stats([float(b) for b in blocks]), "mine_ms": _stats(mine_ms),
                            "status_ms": _stats(rcpt_ms), "cpu_s": cpu, "batches": state["batches"],
                            "batch_rtt_ms": _latency_ms([x / 1000 for x in rtt_ms]), "signing": signed.signing, "notes": notes})


# ---------------------------------------------------------------- whole runs
def _anvil_version() -> str:
    from ledgerlearn.chain.anvil import anvil_version, find_anvil

    b = find_anvil()
    try:
        return f"anvil {anvil_version(b)}" if b else "anvil"
    except ChainError:
        return "anvil"


def run_anvil_rate(rate: float, settings: BenchSettings, *, sign_processes: int = 1, progress: Callable[[str], None] | None = None,
                   trace: list | None = None) -> RateResult:
    """Fresh anvil node, set-up, plan, signing, then the timed open-loop run at ``rate``."""
    from ledgerlearn.chain.anvil import AnvilNode
    from ledgerlearn.chain.rpc import RpcChain

    say = progress or (lambda _m: None)
    roles = make_roles(settings)
    with AnvilNode(no_mining=True, gas_limit=ANVIL_GAS_LIMIT) as node:
        t = time.perf_counter()
        chain = RpcChain(node.url, max_priority_fee=TIP, max_fee=MAX_FEE)
        for k in roles.keys.values():
            chain.add_account(k)
        rpc = _Http(node.url)

        def fund(addrs: list[str]) -> None:
            rpc.post(json.dumps([{"jsonrpc": "2.0", "id": i, "method": "anvil_setBalance", "params": [a, hex(FUND_WEI)]}
                                 for i, a in enumerate(addrs)]).encode())

        market = setup_market(chain, roles, settings, fund=fund)
        plan = build_plan(market, roles, settings, rate)
        setup_s = time.perf_counter() - t
        senders = sorted({r.sender for r in plan.requests})
        res = rpc.post(json.dumps([{"jsonrpc": "2.0", "id": i, "method": "eth_getTransactionCount", "params": [a, "latest"]}
                                   for i, a in enumerate(senders)]).encode())
        nonces = {senders[r["id"]]: int(r["result"], 16) for r in res}
        chain_id = chain.chain_id
        chain.close()  # no helper threads left behind when signing forks
        rpc.close()
        say(f"anvil {rate:g} tps: set-up {setup_s:.1f} s; signing {len(plan):,} transactions ...")
        signed = sign_plan(plan, roles, chain_id, nonces, processes=sign_processes)
        say(f"anvil {rate:g} tps: signed in {signed.signing.seconds:.2f} s; running {settings.duration_s:g} s open loop ...")
        result = run_anvil(node.url, plan, signed, settings, engine=_anvil_version(), node_pid=node.pid, trace=trace)
        result.setup_s = round(setup_s, 2)
        interval = min(settings.block_timeout_s, settings.block_size / rate)
        if plan.stage_gap_s <= interval:
            result.notes.append(f"stage gap {plan.stage_gap_s:.2f} s is not longer than the block interval (~{interval:.2f} s):"
                                " dependent transactions may share their prerequisite's block (harmless here: arrival order)")
        return result


def run_embedded_rate(rate: float, settings: BenchSettings, *, engine: str = "fast",
                      progress: Callable[[str], None] | None = None) -> RateResult:
    """Fresh embedded chain, set-up, plan, then the timed open-loop run at ``rate``."""
    from ledgerlearn.simulation.runner import make_chain

    say = progress or (lambda _m: None)
    t = time.perf_counter()
    chain = make_chain(engine)
    roles = make_roles(settings)
    for k in roles.keys.values():
        chain.add_account(k)
    market = setup_market(chain, roles, settings)
    plan = build_plan(market, roles, settings, rate)
    setup_s = time.perf_counter() - t
    say(f"embedded ({engine}) {rate:g} tps: set-up {setup_s:.1f} s; running {settings.duration_s:g} s open loop ...")
    result = run_embedded(chain, plan, settings, backend="embedded" if engine == "fast" else f"embedded-{engine}")
    result.setup_s = round(setup_s, 2)
    return result


BACKENDS = ("anvil", "embedded", "embedded-exact")


def run_bench(rates: list[float], backends: list[str], settings: BenchSettings, *, sign_processes: int = 1,
              progress: Callable[[str], None] | None = None) -> CaliperBench:
    """Every (backend, rate) run, each on a fresh chain."""
    settings.validate()
    for b in backends:
        if b not in BACKENDS:
            raise ValidationError(f"backends: unknown backend {b!r} (known: {', '.join(BACKENDS)})")
    results = []
    for b in backends:
        for rate in rates:
            if b == "anvil":
                results.append(run_anvil_rate(rate, settings, sign_processes=sign_processes, progress=progress))
            else:
                results.append(run_embedded_rate(rate, settings, engine="exact" if b == "embedded-exact" else "fast", progress=progress))
    return CaliperBench(settings, results)
