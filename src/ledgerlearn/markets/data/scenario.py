"""One data-market task on real MNIST, every role in one process: the demo and the benchmark.

A model owner with a small private set, ``n_owners`` data owners on a
pathological non-IID split (two classes each), some of them malicious (one
attack each), some dropping out mid-round. Every transaction runs on a real
contract on the embedded chain; the model owner's accuracy, who was kept,
paid or filtered, gas and the chain's processing time come back per round.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from ledgerlearn.chain.base import Chain, TxRequest
from ledgerlearn.errors import ValidationError
from ledgerlearn.markets.data.agents import DataOwnerAgent, DataOwnerConfig, OwnerAgent, RoundReport, run_in_process
from ledgerlearn.markets.data.blobstore import BlobStore, encode_public_part
from ledgerlearn.markets.data.client import DataMarketTask, TaskParams, TxMeter
from ledgerlearn.markets.data.model import (
    ATTACKS,
    DEFAULT_ARCH,
    DEFAULT_Q_CLIP,
    DEFAULT_Q_SCALE,
    OwnerModel,
    architecture,
    initial_public_part,
    non_iid_split,
)
from ledgerlearn.markets.data.packing import MAX_DOS

#: Wei each data owner gets per kept round, and its deposit (both 0.001 ether).
DEFAULT_REWARD = 10**15
DEFAULT_DEPOSIT = 10**15


@dataclass
class Scenario:
    """What to run. ``attacks`` maps an attack name to how many DOs use it."""

    n_owners: int = 15
    group_size: int = 3
    threshold: int = 2
    byzantine_groups: int = 2
    rounds: int = 5
    attacks: dict[str, int] = field(default_factory=lambda: {"sign_flip": 1, "scaled_noise": 1})
    dropouts: int = 1
    drop_round: int = 2
    arch: str = DEFAULT_ARCH
    private_samples: int = 100
    samples_per_owner: int | None = 2000
    classes_per_owner: int = 2
    test_samples: int | None = None
    reward: int = DEFAULT_REWARD
    deposit: int = DEFAULT_DEPOSIT
    seed: int = 0

    def __post_init__(self):
        if not 2 <= self.n_owners <= MAX_DOS:
            raise ValidationError(f"owners: expected 2 .. {MAX_DOS}, got {self.n_owners}")
        for name, n in self.attacks.items():
            if name not in ATTACKS:
                raise ValidationError(f"attacks: unknown attack {name!r} (known: {', '.join(ATTACKS)})")
            if n < 0:
                raise ValidationError(f"attacks: negative count for {name}")
        if sum(self.attacks.values()) + self.dropouts > self.n_owners:
            raise ValidationError("attacks/dropouts: more malicious or dropping owners than owners")
        if not 1 <= self.drop_round <= self.rounds:
            raise ValidationError(f"drop-round: expected 1 .. {self.rounds}, got {self.drop_round}")
        architecture(self.arch)

    def roles(self) -> list[DataOwnerConfig]:
        """Each DO's behaviour, in a seeded random order."""
        configs = [DataOwnerConfig(attack=a, seed=0) for a, n in self.attacks.items() for _ in range(n)]
        configs += [DataOwnerConfig(drop_round=self.drop_round) for _ in range(self.dropouts)]
        configs += [DataOwnerConfig() for _ in range(self.n_owners - len(configs))]
        order = np.random.default_rng(self.seed + 7).permutation(len(configs))
        out = [configs[i] for i in order]
        for i, c in enumerate(out):
            c.seed = self.seed * 1000 + i
        return out

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ScenarioResult:
    """What a run measured."""

    scenario: dict
    engine: str
    gas_exact: bool
    task: str
    groups: list[list[str]]
    roles: dict[str, str]
    accuracy_before: float
    rounds: list[RoundReport]
    gas: dict[str, dict[str, int]]
    net_wei: dict[str, int]
    wall_s: float

    @property
    def accuracy_after(self) -> float | None:
        accs = [r.accuracy for r in self.rounds if r.accuracy is not None]
        return accs[-1] if accs else None

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "rounds"}
        d["rounds"] = [r.to_dict() for r in self.rounds]
        d["accuracy_after"] = self.accuracy_after
        return d


def single_torch_thread() -> None:
    """One torch thread: training is a small CNN on a few thousand images, and on a
    busy 2-core machine a second thread made it 20x slower, not faster."""
    import torch

    torch.set_num_threads(1)


def partition_mnist_private(n: int, private_samples: int, seed: int) -> np.ndarray:
    """The model owner's private indices among ``n`` training images."""
    return np.sort(_mnist_order(n, seed)[:private_samples])


def _mnist_order(n: int, seed: int) -> np.ndarray:
    # The one permutation both the owner's and the data owners' processes derive.
    return np.random.default_rng(seed).permutation(n)


