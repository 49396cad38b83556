"""The bounty's reward phase computed off chain, with the contract's integer rules.

:func:`settle` replays what ``process`` does on chain (same perceptron with
int56 saturation, same passes, same settlement order), so tests can compare
every balance to the wei and simulations can predict outcomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ledgerlearn.errors import ValidationError
from ledgerlearn.markets.bounty.encoding import Features

#: The contract's largest model (features).
MAX_FEATURES = 4096

W_MIN, W_MAX = -(2**55), 2**55 - 1


@dataclass
class Perceptron:
    """The contract's perceptron: class 1 iff intercept + sum(w[i] * x[i]) > 0."""

    weights: list[int]
    intercept: int
    learning_rate: int

    @classmethod
    def from_sparse(cls, model) -> "Perceptron":
        """From a :class:`~ledgerlearn.models.sparse_perceptron.SparsePerceptron` (e.g. ``sgd_perceptron``)."""
        if not 0 < model.n_features_in_ <= MAX_FEATURES:
            raise ValidationError(f"model: {model.n_features_in_} features; a bounty market takes 1 .. {MAX_FEATURES}")
        return cls([model.weight(i) for i in range(model.n_features_in_)], model.intercept_, model.learning_rate_)

    def copy(self) -> "Perceptron":
        return Perceptron(list(self.weights), self.intercept, self.learning_rate)

    def score(self, x: Features) -> int:
        return self.intercept + sum(self.weights[i] * v for i, v in x.items())

    def predict(self, x: Features) -> int:
        return 1 if self.score(x) > 0 else 0

    def correct(self, samples: Sequence[tuple[Features, int]]) -> int:
        return sum(self.predict(x) == y for x, y in samples)

    def train(self, x: Features, y: int) -> None:
        if self.predict(x) == y:
            return
        step = self.learning_rate if y == 1 else -self.learning_rate
        self.intercept = max(W_MIN, min(W_MAX, self.intercept + step))
        for i, v in sorted(x.items()):
            self.weights[i] = max(W_MIN, min(W_MAX, self.weights[i] + step * v))


@dataclass
class Contribution:
    contributor: str
    deposit: int
    features: Features
    label: int


@dataclass
class Outcome:
    """Result of the reward phase."""

    balances: dict[str, int]  # per contributor
    bounty_left: int
    rounds_left: int
    passes: int
    initial_correct: int
    test_samples: int
    rounds_per_pass: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)  # participant ids in drop order


def settle(
    model: Perceptron,
    contributions: Sequence[Contribution],
    test: Sequence[tuple[Features, int]],
    *,
    bounty: int,
    min_stake: int,
    group_contributions: bool,
    reset_model: bool,
) -> Outcome:
    """Final balances of the reward phase, exactly as the contract computes them."""
    n_test = len(test)
    rounds = bounty // n_test
    bounty_left = bounty
    # participants
    pid_of: list[int] = []
    owners: list[str] = []
    index: dict[str, int] = {}
    for c in contributions:
        if group_contributions:
            if c.contributor not in index:
                index[c.contributor] = len(owners)
                owners.append(c.contributor)
            pid_of.append(index[c.contributor])
        else:
            pid_of.append(len(owners))
            owners.append(c.contributor)
    p_balance = [0] * len(owners)
    p_count = [0] * len(owners)
    balances: dict[str, int] = {}
    for c, pid in zip(contributions, pid_of):
        p_balance[pid] += c.deposit
        p_count[pid] += 1
        balances[c.contributor] = balances.get(c.contributor, 0) + c.deposit
    dropped = [False] * len(owners)
    drop_order: list[int] = []
    initial_correct = model.correct(test)
    cached: dict[int, int] = {}
    passes = 0
    per_pass: list[int] = []
    active = len(owners)
    while True:
        passes += 1
        trained = model.copy() if (reset_model or passes == 1) else None
        scores = [0] * len(owners)
        prev = initial_correct
        group: int | None = None
        last = -1

        def close() -> None:
            nonlocal prev, group
            now = trained.correct(test) if reset_model else cached[last]
            scores[group] += now - prev
            prev = now
            group = None

        for c, (contrib, pid) in enumerate(zip(contributions, pid_of)):
            if dropped[pid]:
                continue
            if group is not None and group != pid:
                close()
            if trained is not None:
                trained.train(contrib.features, contrib.label)
                if not reset_model:
                    cached[c] = trained.correct(test)
            group, last = pid, c
        if group is not None:
            close()
        k = rounds
        for pid in range(len(owners)):
            if not dropped[pid] and scores[pid] < 0:
                k = min(k, p_balance[pid] // -scores[pid])
        rounds -= k
        per_pass.append(k)
        for negative in (True, False):
            for pid in range(len(owners)):
                s = scores[pid]
                if dropped[pid] or (s < 0) != negative:
                    continue
                p_balance[pid] += s * k
                balances[owners[pid]] += s * k
                bounty_left -= s * k
                forfeited = 0
                if s < 0 and p_balance[pid] < -s:
                    forfeited = p_balance[pid]
                    balances[owners[pid]] -= forfeited
                    bounty_left += forfeited
                    p_balance[pid] = 0
                if forfeited or p_balance[pid] == 0 or p_balance[pid] < min_stake * p_count[pid]:
                    dropped[pid] = True
                    drop_order.append(pid)
                    active -= 1
        if rounds == 0 or active == 0:
            break
    return Outcome(balances, bounty_left, rounds, passes, initial_correct, n_test, per_pass, drop_order)
