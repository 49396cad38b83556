"""What a simulation runs: data set, model, incentive mechanism, agents and timing."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ledgerlearn.errors import ValidationError
from ledgerlearn.simulation.agents import AgentSpec, reference_agents

MODELS = ("perceptron", "naive-bayes", "nearest-centroid")
INCENTIVES = ("drt", "points")
ENGINES = ("fast", "exact")
DAY = 86_400


@dataclass
class Scenario:
    """A simulation's settings (defaults: the reference's IMDB headline).

    Money: the deposit rule is the contract's ``cost_weight * 3600 //
    isqrt(dt)`` wei; ``cost_weight_units`` is the reference's ``cost_weight``
    (a deposit of ``60 * cost_weight / sqrt(dt)`` units), converted with
    ``unit_wei`` wei per unit. The embedded chains charge no gas fee (base fee
    0), so balances change only by deposits, refunds and rewards, as in the
    reference (which also assumed free transactions); gas is still counted.
    """

    dataset: str = "imdb"
    model: str = "perceptron"
    incentive: str = "drt"
    agents: list[AgentSpec] = field(default_factory=reference_agents)
    #: share of the (shuffled) training set the owner trains the initial model on
    init_fraction: float = 0.08
    #: stop after this many contributions (None: the whole training set)
    max_contributions: int | None = None
    refund_wait_s: int = 1 * DAY
    #: the owner may take what remains after this (defaults to any_claim_wait_s)
    owner_claim_wait_s: int | None = None
    any_claim_wait_s: int = 9 * DAY
    cost_weight_units: float = 1.0
    unit_wei: int = 10**15
    #: evaluate accuracy on the hidden test set this often (virtual seconds; reference 2e5)
    eval_interval_s: int = 200_000
    #: test samples used at each interval (None: all); the final evaluation uses all
    eval_size: int | None = None
    #: test samples whose on-chain prediction is compared with the mirror's at the end (None: all)
    verify_size: int | None = None
    #: an agent looks again at a contribution it could not claim only after this many
    #: virtual seconds (0: at every wake-up, as the reference; a speed-up for models whose
    #: every update changes predictions: naive Bayes, nearest centroid)
    recheck_s: int = 0
    seed: int = 0
    engine: str = "fast"

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValidationError(f"model: expected one of {', '.join(MODELS)}, got {self.model!r}")
        if self.incentive not in INCENTIVES:
            raise ValidationError(f"incentive: expected one of {', '.join(INCENTIVES)}, got {self.incentive!r}")
        if self.engine not in ENGINES:
            raise ValidationError(f"engine: expected one of {', '.join(ENGINES)}, got {self.engine!r}")
        if not 0 <= self.init_fraction < 1:
            raise ValidationError(f"init_fraction: must be in [0, 1), got {self.init_fraction}")
        if not self.agents:
            raise ValidationError("agents: at least one agent is needed")
        names = [a.name for a in self.agents]
        if len(set(names)) != len(names):
            raise ValidationError(f"agents: names must be unique, got {names}")
        if self.max_contributions is not None and self.max_contributions < 0:
            raise ValidationError("max_contributions: cannot be negative")
        ow = self.owner_wait
        if not 0 <= self.refund_wait_s <= ow <= self.any_claim_wait_s:
            raise ValidationError("waits: need 0 <= refund_wait_s <= owner_claim_wait_s <= any_claim_wait_s")
        if self.cost_weight_units < 0 or self.unit_wei <= 0:
            raise ValidationError("cost_weight_units must be >= 0 and unit_wei > 0")
        if self.incentive == "points" and self.cost_weight_units:
            self.cost_weight_units = 0.0  # Points takes no deposit
        if self.recheck_s < 0:
            raise ValidationError("recheck_s: cannot be negative")
        if self.eval_interval_s < 1:
            raise ValidationError("eval_interval_s: must be at least 1")

    @property
    def owner_wait(self) -> int:
        return self.any_claim_wait_s if self.owner_claim_wait_s is None else self.owner_claim_wait_s

    @property
    def cost_weight_wei(self) -> int:
        """The contract's ``cost_weight``: ``cost_weight * 3600 // isqrt(dt)`` = ``60 * units / isqrt(dt)``."""
        return round(self.cost_weight_units * self.unit_wei / 60)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["agents"] = [a.to_dict() for a in self.agents]
        d["cost_weight_wei"] = self.cost_weight_wei
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Scenario":
        d = dict(d)
        d.pop("cost_weight_wei", None)
        d["agents"] = [AgentSpec.from_dict(a) for a in d.get("agents", [])]
        try:
            return cls(**d)
        except TypeError as exc:
            raise ValidationError(f"scenario: {exc}") from None
