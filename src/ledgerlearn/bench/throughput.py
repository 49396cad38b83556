"""Contributions per second through the Python client, per backend.

Workload: the IMDB-sized sparse perceptron (1000 weights) under
Deposit-Refund-Take; each contribution is a random 20-token sample with a random
label, sent by one of several dev accounts through
:class:`ledgerlearn.shared_models.client.SharedModel` (encoding, deposit,
signing, receipt, event decoding included).

- ``exact``: :class:`LocalChain` (py-evm, exact transaction gas), one
  contribution at a time;
- ``fast``: :class:`FastLocalChain` (pyrevm; gas is not transaction gas);
- ``anvil``: :class:`RpcChain` against anvil in ``--no-mining`` mode, signed
  transactions sent as raw JSON-RPC batches and mined with ``evm_mine``;
  latency is per transaction from its batch's send to its receipt.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import asdict, dataclass

from ledgerlearn.chain.base import Chain
from ledgerlearn.models.sparse_perceptron import SparsePerceptron
from ledgerlearn.shared_models.client import SharedModel
from ledgerlearn.shared_models.deploy import deploy_shared_model

SCALE = 10**9
FEATURES = 1000
TOKENS = 20


@dataclass
class ThroughputResult:
    backend: str
    engine: str
    gas_exact: bool
    contributions: int
    seconds: float
    per_second: float
    latency_ms: dict[str, float]
    batch_size: int = 1

    def to_json(self) -> dict:
        return asdict(self)


def _percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples_s)
    q = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else [ms[0]] * 99
    return {"avg": round(statistics.fmean(ms), 3), "p50": round(q[49], 3), "p95": round(q[94], 3), "p99": round(q[98], 3), "max": round(ms[-1], 3)}


def _setup(chain: Chain, seed: int) -> tuple[SharedModel, random.Random]:
    rng = random.Random(seed)
    model = SparsePerceptron(num_features=FEATURES, weights={i: rng.randint(-2 * SCALE, 2 * SCALE) for i in range(FEATURES)}, learning_rate=SCALE // 2)
    owner = chain.accounts[0]
    res = deploy_shared_model(chain, model, incentive="drt", name="throughput", encoder="none", owner=owner,
                              refund_wait=86_400, owner_claim_wait=8 * 86_400, any_claim_wait=9 * 86_400, cost_weight=10**9)
    return SharedModel(chain, res.address, from_block=res.deploy_block), rng


def _samples(rng: random.Random, n: int) -> list[tuple[list[int], int]]:
    return [(sorted(rng.sample(range(FEATURES), TOKENS)), rng.randint(0, 1)) for _ in range(n)]


def run_sequential(chain: Chain, backend: str, n: int, *, seed: int = 0) -> ThroughputResult:
    """``n`` contributions one after another through ``SharedModel.contribute``."""
    client, rng = _setup(chain, seed)
    senders = chain.accounts[1:6]
    work = _samples(rng, n)
    lat = []
    exact = True
    t0 = time.perf_counter()
    for i, (x, label) in enumerate(work):
        t = time.perf_counter()
        r = client.contribute(x, label, sender=senders[i % len(senders)], encoded=True)
        lat.append(time.perf_counter() - t)
        exact = exact and r.gas_exact
    dt = time.perf_counter() - t0
    return ThroughputResult(backend, getattr(chain, "engine_name", type(chain).__name__), exact, n, round(dt, 3), round(n / dt, 1), _percentiles(lat))


def run_batched(chain: Chain, backend: str, n: int, *, batch: int = 500, seed: int = 0) -> ThroughputResult:
    """``n`` contributions in batches through ``SharedModel.contribute_many``."""
    client, rng = _setup(chain, seed)
    senders = chain.accounts[1:6]
    work = _samples(rng, n)
    lat: list[float] = []
    exact = True
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        chunk = work[start:start + batch]
        t = time.perf_counter()
        results = client.contribute_many([(x, label, senders[(start + j) % len(senders)]) for j, (x, label) in enumerate(chunk)], encoded=True)
        elapsed = time.perf_counter() - t
        for r in results:
            if isinstance(r, Exception):
                raise r
            exact = exact and r.gas_exact
        lat.extend([elapsed] * len(chunk))
    dt = time.perf_counter() - t0
    return ThroughputResult(backend, getattr(chain, "engine_name", type(chain).__name__), exact, n, round(dt, 3), round(n / dt, 1), _percentiles(lat), batch)