def partition_mnist(
    y_train: np.ndarray,
    *,
    n_owners: int,
    private_samples: int,
    samples_per_owner: int | None,
    seed: int,
    classes_per_owner: int = 2,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """(the MO's private indices, each DO's indices): disjoint; the DOs' split is non-IID.

    Deterministic in its arguments, so a data owner started as its own process
    finds its shard from ``--owner-index`` alone.
    """
    order = _mnist_order(len(y_train), seed)
    private = np.sort(order[:private_samples])
    rest = order[private_samples:]
    shards = non_iid_split(y_train[rest], n_owners, classes_per_owner, seed=seed, samples_per_owner=samples_per_owner)
    return private, [rest[s] for s in shards]


def fund_accounts(chain: Chain, n: int, *, funder: str, amount: int) -> list[str]:
    """``n`` accounts to act as DOs: the chain's own first, then further dev keys funded by ``funder``."""
    own = [a for a in chain.accounts if a != funder]
    if len(own) >= n:
        return own[:n]
    add = getattr(chain, "add_account", None)
    if add is None:
        raise ValidationError(f"owners: this chain signs for {len(own)} data owners, {n} asked")
    from ledgerlearn.chain.accounts import dev_accounts

    out = list(own)
    for acct in dev_accounts(len(chain.accounts) + n - len(own))[len(chain.accounts) :]:
        addr = add(acct)
        chain.send(TxRequest(sender=funder, to=addr, value=amount))
        out.append(addr)
    return out


def run_scenario(
    scenario: Scenario,
    chain: Chain,
    *,
    dataset=None,
    blobs: BlobStore | None = None,
    log: Callable[[str], None] | None = None,
    on_round: Callable[[RoundReport], None] | None = None,
    owner_learns: bool = True,
    role_override: Callable[[int, DataOwnerConfig], DataOwnerConfig] | None = None,
) -> ScenarioResult:
    """Run one task to the end on ``chain`` (a virtual clock: deadlines are jumped over).

    ``owner_learns=False`` skips the model owner's training and scoring (a
    seeded initial public part; accuracies are NaN/None): for runs that
    measure the protocol only, with ``role_override(i, config)`` giving data
    owner ``i`` e.g. a synthetic ``update_fn``.
    """
    t0 = time.perf_counter()
    single_torch_thread()
    if dataset is None:
        from ledgerlearn.datasets import load

        dataset = load("mnist")
    blobs = blobs or BlobStore("memory://ledgerlearn-data-market")
    x_test, y_test = dataset.x_test, dataset.y_test
    if scenario.test_samples is not None:
        x_test, y_test = x_test[: scenario.test_samples], y_test[: scenario.test_samples]
    private, shards = partition_mnist(
        dataset.y_train, n_owners=scenario.n_owners, private_samples=scenario.private_samples,
        samples_per_owner=scenario.samples_per_owner, seed=scenario.seed, classes_per_owner=scenario.classes_per_owner,
    )
    mo = chain.accounts[0]
    dos = fund_accounts(chain, scenario.n_owners, funder=mo, amount=10**18)

    owner_model = OwnerModel(scenario.arch, dataset.x_train[private], dataset.y_train[private], seed=scenario.seed)
    # The task starts from a freshly initialised extractor, not the owner's own:
    # from the owner's trained one the first round's aggregate wrecked the
    # features (12% after round 1 at the defaults), from a fresh one it did not.
    initial = initial_public_part(scenario.arch, scenario.seed)
    before = float("nan")
    if owner_learns:
        owner_model.fit_initial()
        before = owner_model.accuracy(x_test, y_test)
    key = blobs.put(encode_public_part(scenario.arch, initial))
    params = TaskParams(
        public_part_uri=blobs.uri(key), public_part_hash=bytes.fromhex(key[2:]), n_params=initial.size,
        q_scale=DEFAULT_Q_SCALE, q_clip=DEFAULT_Q_CLIP, head_seed=scenario.seed + 1,
        max_dos=scenario.n_owners, min_dos=scenario.group_size, reward=scenario.reward, deposit=scenario.deposit,
        rounds=scenario.rounds, group_size=scenario.group_size, threshold=scenario.threshold,
        byzantine_groups=scenario.byzantine_groups,
    )
    meter = TxMeter()
    task = DataMarketTask.create(chain, owner=mo, params=params, meter=meter)
    balances0 = {a: chain.balance(a) for a in [mo, *dos]}

    def evaluate(public: np.ndarray) -> float:
        owner_model.fine_tune(public)
        return owner_model.accuracy(x_test, y_test)

    owner = OwnerAgent(task, mo, blobs=blobs, evaluate=evaluate if owner_learns else None, log=log, on_round=on_round)
    roles = scenario.roles()
    if role_override is not None:
        roles = [role_override(i, c) for i, c in enumerate(roles)]
    agents = [
        DataOwnerAgent(task, a, dataset.x_train[idx], dataset.y_train[idx], blobs=blobs, config=cfg, log=log)
        for a, idx, cfg in zip(dos, shards, roles)
    ]
    for agent in agents:
        agent.register()
    run_in_process(task, [owner.step, *(a.step for a in agents)])

    gas = {}
    for op, values in meter.gas_by_op().items():
        gas[op] = {"count": len(values), "mean": int(np.mean(values)), "max": int(max(values))}
    return ScenarioResult(
        scenario=scenario.to_dict(), engine=getattr(chain, "engine_name", type(chain).__name__),
        gas_exact=bool(getattr(chain, "gas_exact", True)), task=task.address,
        groups=[task.group_members(g) for g in range(task.group_count())],
        roles={a: _role_name(c) for a, c in zip(dos, roles)},
        accuracy_before=before, rounds=owner.reports,
        gas=gas, net_wei={a: chain.balance(a) - b for a, b in balances0.items()}, wall_s=time.perf_counter() - t0,
    )


def _role_name(config: DataOwnerConfig) -> str:
    if config.attack:
        return config.attack
    if config.drop_round is not None:
        return f"drops in round {config.drop_round}"
    return "honest"
