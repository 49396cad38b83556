"""Gas of the prediction-market bounty's reward phase as a function of the test-set size.

One market per test-set size on real IMDB reviews (1000 binary word
features): an initial perceptron trained with SGD on ``init_size`` reviews,
``contributions`` training reviews contributed by two accounts (every third
label flipped, so bad contributions are dropped across several passes), the
hidden test set split into ``pieces`` pieces (more when a piece would exceed
the contract's bounds). The reward phase is then driven
to its end with ``process`` calls capped at a quarter of a 30M block; the
report is transaction gas (exact engine) per contribution and per call.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from ledgerlearn.errors import ValidationError

#: The gas of one reward-phase call may not exceed this (a quarter of a 30M block).
STEP_LIMIT = 7_500_000


@dataclass
class MarketGasRow:
    test_size: int  # reviews committed
    scored_samples: int  # those the reward phase scores on (the first revealed piece is public, so excluded)
    pieces: int
    test_features: int
    contributions: int
    mode: str
    engine: str
    gas_exact: bool
    process_calls: int
    passes: int
    reward_gas: int
    reward_gas_per_contribution: int
    max_call_gas: int
    reveal_gas: int
    contribute_gas_avg: int
    wall_seconds: float

    def to_json(self) -> dict:
        return asdict(self)


def _imdb(seed: int):
    from ledgerlearn.datasets import load
    from ledgerlearn.encoders import get_encoder

    ds = load("imdb")
    enc = get_encoder("IMDB vocab, binary")
    rng = np.random.default_rng(seed)
    train = rng.permutation(len(ds.x_train))
    test = rng.permutation(len(ds.x_test))
    return ds, enc, train, test


def measure(
    test_sizes: list[int],
    *,
    contributions: int = 12,
    pieces: int = 10,
    init_size: int = 500,
    mode: str = "one-by-one",
    engine: str = "exact",
    seed: int = 0,
    progress=None,
) -> list[MarketGasRow]:
    """One row per test-set size (see the module docstring)."""
    from ledgerlearn.chain.fast import FastLocalChain
    from ledgerlearn.chain.local import LocalChain
    from ledgerlearn.markets.bounty import BountyMarket, MarketOptions, Perceptron, TestSetCommitment, to_features
    from ledgerlearn.models.sgd import sgd_perceptron

    if mode not in ("one-by-one", "grouped-reset"):
        raise ValidationError(f"mode: expected 'one-by-one' or 'grouped-reset', got {mode!r}")
    if engine not in ("exact", "fast"):
        raise ValidationError(f"engine: expected 'exact' or 'fast', got {engine!r}")
    ds, enc, train, test = _imdb(seed)
    init_x = [enc.encode(ds.x_train[i]) for i in train[:init_size]]
    model = Perceptron.from_sparse(sgd_perceptron(init_x, ds.y_train[train[:init_size]], classes=["negative", "positive"], num_features=1000))
    contrib = [(to_features(enc.encode(ds.x_train[i])), int(ds.y_train[i])) for i in train[init_size : init_size + contributions]]
    grouped = mode == "grouped-reset"
    rows = []
    for size in test_sizes:
        if progress:
            progress(f"test set of {size} reviews ...")
        t0 = time.perf_counter()
        samples = [(to_features(enc.encode(ds.x_test[i])), int(ds.y_test[i])) for i in test[:size]]
        chain = LocalChain() if engine == "exact" else FastLocalChain()
        provider, a, b = chain.accounts[:3]
        commitment = TestSetCommitment.split_to_fit(samples, pieces)
        options = MarketOptions(min_stake=10**15, group_contributions=grouped, reset_model=grouped, allow_greater_deposit=grouped)
        market = BountyMarket.create(chain, provider=provider, bounty=10**18, model=model, commitment=commitment, options=options, encoder="IMDB vocab, binary")
        market.reveal_initial(commitment)
        add_gas = []
        for k, (x, y) in enumerate(contrib):
            flip = k % 3 == 2
            add_gas.append(market.contribute(x, 1 - y if flip else y, sender=b if flip else a).gas_used)
        market.end(sender=a)
        reveal = market.reveal_rest(commitment)
        calls = market.process_all(sender=a)
        gas = [r.gas_used for r in calls]
        drawn = market.drawn_index()
        rows.append(MarketGasRow(
            test_size=size, scored_samples=market.call("test_samples"), pieces=len(commitment.pieces),
            test_features=sum(len(x) for j, p in enumerate(commitment.pieces) if j != drawn for x, _ in p.samples),
            contributions=len(contrib), mode=mode, engine=engine, gas_exact=all(r.gas_exact for r in calls),
            process_calls=len(calls), passes=market.call("pass_number"), reward_gas=sum(gas),
            reward_gas_per_contribution=sum(gas) // len(contrib), max_call_gas=max(gas),
            reveal_gas=sum(r.gas_used for r in reveal), contribute_gas_avg=sum(add_gas) // len(add_gas),
            wall_seconds=round(time.perf_counter() - t0, 2),
        ))
    return rows
