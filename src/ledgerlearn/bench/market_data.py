"""The secure data market measured: accuracy, robustness, gas and chain time.

Three parts, each a real task on a real contract:

- **accuracy**: the model owner's test accuracy on MNIST before the market
  and after the rounds (paper: 62% -> 83%), honest data owners only;
- **robustness**: the same with 20% of the data owners malicious, with the
  robust rule (Multi-Krum over group means) and without it (plain mean);
- **gas**: transaction gas (exact engine) of ``register``, ``post_keys``,
  ``submit``, ``recover`` and ``finalize`` as the number of data owners and
  the public part's size grow. Updates here are random vectors: gas does not
  depend on what the numbers mean, so no training is needed;
- **chain time** per round: the wall time the embedded chain spends on a
  round's transactions (keys, submissions, reveals, recovery, finalize), on
  both embedded engines.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from ledgerlearn.markets.data.scenario import Scenario, ScenarioResult, run_scenario
from ledgerlearn.simulation.runner import make_chain

#: The paper's headline (OmniLytics 2021): accuracy before -> after, and processing time.
PAPER = {"accuracy_before": 0.62, "accuracy_after": 0.83, "processing_ms": 500}


@dataclass
class GasRow:
    """Mean transaction gas per operation for one task shape."""

    n_owners: int
    groups: int
    group_size: int
    byzantine_groups: int
    n_params: int
    engine: str
    gas_exact: bool
    #: Whole run: operation -> count, mean, max (``submit``'s max is a group's first write to empty storage).
    gas: dict[str, dict[str, int]]
    #: Mean gas per operation in each round (round 1 has the dropout's reveals and recovery).
    gas_per_round: list[dict[str, int]]
    processing_ms_per_round: list[float]
    wall_s: float
    #: The same task's chain time per round on the fast engine (pyrevm).
    fast_processing_ms_per_round: list[float] = field(default_factory=list)


@dataclass
class AccuracyRow:
    """One MNIST task: the model owner's accuracy, before and after."""

    label: str
    n_owners: int
    malicious: int
    byzantine_groups: int
    accuracy_before: float
    accuracy_after: float | None
    accuracy_per_round: list[float | None]
    malicious_paid_wei: int
    processing_ms_per_round: list[float]
    engine: str
    wall_s: float


@dataclass
class DataMarketBench:
    accuracy: list[AccuracyRow] = field(default_factory=list)
    gas: list[GasRow] = field(default_factory=list)
    paper: dict = field(default_factory=lambda: dict(PAPER))

    def to_json(self) -> dict:
        return {"paper": self.paper, "accuracy": [asdict(r) for r in self.accuracy], "gas": [asdict(r) for r in self.gas]}


def _processing_ms(result: ScenarioResult) -> list[float]:
    return [round(1000 * r.processing_s, 1) for r in result.rounds]


def accuracy_row(label: str, scenario: Scenario, *, engine: str = "fast", dataset=None) -> AccuracyRow:
    """Run one MNIST task and summarise the model owner's accuracy and who got paid."""
    result = run_scenario(scenario, make_chain(engine), dataset=dataset)
    malicious = {a for a, role in result.roles.items() if role in ("sign_flip", "scaled_noise", "label_flip")}
    paid = sum(amount for r in result.rounds for a, amount in r.paid.items() if a in malicious)
    return AccuracyRow(
        label=label, n_owners=scenario.n_owners, malicious=len(malicious), byzantine_groups=scenario.byzantine_groups,
        accuracy_before=result.accuracy_before, accuracy_after=result.accuracy_after,
        accuracy_per_round=[r.accuracy for r in result.rounds], malicious_paid_wei=paid,
        processing_ms_per_round=_processing_ms(result), engine=result.engine, wall_s=round(result.wall_s, 1),
    )


def _random_update(seed: int, scale: float = 0.01) -> Callable[[int, np.ndarray], np.ndarray]:
    def update(round_: int, public: np.ndarray) -> np.ndarray:
        return np.random.default_rng(seed * 1000 + round_).normal(0.0, scale, public.size)

    return update


def gas_row(
    n_owners: int, *, arch: str, group_size: int = 3, byzantine_groups: int = 1, rounds: int = 2, engine: str = "exact",
    dropouts: int = 1,
) -> GasRow:
    """Gas per operation for ``n_owners`` data owners with random updates (one dropout in round 1)."""
    from ledgerlearn.markets.data.agents import DataOwnerConfig

    scenario = Scenario(
        n_owners=n_owners, group_size=group_size, byzantine_groups=byzantine_groups, rounds=rounds, attacks={},
        dropouts=dropouts, drop_round=1, arch=arch, private_samples=20, samples_per_owner=20, test_samples=10,
    )
    result = run_scenario(
        scenario, make_chain(engine), dataset=_TinyDataset(), owner_learns=False,
        role_override=lambda i, cfg: DataOwnerConfig(drop_round=cfg.drop_round, update_fn=_random_update(i), seed=cfg.seed),
    )
    return GasRow(
        n_owners=n_owners, groups=len(result.groups), group_size=group_size, byzantine_groups=byzantine_groups,
        n_params=_n_params(arch), engine=result.engine, gas_exact=result.gas_exact, gas=result.gas,
        gas_per_round=[{op: int(np.mean(v)) for op, v in r.gas.items()} for r in result.rounds],
        processing_ms_per_round=_processing_ms(result), wall_s=round(result.wall_s, 1),
    )


def _n_params(arch: str) -> int:
    from ledgerlearn.markets.data.model import architecture

    return architecture(arch).n_public


class _TinyDataset:
    """Stand-in images for gas runs (updates are random; the data is never trained on)."""

    def __init__(self, n: int = 2000):
        rng = np.random.default_rng(0)
        self.x_train = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        self.y_train = np.arange(n) % 10
        self.x_test, self.y_test = self.x_train[:10], self.y_train[:10]


def measure(
    *,
    owners: list[int],
    archs: list[str],
    engine: str = "exact",
    accuracy: bool = True,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> DataMarketBench:
    """The whole benchmark (see the module docstring)."""
    say = progress or (lambda msg: None)
    bench = DataMarketBench()
    if accuracy:
        from ledgerlearn.datasets import load

        mnist = load("mnist")
        base = dict(n_owners=20, group_size=2, rounds=5, dropouts=0, seed=seed)
        runs = [
            ("honest, plain mean", Scenario(**base, attacks={}, byzantine_groups=0)),
            ("20% malicious, plain mean", Scenario(**base, attacks={"sign_flip": 2, "scaled_noise": 2}, byzantine_groups=0)),
            ("20% malicious, Multi-Krum (f=4)", Scenario(**base, attacks={"sign_flip": 2, "scaled_noise": 2}, byzantine_groups=4)),
        ]
        for label, sc in runs:
            t0 = time.perf_counter()
            say(f"accuracy: {label} ...")
            bench.accuracy.append(accuracy_row(label, sc, dataset=mnist))
            say(f"  {label}: {time.perf_counter() - t0:.0f} s")
    for arch in archs:
        for n in owners:
            say(f"gas: {n} data owners, {arch} public part ({engine}) ...")
            f = 1 if n // 3 >= 4 else 0  # Multi-Krum needs f + 3 groups
            row = gas_row(n, arch=arch, engine=engine, byzantine_groups=f)
            if engine != "fast":
                row.fast_processing_ms_per_round = gas_row(n, arch=arch, engine="fast", byzantine_groups=f).processing_ms_per_round
            bench.gas.append(row)
    return bench
