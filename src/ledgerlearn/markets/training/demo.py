"""One data owner, m*n cloud owners (one fraudulent) and a model owner on real MNIST, in one process.

:func:`run_demo` is what ``ledgerlearn market training demo`` prints and
what the evidence tests drive: the agents of :mod:`.agents` on a fresh
embedded chain, each with its own master secret, pseudonyms funded by a
faucet (a dev account that belongs to nobody in the market).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from ledgerlearn.chain.base import Chain, TxRequest
from ledgerlearn.errors import ValidationError
from ledgerlearn.markets.data.blobstore import BlobStore
from ledgerlearn.markets.training import learning
from ledgerlearn.markets.training.agents import (
    BEHAVIOURS, CloudOwnerAgent, DataOwnerAgent, ModelOwnerAgent, RoundReport, run_in_process,
)
from ledgerlearn.markets.training.client import TrainingMarket
from ledgerlearn.markets.training.trainers import ModelSpec
from ledgerlearn.markets.training.transfer import Pseudonyms

__all__ = ["DemoConfig", "DemoResult", "World", "build_world", "load_mnist", "run_demo"]

GAS_MONEY = 10**18


@dataclass(frozen=True)
class DemoConfig:
    subsets: int = 4
    replicas: int = 3
    rounds: int = 4
    picks: int = 2
    fraud: str = "dummy-model"
    fraud_index: int = 1
    mode: str = "plain"
    train_samples: int = 12000
    test_samples: int = 2000
    steps: int = 100
    licence_fee: int = 10**16
    job_price: int = 10**15
    timeout: int = 3600
    engine: str = "fast"
    seed: int = 0

    def __post_init__(self):
        if not 1 <= self.subsets <= 16:
            raise ValidationError(f"subsets: must be 1..16, got {self.subsets}")
        if not 1 <= self.replicas <= 8:
            raise ValidationError(f"replicas: must be 1..8, got {self.replicas}")
        if not 1 <= self.picks <= self.subsets:
            raise ValidationError(f"picks: must be 1..subsets ({self.subsets}), got {self.picks}")
        if self.rounds < 1:
            raise ValidationError(f"rounds: must be positive, got {self.rounds}")
        if self.fraud not in BEHAVIOURS:
            raise ValidationError(f"fraud: expected one of {', '.join(BEHAVIOURS)}, got {self.fraud!r}")
        if not 0 <= self.fraud_index < self.subsets * self.replicas:
            raise ValidationError(f"fraud index: must be 0..{self.subsets * self.replicas - 1}, got {self.fraud_index}")


@dataclass
class World:
    """Every agent of one demo market."""

    chain: Chain
    market: TrainingMarket
    blobs: BlobStore
    data_owner: DataOwnerAgent
    cloud_owners: list[CloudOwnerAgent]
    model_owner: ModelOwnerAgent
    faucet: str

    def steps(self) -> list:
        return [self.data_owner.step, self.model_owner.step] + [c.step for c in self.cloud_owners]

    def run(self) -> None:
        mo = self.model_owner
        run_in_process(self.market, self.steps(), until=lambda: mo.done and self.market.owed(mo.address) == 0)

    def withdraw_all(self) -> dict[str, int]:
        """Every member takes what it is owed (to its own pseudonym)."""
        paid = {}
        for agent in [self.data_owner, *self.cloud_owners, self.model_owner]:
            owed = self.market.owed(agent.address)
            if owed:
                self.market.withdraw(agent.address, sender=agent.address)
                paid[agent.address] = owed
        return paid


@dataclass
class DemoResult:
    config: DemoConfig
    accuracy_before: float | None
    reports: list[RoundReport]
    fraudulent: str
    paid: dict[str, int]
    escrow_refund: int
    plaintext_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def detected(self) -> list[tuple[int, int, str]]:
        """(round, instance, verdict) of every job that was not passed."""
        return [(r.round, j.index, j.verdict) for r in self.reports for j in r.jobs if j.verdict != "passed"]


def load_mnist(train: int, test: int):
    from ledgerlearn.datasets import load

    ds = load("mnist", progress=False)
    x = ds.x_train[:train].reshape(train, -1).astype(np.uint8)
    y = ds.y_train[:train].astype(np.uint8)
    xt = ds.x_test[:test].reshape(test, -1).astype(np.uint8)
    yt = ds.y_test[:test].astype(np.uint8)
    return x, y, xt, yt


def build_world(cfg: DemoConfig, data=None, *, chain: Chain | None = None, blobs: BlobStore | None = None) -> World:
    """A fresh market with every agent of ``cfg`` (nothing sent but the faucet's gas money)."""
    from ledgerlearn.simulation.runner import make_chain

    x, y, xt, yt = data if data is not None else load_mnist(cfg.train_samples, cfg.test_samples)
    chain = chain or make_chain(cfg.engine)
    blobs = blobs or BlobStore(tempfile.mkdtemp(prefix="ledgerlearn-blobs-"))
    faucet = chain.accounts[0]
    market = TrainingMarket.deploy(chain, sender=faucet)
    rng = np.random.default_rng(cfg.seed)
    ids = lambda: Pseudonyms(rng.bytes(32))  # noqa: E731 - one master secret per member
    dataset_id = bytes(rng.bytes(32))
    split = learning.skewed_split(y, cfg.subsets, seed=cfg.seed)
    do = DataOwnerAgent(market, blobs, ids(), dataset_id=dataset_id, subsets=[(x[s], y[s]) for s in split],
                        n=cfg.replicas, licence_fee=cfg.licence_fee, job_price=cfg.job_price, meta=b"mnist")
    cos = [CloudOwnerAgent(market, blobs, ids(), dataset_id=dataset_id, index=i,
                           behaviour=cfg.fraud if i == cfg.fraud_index else "honest")
           for i in range(cfg.subsets * cfg.replicas)]
    spec = ModelSpec(mode=cfg.mode, method=learning.TrainingMethod(steps=cfg.steps))
    mo = ModelOwnerAgent(market, blobs, ids(), model_id=bytes(rng.bytes(32)), couple_id=bytes(rng.bytes(32)),
                         dataset_id=dataset_id, spec=spec, rounds=cfg.rounds, picks=cfg.picks, timeout=cfg.timeout,
                         test=(xt, yt))
    for agent in [do, mo, *cos]:
        chain.send(TxRequest(sender=faucet, to=agent.address, data=b"", value=GAS_MONEY))
    return World(chain, market, blobs, do, cos, mo, faucet)


def run_demo(cfg: DemoConfig, *, data=None) -> DemoResult:
    """Run the whole market; also trains the same schedule in plaintext without the market (the baseline)."""
    t0 = time.perf_counter()
    data = data if data is not None else load_mnist(cfg.train_samples, cfg.test_samples)
    world = build_world(cfg, data)
    world.run()
    paid = world.withdraw_all()
    mo = world.model_owner
    result = DemoResult(
        config=cfg, accuracy_before=mo.initial_accuracy, reports=mo.reports,
        fraudulent=world.cloud_owners[cfg.fraud_index].address, paid=paid, escrow_refund=mo.withdrawn,
    )
    if cfg.mode == "ckks":
        # the same rounds in plaintext: the accuracy encrypted training must match
        x, y, xt, yt = data
        spec = mo.spec
        split = learning.skewed_split(y, cfg.subsets, seed=cfg.seed)
        run = learning.train_federated(spec.features(x), y, split, [r.subsets for r in mo.reports], spec.method,
                                       test=(spec.features(xt), yt))
        result.plaintext_accuracy = run.accuracy
    result.seconds = time.perf_counter() - t0
    return result
