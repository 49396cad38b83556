"""Shared set-up of the incentive, entry and re-entrancy tests.

A :class:`World` is a LocalChain with the factory, one implementation and one
shared model (the throwaway stub perceptron of ``contracts/test/stub_model.vy``
unless told otherwise) deployed through the real deployment code. Tests take a
snapshot before and revert after, so one world serves a whole module.

The stub model predicts class 1 iff ``sum(w[i] for i in x) > 0``:
``POS = [1]`` (w = +10) predicts 1, ``NEG = [2]`` (w = -10) predicts 0,
``FLIP = [3]`` (w = +1) predicts 1 until one mistaken update (lr = 1) makes it 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi import encode
from eth_utils import keccak

from ledgerlearn.chain.base import TxRequest
from ledgerlearn.chain.contract import Contract, deploy
from ledgerlearn.chain.local import LocalChain
from ledgerlearn.contracts import registry
from ledgerlearn.contracts.compiler import compile_file
from ledgerlearn.shared_models.deploy import deploy_shared_model

POS, NEG, FLIP = [1], [2], [3]
WEIGHTS = {1: 10, 2: -10, 3: 1}
#: The reference's 20-token IMDB sample.
IMDB_X = [1, 2, 3, 14, 15, 26, 37, 48, 59, 110, 111, 112, 213, 314, 515, 616, 717, 818, 919, 920]

REFUND_WAIT, OWNER_WAIT, ANY_WAIT = 100, 1_000, 10_000
COST_WEIGHT = 10**15


class StubMirror:
    """Python side of the stub model: what deploy_shared_model needs."""

    kind = "stub"
    model_type = "sparse perceptron"

    def __init__(self, weights: dict[int, int] | None = None, intercept: int = 0, learning_rate: int = 1):
        self.weights = dict(WEIGHTS if weights is None else weights)
        self.intercept = intercept
        self.learning_rate = learning_rate

    def init_args(self) -> tuple:
        return (["Negative", "Positive"], self.intercept, self.learning_rate)

    def setup_calls(self) -> list[tuple[str, tuple]]:
        n = max(self.weights, default=-1) + 1
        return [("load_weights", (0, [self.weights.get(i, 0) for i in range(n)]))] if n else []


def key_of(x, label: int, added_time: int, author: str, x_type: str = "uint256[]") -> bytes:
    return keccak(encode([x_type, "uint256", "uint256", "address"], [list(x), label, added_time, author]))


@dataclass
class Added:
    key: bytes
    x: list
    label: int
    added_time: int
    author: str
    deposit: int


class World:
    """A chain with one shared model; accounts: owner, alice, bob, carol, dave, erin."""

    def __init__(
        self,
        incentive: str = "drt",
        *,
        refund_wait: int = REFUND_WAIT,
        owner_claim_wait: int = OWNER_WAIT,
        any_claim_wait: int = ANY_WAIT,
        cost_weight: int | None = None,
        mirror=None,
        chain: LocalChain | None = None,
    ):
        self.chain = chain or LocalChain()
        self.owner, self.alice, self.bob, self.carol, self.dave, self.erin = self.chain.accounts[:6]
        self.incentive = incentive
        if cost_weight is None:
            cost_weight = COST_WEIGHT if incentive == "drt" else 0
        self.mirror = mirror or StubMirror()
        self.result = deploy_shared_model(
            self.chain, self.mirror, incentive=incentive, name="stub model", description="tests",
            encoder="none", owner=self.owner, refund_wait=refund_wait, owner_claim_wait=owner_claim_wait,
            any_claim_wait=any_claim_wait, cost_weight=cost_weight,
        )
        self.artifact = registry.entry_artifact(self.mirror.kind, incentive)
        self.model = Contract(self.chain, self.result.address, self.artifact.abi)
        self.factory = Contract(self.chain, self.result.factory, registry.factory_artifact().abi)

    # -- actions ---------------------------------------------------------------
    def add(self, who: str, x, label: int, *, value: int | None = None) -> Added:
        if value is None:
            value = self.model.call("next_deposit")
        r = self.model.transact("add_data", list(x), label, sender=who, value=value)
        ev = self.model.events("DataAdded", r.logs)[0]
        return Added(ev["key"], list(x), label, ev["added_time"], who, ev["deposit"])

    def refund(self, who: str, a: Added):
        return self.model.transact("refund", a.x, a.label, a.added_time, sender=who)

    def report(self, who: str, a: Added):
        return self.model.transact("report", a.x, a.label, a.added_time, a.author, sender=who)

    def verify(self, who: str, n: int = 1) -> None:
        """Give ``who`` ``n`` verified (refunded) contributions."""
        for _ in range(n):
            a = self.add(who, POS, 1)
            self.chain.advance_time(REFUND_WAIT)
            self.refund(who, a)

    def contribution(self, key: bytes) -> tuple[int, int, int, int]:
        return self.model.call("contribution", key)

    def deploy_hostile(self):
        art = compile_file("test/hostile_receiver.vy")
        c, _ = deploy(self.chain, art.abi, art.bytecode, sender=self.owner)
        return c

    def calldata(self, fn: str, *args) -> bytes:
        return self.model.abi.encode_call(fn, args)[1]

    # -- invariants --------------------------------------------------------------
    def held(self) -> int:
        """What the contract owes: remaining deposits plus pending withdrawals."""
        keys = {e["key"] for e in self.model.events("DataAdded")}
        remaining = sum(self.contribution(k)[1] for k in keys)
        owed = {e["account"] for e in self.model.events("PaymentDeferred")} if self.incentive == "drt" else set()
        pending = sum(self.model.call("pending_withdrawal", a) for a in owed)
        return remaining + pending

    def assert_solvent(self) -> None:
        assert self.chain.balance(self.model.address) == self.held()


def expect_revert(fn, reason_part: str):
    """Run ``fn`` and check it reverts with a reason containing ``reason_part``."""
    from ledgerlearn.errors import TransactionReverted

    try:
        fn()
    except TransactionReverted as exc:
        assert exc.reason is not None and reason_part in exc.reason, f"reverted with {exc.reason!r}, expected {reason_part!r}"
        return exc
    raise AssertionError(f"did not revert (expected {reason_part!r})")


def raw_send(chain, sender: str, to: str, data: bytes, value: int = 0):
    return chain.send(TxRequest(sender=sender, to=to, data=data, value=value))
