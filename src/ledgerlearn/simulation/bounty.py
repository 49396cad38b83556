"""Simulation of the prediction-market bounty (``markets/bounty.vy``) on a real data set.

    from ledgerlearn.simulation.bounty import BountyScenario, run_bounty
    from ledgerlearn.simulation.bounty_plots import save_bounty_plots
    rec = run_bounty(BountyScenario())          # IMDB, 4 honest, 2 flippers, 1 careless
    rec.save("market.json"); save_bounty_plots(rec, "market")     # market.png, market.html

A provider trains an initial perceptron on a small slice of the training split,
commits the hashed test set (a seeded slice of the test split) in pieces and
escrows the bounty. Agents arrive in virtual time in a seeded random order and
each adds one labelled review per contribution with a deposit: honest agents
give the true labels of reviews nobody else uses, flippers give the wrong
label, careless agents flip a label with some probability. Then the market is
ended, the provider reveals the rest of the test set, a third party (the
"keeper") drives the reward phase with ``process`` calls, and everyone
withdraws.

Every step is a transaction to the real contract on an embedded chain (pyrevm
by default, py-evm with ``engine="exact"``). The run checks the contract's
zero-sum invariant after every phase and compares every final balance, the
provider's remainder, the rounds of every pass and the order of drop-outs with
the off-chain replica :func:`~ledgerlearn.markets.bounty.mirror.settle`; any
difference raises :class:`BountySimulationError`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from ledgerlearn.chain.base import Chain, Receipt
from ledgerlearn.errors import LedgerlearnError, NotFoundError, ValidationError
from ledgerlearn.markets.bounty import (
    BountyMarket,
    Contribution,
    MarketOptions,
    Perceptron,
    TestPiece,
    TestSetCommitment,
    settle,
    to_features,
)
from ledgerlearn.markets.bounty.client import MAX_STEPS
from ledgerlearn.markets.bounty.encoding import Features as SampleFeatures
from ledgerlearn.simulation.record import JsonRecord

KINDS = ("honest", "flipper", "careless")
ENGINES = ("fast", "exact")
DATASETS = ("imdb",)
RECORD_VERSION = 1
ETHER = 10**18


class BountySimulationError(LedgerlearnError, RuntimeError):
    """The chain and the off-chain replica disagree, or the market's books do not balance."""


