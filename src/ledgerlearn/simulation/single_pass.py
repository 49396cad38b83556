"""Train a shared model from nothing by contributing a whole training set once, through the contract.

No initial training: the model starts empty (zero weights, no counts) and
every training sample is one ``add_data`` transaction, in a shuffled order.
Then the on-chain model is read back and scored on the whole test set, and the
contract's own ``predict`` is compared with the mirror on every test sample.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass

from ledgerlearn.chain.base import Chain
from ledgerlearn.chain.contract import Contract, ContractABI
from ledgerlearn.contracts import registry
from ledgerlearn.errors import LedgerlearnError
from ledgerlearn.shared_models.deploy import deploy_shared_model
from ledgerlearn.simulation.evaluate import Evaluator
from ledgerlearn.simulation.features import Features, initial_model
from ledgerlearn.simulation.runner import make_chain

BATCH = 500


@dataclass
class SinglePassResult:
    dataset: str
    model: str
    seed: int
    contributions: int
    accuracy: float
    predictions_checked: int
    predictions_agree: int
    contribute_seconds: float
    verify_seconds: float
    gas_total: int
    gas_exact: bool

    def to_dict(self) -> dict:
        return asdict(self)


def single_pass(
    f: Features, *, seed: int = 0, engine: str = "fast", chain: Chain | None = None, verify: bool = True,
) -> SinglePassResult:
    """Contribute every training sample of ``f`` once (order shuffled by ``seed``) and score the result."""
    f = f.shuffled(seed)
    chain = chain or make_chain(engine)
    owner, contributor = chain.accounts[0], chain.accounts[1]
    empty = initial_model(f, 0)
    res = deploy_shared_model(chain, empty, incentive="points", name=f"{f.dataset} {f.model} single pass", encoder=f.encoder, owner=owner)
    contract = Contract(chain, res.address, ContractABI(registry.entry_artifact(empty.kind, "points").abi))
    mirror = empty.copy()
    gas = 0
    gas_exact = True
    t0 = time.perf_counter()
    n = len(f.y_train)
    for start in range(0, n, BATCH):
        xs, ys = f.x_train[start:start + BATCH], f.y_train[start:start + BATCH]
        txs = [contract.tx("add_data", x, y, sender=contributor) for x, y in zip(xs, ys)]
        for k, r in enumerate(chain.send_many(txs)):
            if isinstance(r, Exception):
                raise LedgerlearnError(f"single pass: contribution {start + k} was refused: {r}")
            gas += r.gas_used
            gas_exact = gas_exact and r.gas_exact
        for x, y in zip(xs, ys):
            mirror.update(x, y)
    contribute_seconds = time.perf_counter() - t0
    on_chain = type(mirror).from_contract(contract)
    if on_chain != mirror:
        raise LedgerlearnError("single pass: the on-chain model differs from the mirror")
    ev = Evaluator(f.x_test, f.y_test)
    predicted = ev.predict(on_chain)
    accuracy = float((predicted == ev.y).mean())
    t1 = time.perf_counter()
    checked = agree = 0
    if verify:
        for x, p in zip(f.x_test, predicted.tolist()):
            checked += 1
            agree += contract.call("predict", x) == p
    return SinglePassResult(
        dataset=f.dataset, model=f.model, seed=seed, contributions=n, accuracy=accuracy, predictions_checked=checked,
        predictions_agree=agree, contribute_seconds=contribute_seconds, verify_seconds=time.perf_counter() - t1,
        gas_total=gas, gas_exact=gas_exact,
    )


def shuffle_seeds(n: int, base: int = 0) -> list[int]:
    """``n`` distinct seeds (for reporting the spread over orders)."""
    return random.Random(base).sample(range(10**6), n)
