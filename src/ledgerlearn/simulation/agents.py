"""Simulated participants: how much they are willing to deposit, how often they act, how they label.

Balances and deposits are in *units* (``unit_wei`` wei each, see
:class:`~ledgerlearn.simulation.scenario.Scenario`); on chain everything is
integer wei.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from ledgerlearn.errors import ValidationError

#: Agent behaviours: honest labels, always-flipped labels, or random mistakes.
BEHAVIOURS = ("honest", "malicious", "mistaken")


@dataclass(frozen=True)
class AgentSpec:
    """One participant.

    Args:
        name: label in plots and tables.
        start_balance: units the agent starts with (its on-chain balance is
            tracked relative to this).
        mean_deposit, stdev_deposit: the most it is willing to deposit for one
            contribution is drawn from N(mean, stdev) (redrawn until positive);
            it contributes only when that covers the contract's current deposit
            (the contract returns any excess).
        mean_wait_s, stdev_wait_s: seconds between its actions, N(mean, stdev)
            (at least 1 s).
        behaviour: ``"honest"`` labels truthfully (and contributes only while
            the model is doing well, as in the reference: with probability
            accuracy + 0.15); ``"malicious"`` flips every label and always
            contributes; ``"mistaken"`` is honest but each label is random
            with probability ``prob_mistake``.
        prob_mistake: probability that a label is flipped by mistake.
    """

    name: str
    start_balance: float
    mean_deposit: float
    stdev_deposit: float
    mean_wait_s: float
    stdev_wait_s: float = 1.0
    behaviour: str = "honest"
    prob_mistake: float = 0.0

    def __post_init__(self) -> None:
        if self.behaviour not in BEHAVIOURS:
            raise ValidationError(f"agent {self.name!r}: behaviour must be one of {', '.join(BEHAVIOURS)}, got {self.behaviour!r}")
        if not self.start_balance > 0:
            raise ValidationError(f"agent {self.name!r}: start_balance must be positive")
        if self.mean_deposit < 0 or self.stdev_deposit < 0 or self.stdev_wait_s < 0:
            raise ValidationError(f"agent {self.name!r}: deposits and deviations cannot be negative")
        if not self.mean_wait_s >= 1:
            raise ValidationError(f"agent {self.name!r}: mean_wait_s must be at least 1 second")
        if not 0 <= self.prob_mistake <= 1:
            raise ValidationError(f"agent {self.name!r}: prob_mistake must be in [0, 1]")

    @property
    def good(self) -> bool:
        return self.behaviour != "malicious"

    def next_deposit(self, rng: random.Random) -> float:
        """The most it will deposit for its next contribution (units, > 0)."""
        while True:
            v = rng.normalvariate(self.mean_deposit, self.stdev_deposit)
            if v > 0:
                return v

    def next_wait(self, rng: random.Random) -> int:
        """Seconds until its next action (>= 1)."""
        while True:
            v = int(rng.normalvariate(self.mean_wait_s, self.stdev_wait_s))
            if v >= 1:
                return v

    def label_for(self, true_label: int, num_classes: int, rng: random.Random) -> int:
        """The label it submits for a sample whose true label is ``true_label``."""
        label = true_label
        if self.behaviour == "malicious":
            label = _other(label, num_classes, rng)
        if self.prob_mistake > 0 and rng.random() < self.prob_mistake:
            label = _other(label, num_classes, rng)
        return label

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "AgentSpec":
        try:
            return cls(**d)
        except TypeError as exc:
            raise ValidationError(f"agent: {exc}") from None


def _other(label: int, num_classes: int, rng: random.Random) -> int:
    """A wrong label: the other class for binary tasks, a random other class otherwise."""
    if num_classes == 2:
        return 1 - label
    return rng.choice([c for c in range(num_classes) if c != label])


def reference_agents() -> list[AgentSpec]:
    """The reference's IMDB headline: an honest agent and a determined attacker.

    Honest: start 10,000, deposits ~N(50, 10), acts every ~10 minutes, 1 label
    in 10,000 wrong by mistake. Malicious: start 10,000, deposits ~N(100, 3),
    acts every ~hour, flips every label.
    """
    return [
        AgentSpec("honest", 10_000, 50, 10, 10 * 60, prob_mistake=0.0001),
        AgentSpec("malicious", 10_000, 100, 3, 60 * 60, behaviour="malicious"),
    ]


def mixed_agents() -> list[AgentSpec]:
    """Two honest agents, a careless one (20% of labels random) and an attacker."""
    return [
        AgentSpec("honest-1", 10_000, 50, 10, 20 * 60, prob_mistake=0.0001),
        AgentSpec("honest-2", 10_000, 50, 10, 30 * 60, prob_mistake=0.0001),
        AgentSpec("careless", 10_000, 50, 10, 40 * 60, behaviour="mistaken", prob_mistake=0.2),
        AgentSpec("malicious", 10_000, 100, 3, 60 * 60, behaviour="malicious"),
    ]


def honest_agent() -> list[AgentSpec]:
    """A single honest agent (no attack): the model's learning curve from contributions."""
    return [AgentSpec("honest", 10_000, 50, 10, 10 * 60)]


PRESETS = {"reference": reference_agents, "mixed": mixed_agents, "honest": honest_agent}


def preset(name: str) -> list[AgentSpec]:
    """Agents of a named preset (``reference``, ``mixed``, ``honest``)."""
    try:
        return PRESETS[name]()
    except KeyError:
        raise ValidationError(f"agents: unknown preset {name!r} (known: {', '.join(PRESETS)})") from None