# ------------------------------------------------------------------ agents
@dataclass(frozen=True)
class BountyAgentSpec:
    """One contributor to the market.

    Args:
        name: label in plots and tables.
        kind: ``"honest"`` (true labels), ``"flipper"`` (every label flipped) or
            ``"careless"`` (each label flipped with probability ``flip_prob``).
        contributions: how many samples it tries to add (one per arrival).
        flip_prob: probability of a flipped label (careless agents; 1 for flippers, 0 for honest ones).
        start_balance_wei: its budget; it contributes only while what is left covers the deposit.
        deposit_wei: deposit per contribution (None: the market's ``min_stake``; more only when the
            market allows greater deposits).
    """

    name: str
    kind: str = "honest"
    contributions: int = 30
    flip_prob: float = 0.0
    start_balance_wei: int = ETHER // 10
    deposit_wei: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValidationError(f"agent {self.name!r}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.contributions < 0:
            raise ValidationError(f"agent {self.name!r}: contributions cannot be negative")
        if not 0 <= self.flip_prob <= 1:
            raise ValidationError(f"agent {self.name!r}: flip_prob must be in [0, 1]")
        if self.kind == "honest" and self.flip_prob:
            raise ValidationError(f"agent {self.name!r}: an honest agent flips no label (use kind='careless')")
        if self.start_balance_wei <= 0:
            raise ValidationError(f"agent {self.name!r}: start_balance_wei must be positive")
        if self.deposit_wei is not None and self.deposit_wei <= 0:
            raise ValidationError(f"agent {self.name!r}: deposit_wei must be positive")

    @property
    def label_flip_prob(self) -> float:
        return 1.0 if self.kind == "flipper" else self.flip_prob

    def label_for(self, true_label: int, rng: random.Random) -> int:
        p = self.label_flip_prob
        if p >= 1 or (p > 0 and rng.random() < p):
            return 1 - true_label
        return true_label

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "BountyAgentSpec":
        try:
            return cls(**d)
        except TypeError as exc:
            raise ValidationError(f"agent: {exc}") from None


# ---------------------------------------------------------------- scenario
@dataclass
class BountyScenario:
    """A bounty-market simulation's settings (defaults: IMDB, 4 honest, 2 flippers, 1 careless at 50%).

    The defaults score each agent as a whole (grouped) on a model reset for
    every pass, starting from a perceptron fitted on 50 reviews (about 60%
    accurate), where 40 contributions per agent move test accuracy by several
    points. From a stronger start (1000 reviews, ~77%) single contributions
    change a handful of the test predictions either way and the scores are
    mostly noise: there, with one-by-one scoring, honest agents lost about 10%
    of their deposits and flippers gained (seed 0).

    The agents are ``honest`` honest agents, ``flippers`` label flippers and
    ``careless`` careless ones (``careless_flip_prob``), each trying
    ``contributions_per_agent`` contributions with a budget of
    ``start_balance_wei`` and a deposit of ``deposit_multiple * min_stake_wei``
    (a multiple above 1 needs ``allow_greater_deposit``); ``agents`` replaces
    them with an explicit list. Arrivals are a seeded random interleaving with
    exponential gaps of mean ``arrival_mean_s``; the arrivals of each
    ``batch_window_s`` window are sent together with ``chain.send_many``.
    The embedded chains charge no gas fee (base fee 0), so money moves only by
    deposits, rewards and withdrawals; gas is still counted.
    """

    dataset: str = "imdb"
    encoder: str = "IMDB vocab, binary"
    num_features: int = 1000
    #: training reviews (seeded shuffle of the training split) the initial perceptron is fitted on
    init_size: int = 50
    #: test reviews (seeded shuffle of the test split) the provider commits, in test_pieces pieces
    test_size: int = 300
    test_pieces: int = 30
    bounty_wei: int = ETHER
    min_stake_wei: int = 10**15
    group_contributions: bool = True
    reset_model: bool = True
    allow_greater_deposit: bool = False
    honest: int = 4
    flippers: int = 2
    careless: int = 1
    careless_flip_prob: float = 0.5
    contributions_per_agent: int = 40
    start_balance_wei: int = ETHER // 10
    deposit_multiple: int = 1
    agents: list[BountyAgentSpec] | None = None
    arrival_mean_s: int = 600
    batch_window_s: int = 3600
    reveal_window_s: int = 7 * 86_400
    seed: int = 0
    engine: str = "fast"

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValidationError(f"dataset: the bounty simulation runs on {', '.join(DATASETS)}, got {self.dataset!r}")
        if self.engine not in ENGINES:
            raise ValidationError(f"engine: expected one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.init_size < 2:
            raise ValidationError("init_size: at least 2 reviews (both classes) for the initial model")
        if self.test_pieces < 2:
            raise ValidationError("test_pieces: the contract needs at least 2 pieces")
        if self.test_size < 2 * self.test_pieces:
            raise ValidationError(f"test_size: {self.test_size} reviews cannot fill {self.test_pieces} pieces of at least 2")
        if self.bounty_wei <= 0 or self.min_stake_wei <= 0:
            raise ValidationError("bounty_wei and min_stake_wei must be positive")
        for n in ("honest", "flippers", "careless", "contributions_per_agent", "arrival_mean_s", "batch_window_s"):
            if getattr(self, n) < 0:
                raise ValidationError(f"{n}: cannot be negative")
        if self.arrival_mean_s < 1 or self.batch_window_s < 1:
            raise ValidationError("arrival_mean_s and batch_window_s: at least 1 second")
        if not 0 <= self.careless_flip_prob <= 1:
            raise ValidationError("careless_flip_prob: must be in [0, 1]")
        if self.deposit_multiple < 1:
            raise ValidationError("deposit_multiple: at least 1")
        if self.deposit_multiple > 1 and not self.allow_greater_deposit:
            raise ValidationError("deposit_multiple: deposits above min_stake need allow_greater_deposit")
        if self.agents is not None:
            self.agents = [a if isinstance(a, BountyAgentSpec) else BountyAgentSpec.from_dict(a) for a in self.agents]
        specs = self.agent_specs()
        if not specs:
            raise ValidationError("agents: at least one agent is needed")
        names = [a.name for a in specs]
        if len(set(names)) != len(names):
            raise ValidationError(f"agents: names must be unique, got {names}")
        for a in specs:
            d = self.deposit_of(a)
            if d != self.min_stake_wei and not self.allow_greater_deposit:
                raise ValidationError(f"agent {a.name!r}: the deposit must equal min_stake unless allow_greater_deposit")
            if d < self.min_stake_wei:
                raise ValidationError(f"agent {a.name!r}: deposit below min_stake")

    def agent_specs(self) -> list[BountyAgentSpec]:
        """The agents: the explicit list, or the ones the counts describe."""
        if self.agents is not None:
            return list(self.agents)
        dep = self.min_stake_wei * self.deposit_multiple
        common = dict(contributions=self.contributions_per_agent, start_balance_wei=self.start_balance_wei, deposit_wei=dep)
        out = [BountyAgentSpec(f"honest-{i + 1}", "honest", **common) for i in range(self.honest)]
        out += [BountyAgentSpec(f"flipper-{i + 1}", "flipper", **common) for i in range(self.flippers)]
        out += [BountyAgentSpec(f"careless-{i + 1}", "careless", flip_prob=self.careless_flip_prob, **common) for i in range(self.careless)]
        return out

    def deposit_of(self, a: BountyAgentSpec) -> int:
        return self.min_stake_wei if a.deposit_wei is None else a.deposit_wei

    @property
    def options(self) -> MarketOptions:
        return MarketOptions(
            min_stake=self.min_stake_wei, reveal_window_s=self.reveal_window_s, group_contributions=self.group_contributions,
            reset_model=self.reset_model, allow_greater_deposit=self.allow_greater_deposit,
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["agents"] = None if self.agents is None else [a.to_dict() for a in self.agents]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "BountyScenario":
        d = dict(d)
        if d.get("agents") is not None:
            d["agents"] = [BountyAgentSpec.from_dict(a) for a in d["agents"]]
        try:
            return cls(**d)
        except TypeError as exc:
            raise ValidationError(f"scenario: {exc}") from None


# ------------------------------------------------------------------ record
@dataclass
class BountyAgentSummary:
    name: str
    kind: str
    address: str
    flip_prob: float
    contributions: int
    #: labels it gave that differ from the true label
    flipped: int
    #: arrivals it sat out because its budget no longer covered the deposit
    skipped: int
    deposit_per_contribution_wei: int
    deposited_wei: int
    start_balance_wei: int
    #: what it withdrew from the market (its balance there at the end)
    withdrawn_wei: int
    final_balance_wei: int
    profit_wei: int
    #: profit as % of its deposits (None without deposits)
    profit_percent: float | None
    #: its contributions (participants when grouped) that dropped out
    dropped: int


@dataclass
class BountyRecord(JsonRecord):
    """Everything a bounty-market run measured. Money in wei, times in seconds."""

    _agent_class = BountyAgentSummary
    _what = "bounty-market record"

    scenario: dict
    engine: str
    address: str
    provider: str
    keeper: str
    accounts_available: int
    n_init: int
    n_test: int
    #: test samples the reward phase scores on (the drawn, public piece excluded)
    n_scored: int
    drawn_piece: int
    contributions: int
    participants: int
    bounty_wei: int
    bounty_left_wei: int
    rounds_total: int
    rounds_left: int
    agents: list[BountyAgentSummary]
    #: per pass: {"pass", "rounds_applied", "rounds_left", "dropped": [{"participant", "agent", "kind", "balance", "forfeited"}]}
    passes: list
    #: agent name -> its balance in the market before the reward phase (index 0) and after each pass
    balances: dict
    #: whether every balance series point is the state right after its pass (see ``Simulation``)
    balances_per_pass_exact: bool
    #: correct predictions on the whole revealed test set
    accuracy: dict
    #: the reward phase's first evaluation on the scored samples, as the contract counted it
    initial_correct: int
    #: gas of every reward-phase call and totals per transaction kind; figures are transaction gas
    #: only when gas_exact (the fast engine gives an execution estimate)
    gas_exact: bool
    process_gas: list
    process_max_steps: int
    gas_totals: dict
    #: [[phase, contract balance - (bounty left + contributors' balances)], ...]; all 0
    zero_sum_checks: list
    #: the mirror's prediction (settle) equals the chain's outcome to the wei
    mirror_agrees: bool
    virtual_seconds: int
    transactions: int
    wall: dict
    version: int = RECORD_VERSION
    extra: dict = field(default_factory=dict)

    def agent(self, name: str) -> BountyAgentSummary:
        for a in self.agents:
            if a.name == name:
                return a
        raise NotFoundError(f"agent: no agent named {name!r} in this run")

    def by_kind(self) -> dict[str, dict]:
        """Per kind: agents, contributions, deposits, final balances, profit (wei) and profit % of deposits."""
        out: dict[str, dict] = {}
        for a in self.agents:
            k = out.setdefault(a.kind, {"agents": 0, "contributions": 0, "deposited_wei": 0, "withdrawn_wei": 0,
                                        "final_balance_wei": 0, "profit_wei": 0})
            k["agents"] += 1
            k["contributions"] += a.contributions
            k["deposited_wei"] += a.deposited_wei
            k["withdrawn_wei"] += a.withdrawn_wei
            k["final_balance_wei"] += a.final_balance_wei
            k["profit_wei"] += a.profit_wei
        for k in out.values():
            k["profit_percent"] = 100.0 * k["profit_wei"] / k["deposited_wei"] if k["deposited_wei"] else None
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d["derived"] = {"by_kind": self.by_kind()}
        return d



# -------------------------------------------------------------------- data
@dataclass
class BountyData:
    """The encoded reviews a run uses: the provider's initial and test slices, and each agent's own."""

    init_x: list[list[int]]
    init_y: list[int]
    test: list[tuple[SampleFeatures, int]]
    #: per agent (scenario order): [(features, true label), ...] of reviews nobody else uses
    agent_samples: list[list[tuple[SampleFeatures, int]]]
    classes: list[str]


def load_data(sc: BountyScenario) -> BountyData:
    """Load the data set and encode exactly the reviews the scenario needs (seeded shuffles)."""
    from ledgerlearn.datasets import load
    from ledgerlearn.encoders import get_encoder

    ds = load(sc.dataset)
    enc = get_encoder(sc.encoder)
    specs = sc.agent_specs()
    need = sc.init_size + sum(a.contributions for a in specs)
    if need > len(ds.x_train):
        raise ValidationError(f"data: the scenario needs {need:,} training reviews, {sc.dataset} has {len(ds.x_train):,}")
    if sc.test_size > len(ds.x_test):
        raise ValidationError(f"test_size: {sc.dataset} has {len(ds.x_test):,} test reviews")
    rng = np.random.default_rng(sc.seed)
    order = rng.permutation(len(ds.x_train))
    test_order = rng.permutation(len(ds.x_test))

    def encode(i: int, split: str) -> list[int]:
        x = enc.encode(ds.x_train[i] if split == "train" else ds.x_test[i])
        if x and max(x) >= sc.num_features:
            raise ValidationError(f"encoder: {sc.encoder!r} gives feature {max(x)}, the scenario has num_features={sc.num_features}")
        return x

    init_idx = order[: sc.init_size]
    init_x = [encode(int(i), "train") for i in init_idx]
    init_y = [int(ds.y_train[i]) for i in init_idx]
    test = [(to_features(encode(int(i), "test")), int(ds.y_test[i])) for i in test_order[: sc.test_size]]
    agent_samples = []
    pos = sc.init_size
    for a in specs:
        idx = order[pos : pos + a.contributions]
        pos += a.contributions
        agent_samples.append([(to_features(encode(int(i), "train")), int(ds.y_train[i])) for i in idx])
    return BountyData(init_x, init_y, test, agent_samples, list(ds.classes))


def initial_perceptron(data: BountyData, sc: BountyScenario) -> Perceptron:
    """The provider's initial model: SGD perceptron (as the reference) on the initial slice, in the contract's form."""
    from ledgerlearn.models.sgd import sgd_perceptron

    if len(set(data.init_y)) != 2:
        raise ValidationError("init_size: the initial slice must hold both classes (use a larger init_size)")
    model = sgd_perceptron(data.init_x, data.init_y, classes=data.classes, num_features=sc.num_features, random_state=sc.seed)
    return Perceptron.from_sparse(model)


def seeded_commitment(test: list[tuple[SampleFeatures, int]], num_pieces: int, num_features: int, seed: int) -> TestSetCommitment:
    """:meth:`TestSetCommitment.split` with salts drawn from ``seed`` instead of ``secrets``.

    Only for simulations: the salts are part of the deployment data, so on the
    exact engine they change block hashes and with them the drawn piece; seeded
    salts keep a run reproducible. A real provider keeps its salts secret.
    """
    com = TestSetCommitment.split(test, num_pieces, num_features=num_features)
    rng = random.Random(f"salts-{seed}")
    return TestSetCommitment([TestPiece(rng.getrandbits(256), p.body) for p in com.pieces])


# -------------------------------------------------------------------- run
class _Agent:
    __slots__ = ("spec", "address", "deposit", "rng", "samples", "next", "contributions", "flipped", "skipped",
                 "deposited", "budget", "chain_start", "withdrawn", "fees")

    def __init__(self, spec: BountyAgentSpec, address: str, deposit: int, samples, seed: int, chain_start: int):
        self.spec = spec
        self.address = address
        self.deposit = deposit
        self.rng = random.Random(f"{seed}-{spec.name}")
        self.samples = samples
        self.next = 0
        self.contributions = self.flipped = self.skipped = 0
        self.deposited = self.withdrawn = self.fees = 0
        self.budget = spec.start_balance_wei
        self.chain_start = chain_start


def _fee(r: Receipt) -> int:
    return r.gas_used * r.effective_gas_price


class BountySimulation:
    """One run of a :class:`BountyScenario`.

    The keeper calls ``process`` with ``max_steps`` = contributions +
    participants + 1 (capped at the contract's MAX_STEPS): balances move only
    in a pass's two settlement sweeps, and after a ``PassSettled`` the next
    pass needs at least that many steps (visit every contribution, find the
    round count) before its first payment, so the balances read after each
    call that settled a pass are exactly that pass's. The cap only binds
    beyond ~2,000 contributions; then ``balances_per_pass_exact`` is false.

    Args:
        data: encoded reviews (default: loaded from the scenario's data set).
        chain: the chain to run on (default: a fresh embedded chain of ``scenario.engine``).
        on_progress: called as ``on_progress(phase, done, total)``.
    """

    def __init__(self, scenario: BountyScenario, *, data: BountyData | None = None, chain: Chain | None = None,
                 on_progress: Callable[[str, int, int | None], None] | None = None):
        self.scenario = scenario
        self.data = data
        self.chain = chain
        self.on_progress = on_progress

    def _progress(self, phase: str, done: int, total: int | None) -> None:
        if self.on_progress is not None:
            self.on_progress(phase, done, total)

    def _check_zero_sum(self, phase: str) -> None:
        gap = self.market.zero_sum_gap([a.address for a in self.agents])
        self.zero_sum.append([phase, gap])
        if gap != 0:
            raise BountySimulationError(f"zero sum: after {phase} the contract holds {gap:+} wei more than it owes")

    def _count(self, what: str, r: Receipt) -> None:
        t = self.gas_totals.setdefault(what, {"count": 0, "sum": 0, "max": 0})
        t["count"] += 1
        t["sum"] += r.gas_used
        t["max"] = max(t["max"], r.gas_used)
        self.transactions += 1

    def run(self) -> BountyRecord:
        from ledgerlearn.simulation.runner import make_chain

        sc = self.scenario
        wall: dict[str, float] = {}
        t_all = time.perf_counter()
        specs = sc.agent_specs()
        chain = self.chain = self.chain or make_chain(sc.engine)
        accounts = chain.accounts
        if len(specs) + 2 > len(accounts):
            raise ValidationError(
                f"agents: this chain has {len(accounts)} accounts, enough for {len(accounts) - 2} agents "
                f"(one is the provider and one the keeper who drives the reward phase); the scenario has {len(specs)}"
            )
        t = time.perf_counter()
        self._progress("loading data", 0, None)
        data = self.data or load_data(sc)
        wall["data"] = time.perf_counter() - t

        # ---------------------------------------------------------- setup
        t = time.perf_counter()
        if (len(data.agent_samples) != len(specs) or any(len(s) < a.contributions for s, a in zip(data.agent_samples, specs))
                or len(data.init_y) != sc.init_size or len(data.test) != sc.test_size):
            raise ValidationError("data: not encoded for this scenario's agents (use load_data(scenario))")
        model = initial_perceptron(data, sc)
        commitment = seeded_commitment(data.test, sc.test_pieces, sc.num_features, sc.seed)
        provider, keeper = accounts[0], accounts[1]
        self.agents = [
            _Agent(spec, accounts[2 + i], sc.deposit_of(spec), data.agent_samples[i], sc.seed, chain.balance(accounts[2 + i]))
            for i, spec in enumerate(specs)
        ]
        provider_start = chain.balance(provider)
        self.zero_sum: list = []
        self.gas_totals: dict[str, dict] = {}
        self.transactions = 0
        gas_exact = True

        def count(what: str, r: Receipt) -> None:
            nonlocal gas_exact
            gas_exact = gas_exact and r.gas_exact
            self._count(what, r)

        self.market = market = BountyMarket.create(
            chain, provider=provider, bounty=sc.bounty_wei, model=model, commitment=commitment, options=sc.options,
            encoder=sc.encoder, on_receipt=count,
        )
        self._check_zero_sum("create")
        count("reveal", market.reveal_initial(commitment))
        drawn = market.drawn_index()
        self._check_zero_sum("reveal initial piece")
        t0 = chain.timestamp()
        wall["setup"] = time.perf_counter() - t

        # -------------------------------------------------- participation
        t = time.perf_counter()
        order_rng = random.Random(f"arrivals-{sc.seed}")
        arrivals = [i for i, a in enumerate(self.agents) for _ in range(a.spec.contributions)]
        order_rng.shuffle(arrivals)
        times, now = [], 0
        for _ in arrivals:
            now += max(1, round(order_rng.expovariate(1.0 / sc.arrival_mean_s)))
            times.append(now)
        contribs: list[Contribution] = []
        owner_of: list[_Agent] = []
        batches: list[list[int]] = []
        for k, tk in enumerate(times):
            if batches and tk // sc.batch_window_s == times[batches[-1][0]] // sc.batch_window_s:
                batches[-1].append(k)
            else:
                batches.append([k])
        done = 0
        nf = sc.num_features
        for batch in batches:
            gap = t0 + times[batch[0]] - chain.timestamp()
            if gap > 1:
                chain.advance_time(gap)
            txs, pending = [], []
            for k in batch:
                a = self.agents[arrivals[k]]
                if a.budget < a.deposit:
                    a.skipped += 1
                    continue
                a.budget -= a.deposit  # reserved now: the same agent may arrive again in this batch
                x, y = a.samples[a.next]
                a.next += 1
                label = a.spec.label_for(y, a.rng)
                txs.append(market.contribute_tx(x, label, sender=a.address, value=a.deposit, num_features=nf))
                pending.append((a, x, label, y))
            for (a, x, label, y), r in zip(pending, chain.send_many(txs)):
                if isinstance(r, Exception):
                    raise BountySimulationError(f"contribute: the market refused {a.spec.name}'s contribution ({r})")
                count("contribute", r)
                ev = market.contract.events("Contributed", r.logs)[0]
                if ev["index"] != len(contribs):
                    raise BountySimulationError(f"contribute: index {ev['index']}, expected {len(contribs)}")
                contribs.append(Contribution(a.address, a.deposit, x, label))
                owner_of.append(a)
                a.contributions += 1
                a.flipped += label != y
                a.deposited += a.deposit
                a.budget -= _fee(r)
                a.fees += _fee(r)
            done += len(batch)
            self._check_zero_sum(f"contributions (batch ending at arrival {done})")
            self._progress("contributions", done, len(arrivals))
        if not contribs:
            raise ValidationError("agents: no contribution was made (budgets below the deposit?)")
        wall["participation"] = time.perf_counter() - t
        participation_s = chain.timestamp() - t0

        # ---------------------------------------------------- end, reveal
        t = time.perf_counter()
        chain.advance_time(sc.batch_window_s)
        count("end_market", market.end(sender=keeper))
        self._check_zero_sum("end")
        market.reveal_rest(commitment, on_receipt=count)
        self._check_zero_sum("reveal rest")
        wall["reveal"] = time.perf_counter() - t

        # ---------------------------------------------------------- reward
        t = time.perf_counter()
        status = market.status()
        participants = status["num_participants"]
        rounds_total = status["rounds_left"]
        if sc.group_contributions:
            first: dict[str, int] = {}
            for c in contribs:
                first.setdefault(c.contributor, len(first))
            pid_agent = {pid: next(a for a in self.agents if a.address == addr) for addr, pid in first.items()}
        else:
            pid_agent = dict(enumerate(owner_of))
        max_steps = min(MAX_STEPS, len(contribs) + participants + 1)
        exact_series = max_steps == len(contribs) + participants + 1
        names = [a.spec.name for a in self.agents]
        balances = {a.spec.name: [market.balance_of(a.address)] for a in self.agents}
        passes: list[dict] = []
        dropped_pending: list[dict] = []
        dropped_pids: list[int] = []
        process_gas: list[int] = []

        def on_process(what: str, r: Receipt) -> None:
            count(what, r)
            process_gas.append(r.gas_used)
            settled = 0
            for ev in market.contract.events(None, r.logs):
                if ev["event"] == "Dropped":
                    a = pid_agent[ev["participant"]]
                    dropped_pids.append(ev["participant"])
                    dropped_pending.append({"participant": ev["participant"], "agent": a.spec.name, "kind": a.spec.kind,
                                            "balance": ev["balance"], "forfeited": ev["forfeited"]})
                elif ev["event"] == "PassSettled":
                    settled += 1
                    passes.append({"pass": ev["pass_number"], "rounds_applied": ev["rounds_applied"],
                                   "rounds_left": ev["rounds_left"], "dropped": list(dropped_pending)})
                    dropped_pending.clear()
                    for a in self.agents:
                        balances[a.spec.name].append(market.balance_of(a.address))
            if settled:
                self._check_zero_sum(f"pass {passes[-1]['pass']}")
            if settled > 1 and exact_series:
                raise BountySimulationError(f"process: {settled} passes settled in one call with max_steps={max_steps}")
            self._progress("reward passes", len(passes), None)

        market.process_all(sender=keeper, max_steps=max_steps, on_receipt=on_process)
        self._check_zero_sum("reward phase")
        wall["reward"] = time.perf_counter() - t
        final_status = market.status()
        chain_balances = {a.address: market.balance_of(a.address) for a in self.agents if a.contributions}
        bounty_left = market.bounty_left()

        # ----------------------------------------------- mirror and accuracy
        t = time.perf_counter()
        scored = market.test_samples()
        expected = settle(model, contribs, scored, bounty=sc.bounty_wei, min_stake=sc.min_stake_wei,
                          group_contributions=sc.group_contributions, reset_model=sc.reset_model)
        problems = []
        if expected.balances != chain_balances:
            diff = {pid_name: (expected.balances.get(a), chain_balances.get(a))
                    for a, pid_name in ((a.address, a.spec.name) for a in self.agents)
                    if expected.balances.get(a) != chain_balances.get(a)}
            problems.append(f"balances (mirror, chain): {diff}")
        if expected.bounty_left != bounty_left:
            problems.append(f"bounty left: mirror {expected.bounty_left}, chain {bounty_left}")
        if expected.rounds_per_pass != [p["rounds_applied"] for p in passes]:
            problems.append(f"rounds per pass: mirror {expected.rounds_per_pass}, chain {[p['rounds_applied'] for p in passes]}")
        if expected.dropped != dropped_pids:
            problems.append(f"drop order: mirror {expected.dropped}, chain {dropped_pids}")
        if expected.initial_correct != final_status["initial_correct"]:
            problems.append(f"initial correct: mirror {expected.initial_correct}, chain {final_status['initial_correct']}")
        if problems:
            raise BountySimulationError("mirror and chain disagree: " + "; ".join(problems))
        test = data.test
        trained_all = model.copy()
        trained_honest = model.copy()
        for c, a in zip(contribs, owner_of):
            trained_all.train(c.features, c.label)
            if a.spec.kind == "honest":
                trained_honest.train(c.features, c.label)
        n = len(test)
        accuracy = {
            "test_samples": n,
            "initial": model.correct(test) / n,
            "all_contributions": trained_all.correct(test) / n,
            "honest_only": trained_honest.correct(test) / n,
        }
        wall["mirror"] = time.perf_counter() - t

        # -------------------------------------------------------- withdraw
        t = time.perf_counter()
        for a in self.agents:
            if chain_balances.get(a.address, 0) > 0:
                r = market.withdraw(sender=a.address)
                count("withdraw", r)
                a.withdrawn = sum(e["amount"] for e in market.contract.events("Withdrawn", r.logs))
                a.fees += _fee(r)
                self._check_zero_sum(f"withdraw {a.spec.name}")
        provider_withdrawn = 0
        if bounty_left > 0:
            r = market.withdraw(sender=provider)
            count("withdraw", r)
            provider_withdrawn = sum(e["amount"] for e in market.contract.events("Withdrawn", r.logs))
            self._check_zero_sum("provider withdraws")
        if provider_withdrawn != bounty_left:
            raise BountySimulationError(f"provider withdrew {provider_withdrawn} wei, bounty left was {bounty_left}")
        left_in_contract = chain.balance(market.address)
        if left_in_contract != 0:
            raise BountySimulationError(f"the contract still holds {left_in_contract} wei after everyone withdrew")
        summaries = []
        for a in self.agents:
            if a.withdrawn != chain_balances.get(a.address, 0):
                raise BountySimulationError(f"{a.spec.name} withdrew {a.withdrawn} wei, its balance was {chain_balances.get(a.address, 0)}")
            profit = a.withdrawn - a.deposited
            # the account's balance moved by exactly deposits, withdrawals and gas fees
            if chain.balance(a.address) - a.chain_start != profit - a.fees:
                raise BountySimulationError(f"{a.spec.name}: account balance moved by {chain.balance(a.address) - a.chain_start}, expected {profit - a.fees}")
            summaries.append(BountyAgentSummary(
                name=a.spec.name, kind=a.spec.kind, address=a.address, flip_prob=a.spec.label_flip_prob,
                contributions=a.contributions, flipped=a.flipped, skipped=a.skipped, deposit_per_contribution_wei=a.deposit,
                deposited_wei=a.deposited, start_balance_wei=a.spec.start_balance_wei, withdrawn_wei=a.withdrawn,
                final_balance_wei=a.spec.start_balance_wei + profit - a.fees, profit_wei=profit,
                profit_percent=100.0 * profit / a.deposited if a.deposited else None,
                dropped=sum(1 for p in passes for d in p["dropped"] if d["agent"] == a.spec.name),
            ))
        wall["withdraw"] = time.perf_counter() - t
        wall["total"] = time.perf_counter() - t_all
        self._progress("done", 1, 1)
        return BountyRecord(
            scenario=sc.to_dict(),
            engine=sc.engine,
            address=market.address,
            provider=provider,
            keeper=keeper,
            accounts_available=len(accounts),
            n_init=len(data.init_y),
            n_test=len(test),
            n_scored=len(scored),
            drawn_piece=drawn,
            contributions=len(contribs),
            participants=participants,
            bounty_wei=sc.bounty_wei,
            bounty_left_wei=bounty_left,
            rounds_total=rounds_total,
            rounds_left=final_status["rounds_left"],
            agents=summaries,
            passes=passes,
            balances={k: balances[k] for k in names},
            balances_per_pass_exact=exact_series,
            accuracy=accuracy,
            initial_correct=final_status["initial_correct"],
            gas_exact=gas_exact,
            process_gas=process_gas,
            process_max_steps=max_steps,
            gas_totals=self.gas_totals,
            zero_sum_checks=self.zero_sum,
            mirror_agrees=True,
            virtual_seconds=chain.timestamp() - t0,
            transactions=self.transactions,
            wall=wall,
            extra={"participation_virtual_seconds": participation_s,
                   "provider_net_wei": chain.balance(provider) - provider_start},
        )


def run_bounty(scenario: BountyScenario, **kwargs) -> BountyRecord:
    """Run ``scenario`` (see :class:`BountySimulation`)."""
    return BountySimulation(scenario, **kwargs).run()
