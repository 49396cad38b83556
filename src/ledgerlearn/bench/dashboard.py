"""Response times of the dashboard's list endpoints with many contributions on one model.

Fills a naive Bayes sentiment model (MurmurHash3 text, Deposit-Refund-Take)
with ``n`` contributions from eight accounts (about 10% with a flipped label),
lets the refund wait pass, makes one account verified (a refund), and then
times the JSON API through HTTP (FastAPI's test client, in process): the first
request (which reads and indexes every event), then each endpoint's first call
(which may build a cache: the exact accuracy replay, the model's opinion of
each contribution) and its warm median and p95 over ``repeats`` calls; last,
the same endpoints right after one more contribution (caches refresh
incrementally).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ledgerlearn.demo_data import generate
from ledgerlearn.encoders import get_encoder
from ledgerlearn.models.naive_bayes import NaiveBayes
from ledgerlearn.shared_models.publish import publish_model
from ledgerlearn.simulation.runner import make_chain
from ledgerlearn.store.deployments import DeploymentStore

DAY = 86_400
AUTHORS = 8


@dataclass
class EndpointTiming:
    endpoint: str
    first_ms: float
    median_ms: float
    p95_ms: float
    after_new_ms: float | None
    items: int | None
    total: int | None
    kbytes: float


@dataclass
class DashboardBench:
    backend: str
    contributions: int
    fill_s: float
    first_request_ms: float
    timings: list[EndpointTiming] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _fill(n: int, backend: str, root: Path, seed: int):
    """A chain with one model holding ``n`` contributions; returns (chain, deployments, model name, seconds)."""
    from ledgerlearn.shared_models.client import SharedModel

    chain = make_chain(backend)
    enc = get_encoder("MurmurHash3")
    train, held_out, stream = generate(200, seed=seed), generate(1000, seed=seed + 1), generate(n, seed=seed + 2, noise=0.1)
    nb = NaiveBayes(classes=["negative", "positive"]).fit([enc.encode(r.text, "naive bayes") for r in train], [r.label for r in train])
    deployments = DeploymentStore(root / "deployments")
    owner = chain.accounts[0]
    publish_model(
        chain, deployments, nb, name="reviews", owner=owner, incentive="drt", refund_wait=DAY, owner_claim_wait=8 * DAY,
        any_claim_wait=9 * DAY, cost_weight=10**12,
        evaluation=([enc.encode(r.text, "naive bayes") for r in held_out], [r.label for r in held_out]),
    )
    rec = deployments.get(chain.chain_id, "reviews")
    model = SharedModel(chain, rec.address, from_block=rec.deploy_block)
    authors = chain.accounts[1:1 + AUTHORS]
    t0 = time.perf_counter()
    for start in range(0, n, 500):
        batch = [(r.text, r.label, authors[(start + i) % AUTHORS]) for i, r in enumerate(stream[start:start + 500])]
        failed = [r for r in model.contribute_many(batch) if isinstance(r, Exception)]
        if failed:
            raise failed[0]
    fill_s = time.perf_counter() - t0
    chain.advance_time(DAY + 1)
    for c in model.contributions(author=authors[0], with_status=False)[:50]:  # make authors[0] verified
        if model.predict(list(c.x), encoded=True) == c.label:
            model.refund(c.tx_hash, sender=authors[0])
            break
    return chain, deployments, "reviews", fill_s, authors


def _ms(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t) * 1000, out


def run(n: int = 10_000, *, backend: str = "exact", repeats: int = 10, seed: int = 0) -> DashboardBench:
    """Fill a model with ``n`` contributions on ``backend`` (exact: py-evm, the dashboard's embedded chain; fast: pyrevm) and time the API."""
    from fastapi.testclient import TestClient

    from ledgerlearn.dashboard.app import create_app
    from ledgerlearn.dashboard.service import DashboardService

    with tempfile.TemporaryDirectory() as tmp:
        chain, deployments, name, fill_s, authors = _fill(n, backend, Path(tmp), seed)
        service = DashboardService(chain, deployments, runs_dir=tmp)
        me, last_page = authors[0], max(0, n - 50)
        endpoints = {
            "contributions, page 1": f"/api/models/{name}/contributions?limit=50",
            "contributions, middle page": f"/api/models/{name}/contributions?offset={n // 2}&limit=50",
            "contributions, last page": f"/api/models/{name}/contributions?offset={last_page}&limit=50",
            "one author's, page 1": f"/api/models/{name}/contributions?author={me}&limit=50",
            "reportable, page 1": f"/api/models/{name}/reportable?account={me}&limit=50",
            "account balance and score": f"/api/models/{name}/accounts/{me}",
            "models list": "/api/models",
            "model info": f"/api/models/{name}",
            "accuracy chart": f"/api/models/{name}/charts/accuracy",
            "balances chart": f"/api/models/{name}/charts/balances",
        }
        with TestClient(create_app(service)) as client:
            def get(path: str):
                r = client.get(path)
                if r.status_code != 200:
                    raise RuntimeError(f"{path}: {r.status_code} {r.text[:200]}")
                return r

            first_ms, _ = _ms(lambda: get(f"/api/models/{name}/deposit"))  # reads and indexes every event
            result = DashboardBench(backend, n, round(fill_s, 1), round(first_ms, 1))
            rows = {}
            for label, path in endpoints.items():
                f_ms, r = _ms(lambda: get(path))
                warm = sorted(_ms(lambda: get(path))[0] for _ in range(repeats))
                body = r.json()
                rows[label] = EndpointTiming(
                    label, round(f_ms, 1), round(statistics.median(warm), 1), round(warm[int(0.95 * (len(warm) - 1))], 1),
                    None, len(body["items"]) if isinstance(body, dict) and "items" in body else None,
                    body.get("total") if isinstance(body, dict) else None, round(len(r.content) / 1024, 1),
                )
            new = client.post(f"/api/models/{name}/contributions", json={"input": "a great film", "label": "positive", "account": me})
            if new.status_code != 200:
                raise RuntimeError(f"contribute: {new.text}")
            for label, path in endpoints.items():
                rows[label].after_new_ms = round(_ms(lambda: get(path))[0], 1)
            result.timings = list(rows.values())
        chain.close()
        return result
