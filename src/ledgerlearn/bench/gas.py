"""Gas per operation of our contracts next to the reference contracts.

For each row of :data:`~ledgerlearn.bench.reference.GAS_REFERENCE` a model of
the same kind and size is deployed on a fresh exact-gas :class:`LocalChain`
with Deposit-Refund-Take, all waits 0 and ``cost_weight = 1e9`` (the reference
gas script's settings), then the same sample is contributed:

- ``deploy``: every transaction of the first model of its kind on a chain
  (factory, implementation, clone, parameters, finalize); ``deploy_next``: a
  further model of the same kind (the implementation is shared);
- ``add``: label equal to the current prediction (no model change);
- ``add_update``: label different from the prediction (the model changes);
- ``refund``: the author's refund of the ``add`` contribution;
- ``report``: another account's take-all of the ``add_update`` contribution.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass

from ledgerlearn.bench.reference import GAS_REFERENCE, GOAL_DEPLOY, GOAL_OPERATION, SAMPLE_15, SAMPLE_20, GasReference
from ledgerlearn.chain.contract import Contract
from ledgerlearn.chain.local import LocalChain
from ledgerlearn.contracts import registry
from ledgerlearn.models.dense_centroid import DenseCentroid
from ledgerlearn.models.dense_perceptron import DensePerceptron
from ledgerlearn.models.naive_bayes import NaiveBayes
from ledgerlearn.models.sparse_centroid import SparseCentroid
from ledgerlearn.models.sparse_perceptron import SparsePerceptron
from ledgerlearn.shared_models.deploy import deploy_shared_model

SCALE = 10**9
OPERATIONS = ("deploy", "add", "add_update", "refund", "report")


@dataclass
class GasRow:
    key: str
    title: str
    ours: dict[str, int]
    reference: dict[str, int]

    @property
    def ratios(self) -> dict[str, float]:
        return {op: self.ours[op] / self.reference[op] for op in OPERATIONS}

    @property
    def meets_goals(self) -> dict[str, bool]:
        return {op: r <= (GOAL_DEPLOY if op == "deploy" else GOAL_OPERATION) for op, r in self.ratios.items()}

    def to_json(self) -> dict:
        d = asdict(self)
        d["ratio"] = {k: round(v, 4) for k, v in self.ratios.items()}
        # A further model of the same kind reuses the implementation: the per-model deploy cost.
        d["ratio"]["deploy_next"] = round(self.ours["deploy_next"] / self.reference["deploy"], 4)
        d["meets_goal"] = self.meets_goals
        return d


def _unit_vector(rng: random.Random, n: int) -> list[int]:
    v = [rng.gauss(0, 1) for _ in range(n)]
    norm = math.sqrt(sum(a * a for a in v))
    from ledgerlearn.models.base import normalize

    return normalize([a / norm for a in v])


def _model_and_sample(ref: GasReference, rng: random.Random):
    """A model of the reference's kind and size, and the sample to contribute."""
    n = ref.size
    if ref.sample == "sample20":
        sample = list(SAMPLE_20)
    elif ref.sample == "sample15":
        sample = list(SAMPLE_15)
    elif ref.sample == "tokens9":
        sample = list(range(9))
    else:
        sample = _unit_vector(rng, n)
    if ref.kind == "sparse_perceptron":
        model = SparsePerceptron(num_features=n, weights={i: rng.randint(-5 * SCALE, 5 * SCALE) for i in range(n)}, intercept=0, learning_rate=SCALE // 2)
    elif ref.kind == "naive_bayes":
        model = NaiveBayes(num_features=n, class_count=[50, 50], feature_count=[{i: rng.randint(1, 40) for i in range(n)} for _ in range(2)])
    elif ref.kind == "sparse_centroid":
        model = SparseCentroid(num_features=n, sums=[{i: rng.randint(1, 20) * SCALE for i in range(n)} for _ in range(2)], data_counts=[20, 20])
    elif ref.kind == "dense_perceptron":
        model = DensePerceptron(weights=[rng.randint(-SCALE, SCALE) for _ in range(n)], intercept=0, learning_rate=SCALE)
    elif ref.kind == "dense_centroid":
        model = DenseCentroid(centroids=[_unit_vector(rng, n) for _ in range(2)], data_counts=[10, 10])
    else:
        raise ValueError(ref.kind)
    return model, sample


def measure(ref: GasReference, *, seed: int = 0) -> GasRow:
    """Measure one reference row on a fresh exact-gas chain."""
    rng = random.Random(seed)
    model, x = _model_and_sample(ref, rng)
    chain = LocalChain()
    owner, author, reporter = chain.accounts[:3]
    params = dict(incentive="drt", name="bench", encoder="none", owner=owner, cost_weight=10**9)
    first = deploy_shared_model(chain, model, **params)
    further = deploy_shared_model(chain, model, **params)
    c = Contract(chain, first.address, registry.entry_artifact(ref.kind, "drt").abi)

    def add(label: int):
        return c.transact("add_data", x, label, sender=author, value=c.call("next_deposit"))

    base = chain.snapshot()
    agree = c.call("predict", x)
    r_add = add(agree)
    r_refund = c.transact("refund", x, agree, r_add.timestamp, sender=author)
    chain.revert(base)
    r_upd = add(1 - agree)
    r_report = c.transact("report", x, 1 - agree, r_upd.timestamp, author, sender=reporter)
    ours = {
        "deploy": first.gas_total,
        "deploy_next": further.gas_total,
        "add": r_add.gas_used,
        "add_update": r_upd.gas_used,
        "refund": r_refund.gas_used,
        "report": r_report.gas_used,
    }
    assert all(r.gas_exact for r in (r_add, r_upd, r_refund, r_report))
    reference = {op: getattr(ref, op) for op in OPERATIONS}
    return GasRow(ref.key, ref.title, ours, reference)


def run(keys: list[str] | None = None) -> list[GasRow]:
    refs = [r for r in GAS_REFERENCE if not keys or r.key in keys]
    return [measure(r) for r in refs]
