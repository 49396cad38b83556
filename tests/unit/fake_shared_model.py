"""A pure-Python stand-in for a chain with shared-model entry contracts.

It implements :class:`ledgerlearn.chain.base.Chain` and executes the entry
contract ABI of ``docs/contracts-interface.md`` with the spec's rules (a sparse
perceptron under Deposit-Refund-Take or Points), encoding calls, return values
and events exactly as a real contract would. The client and CLI unit tests run
against it, so they need neither the EVM nor the Vyper contracts; the
integration tests run the same client on the real ones.
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass, field

from eth_abi import decode, encode
from eth_utils import keccak

from ledgerlearn.chain.base import Chain, Log, Receipt, TxRequest, checksum
from ledgerlearn.chain.contract import ContractABI
from ledgerlearn.errors import TransactionReverted, ValidationError
from ledgerlearn.shared_models.client import entry_abi

GAS = 60_000
START_TIME = 1_700_000_000


class Revert(Exception):
    pass


def req(cond: bool, msg: str) -> None:
    if not cond:
        raise Revert(msg)


@dataclass
class FakeEntry:
    """Sparse perceptron + DRT/Points, following the spec."""

    owner: str
    name: str
    description: str
    encoder: str
    incentive: str
    classes: list[str]
    refund_wait: int
    owner_claim_wait: int
    any_claim_wait: int
    cost_weight: int
    weights: dict[int, int]
    intercept: int
    lr: int
    last_update: int
    model_type: str = "sparse perceptron"
    records: dict[bytes, list] = field(default_factory=dict)  # key -> [initial, remaining, claims, added, refunded]
    claimed: set = field(default_factory=set)
    good: dict[str, int] = field(default_factory=dict)
    total_good: int = 0
    points: dict[str, int] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)

    # ------------------------------------------------------------- model
    def predict(self, x) -> int:
        if self.model_type == "dense perceptron":
            req(len(x) == len(self.weights), "model: wrong number of features")
            req(abs(sum(v * v for v in x) - 10**18) * 10**7 <= 10**18, "model: input norm is not 1")
            score = self.intercept * 10**9 + sum(w * v for w, v in zip(self.weights, x))
            return 1 if score > 0 else 0
        req(len(x) <= 100, "model: too many features")
        for a, b in zip(x, x[1:]):
            req(a < b, "model: feature indices must be strictly increasing")
        score = self.intercept + sum(self.weights.get(i, 0) for i in x)
        return 1 if score > 0 else 0

    def update(self, x, label) -> None:
        req(label < len(self.classes), "model: label out of range")
        if self.predict(x) != label and self.model_type == "dense perceptron":
            sign = 1 if label == 1 else -1
            self.weights = [w + sign * self.lr * v // 10**9 for w, v in zip(self.weights, x)]
        elif self.predict(x) != label:
            for i in x:
                self.weights[i] = self.weights.get(i, 0) + (self.lr if label == 1 else -self.lr)

    def deposit(self, now: int) -> int:
        if self.incentive == "points" or self.cost_weight == 0:
            return 0
        return self.cost_weight * 3600 // max(1, math.isqrt(now - self.last_update))


class FakeChain(Chain):
    """Chain with fake entry contracts (see module doc). Virtual clock."""

    def __init__(self, n_accounts: int = 10):
        self.chain_id = 31337
        self._accounts = [checksum("0x" + f"{0xA11CE000 + i:040x}") for i in range(n_accounts)]
        self.balances: dict[str, int] = {a: 10_000 * 10**18 for a in self._accounts}
        self.contracts: dict[str, FakeEntry] = {}
        self.abis: dict[str, ContractABI] = {}
        self.logs: list[Log] = []
        self.blocks = [START_TIME]  # timestamp per block
        self.offset = 0
        self.rejecting: set[str] = set()  # accounts whose incoming pushes fail
        self._snapshots: dict[int, tuple] = {}
        self._ids = itertools.count(1)
        self.sent = 0

    # ------------------------------------------------------------- set-up
    def deploy_entry(self, *, owner=None, name="fake", description="a fake model", encoder="MurmurHash3",
                     incentive="drt", classes=("Negative", "Positive"), refund_wait=3600, owner_claim_wait=7200,
                     any_claim_wait=86400, cost_weight=10**15, weights=None, intercept=0, lr=10**9,
                     model_type="sparse perceptron") -> str:
        owner = owner or self._accounts[0]
        addr = checksum("0x" + keccak(f"fake{len(self.contracts)}".encode()).hex()[:40])
        self.contracts[addr] = FakeEntry(
            owner=owner, name=name, description=description, encoder=encoder, incentive=incentive,
            classes=list(classes), refund_wait=refund_wait, owner_claim_wait=owner_claim_wait,
            any_claim_wait=any_claim_wait, cost_weight=cost_weight,
            weights=list(weights or []) if model_type == "dense perceptron" else dict(weights or {}),
            intercept=intercept, lr=lr, last_update=self.timestamp(), model_type=model_type,
        )
        self.abis[addr] = ContractABI(entry_abi(model_type))
        self.blocks.append(self._next_ts())
        return addr

    # ----------------------------------------------------------- accounts
    @property
    def accounts(self) -> list[str]:
        return list(self._accounts)

    def add_account(self, account) -> str:
        """Accept a key to send from (RpcChain has the same method); funds it like a dev account."""
        addr = checksum(account.address)
        if addr not in self._accounts:
            self._accounts.append(addr)
            self.balances.setdefault(addr, 10_000 * 10**18)
        return addr

    def balance(self, address: str) -> int:
        return self.balances.get(checksum(address), 0)

    # ---------------------------------------------------------- execution
    def _next_ts(self) -> int:
        ts = self.blocks[-1] + max(1, self.offset)
        self.offset = 0
        return ts

    def _peek_ts(self) -> int:
        return self.blocks[-1] + max(1, self.offset)

    def next_timestamp(self) -> int:
        return self._peek_ts()

    def _state(self):
        return copy.deepcopy((self.contracts, self.balances, self.logs, self.blocks, self.offset))

    def _restore(self, st) -> None:
        self.contracts, self.balances, self.logs, self.blocks, self.offset = st

    def _run(self, to: str, data: bytes, sender: str, value: int, ts: int, block: int, tx_hash: str):
        to = checksum(to)
        if to not in self.contracts:
            return b"", []  # no code: empty return like a real chain
        c, abi = self.contracts[to], self.abis[to]
        fn = next((f for fs in abi.functions.values() for f in fs if f.selector == data[:4]), None)
        req(fn is not None, "unknown function")
        req(value == 0 or fn.payable, "not payable")
        args = decode(list(fn.inputs), data[4:]) if fn.inputs else ()
        logs: list[Log] = []
        self.balances[sender] = self.balances.get(sender, 0) - value
        req(self.balances[sender] >= 0, "insufficient funds")

        def emit(name, topics, types, values):
            ev = abi.events[name]
            logs.append(Log(to, (ev.topic0, *topics), encode(types, values), block, tx_hash, len(logs)))

        def pay(account, amount):
            if amount == 0:
                return
            if account in self.rejecting:
                c.pending[account] = c.pending.get(account, 0) + amount
            else:
                self.balances[account] = self.balances.get(account, 0) + amount

        def addr_topic(a):
            return bytes(12) + bytes.fromhex(a[2:])

        xt = "int256[]" if c.model_type == "dense perceptron" else "uint256[]"

        def key_of(x, label, added, author):
            return keccak(encode([xt, "uint256", "uint256", "address"], [list(x), label, added, author]))

        n = fn.name
        out: tuple = ()
        simple = {"name": c.name, "description": c.description, "encoder": c.encoder, "model_type": c.model_type,
                  "incentive": c.incentive, "num_classes": len(c.classes), "owner": c.owner, "finalized": True,
                  "refund_wait": c.refund_wait, "owner_claim_wait": c.owner_claim_wait,
                  "any_claim_wait": c.any_claim_wait, "cost_weight": c.cost_weight if c.incentive == "drt" else 0,
                  "last_update": c.last_update, "total_good": c.total_good}
        if n in simple:
            out = (simple[n],)
        elif n == "next_deposit":
            out = (c.deposit(ts),)
        elif n == "class_name":
            req(args[0] < len(c.classes), "index out of range")
            out = (c.classes[args[0]],)
        elif n == "good_count":
            out = (c.good.get(checksum(args[0]), 0),)
        elif n == "points":
            out = (c.points.get(checksum(args[0]), 0),)
        elif n == "pending_withdrawal":
            out = (c.pending.get(checksum(args[0]), 0),)
        elif n == "contribution":
            r = c.records.get(args[0])
            out = tuple(r[:4]) if r else (0, 0, 0, 0)
        elif n == "has_claimed":
            out = ((args[0], checksum(args[1])) in c.claimed,)
        elif n == "predict":
            out = (c.predict(list(args[0])),)
        elif n == "add_data":
            x, label = list(args[0]), args[1]
            mech = c.incentive
            dep = c.deposit(ts)
            if mech == "points":
                req(value == 0, "points: contributing is free (send no value)")
            req(value >= dep, f"{mech}: deposit too low (see next_deposit)")
            key = key_of(x, label, ts, sender)
            req(key not in c.records, f"{mech}: this contribution was already added")
            c.records[key] = [dep, dep, 0, ts, False]
            c.last_update = ts
            c.update(x, label)
            emit("DataAdded", [key, addr_topic(sender)], ["uint256", "uint256", "uint256", xt], [label, ts, dep, x])
            pay(sender, value - dep)
        elif n == "refund":
            x, label, added = list(args[0]), args[1], args[2]
            mech = c.incentive
            key = key_of(x, label, added, sender)
            r = c.records.get(key)
            req(r is not None, f"{mech}: data not found")
            req(ts >= added + c.refund_wait, f"{mech}: too early to refund")
            req(not r[4], f"{mech}: already refunded" if mech == "drt" else "points: already claimed")
            req(mech == "drt" or r[2] == 0, "points: already claimed")
            req(mech == "points" or r[1] != 0 or r[0] == 0, "drt: already claimed by others")
            req(c.predict(x) == label, f"{mech}: the model disagrees with the contribution")
            amount = r[1]
            r[1], r[2], r[4] = 0, r[2] + 1, True
            c.good[sender] = c.good.get(sender, 0) + 1
            c.total_good += 1
            if mech == "points":
                c.points[sender] = c.points.get(sender, 0) + 1
            emit("Refund", [key, addr_topic(sender)], ["uint256"], [amount])
            pay(sender, amount)
        elif n == "report":
            x, label, added, author = list(args[0]), args[1], args[2], checksum(args[3])
            mech = c.incentive
            key = key_of(x, label, added, author)
            r = c.records.get(key)
            req(r is not None, f"{mech}: data not found")
            age = ts - added
            check = True
            if mech == "points":
                req(age >= c.refund_wait, "points: too early to report")
                req(r[2] == 0, "points: already claimed")
                req(sender != author, "points: cannot report your own contribution")
                amount = 0
            else:
                req(r[1] != 0, "drt: nothing left to claim")
                if age >= c.any_claim_wait or (age >= c.owner_claim_wait and sender == c.owner):
                    amount, check = r[1], False
                else:
                    req(age >= c.refund_wait, "drt: too early to report")
                    req(sender != author, "drt: cannot report your own contribution")
                    g = c.good.get(sender, 0)
                    req(g != 0, "drt: reporter has no verified contribution")
                    req((key, sender) not in c.claimed, "drt: already reported by this address")
                    amount = r[0] * g // c.total_good
                    if amount == 0 or amount > r[1]:
                        amount = r[1]
            if check:
                req(c.predict(x) != label, f"{mech}: the model agrees with the contribution")
                c.claimed.add((key, sender))
            r[1] -= amount
            r[2] += 1
            emit("Report", [key, addr_topic(sender)], ["uint256"], [amount])
            pay(sender, amount)
        elif n == "withdraw":
            amount = c.pending.get(sender, 0)
            req(amount != 0, f"{c.incentive}: nothing to withdraw")
            c.pending[sender] = 0
            emit("Withdrawal", [addr_topic(sender)], ["uint256"], [amount])
            self.balances[sender] += amount
        else:
            raise Revert(f"fake: {n} not implemented")
        return (encode(list(fn.outputs), list(out)) if fn.outputs else b""), logs

    def send(self, tx: TxRequest) -> Receipt:
        sender = checksum(tx.sender)
        if sender not in self._accounts:
            raise ValidationError(f"sender: {sender} is not an account of this chain")
        st = self._state()
        ts = self._next_ts()
        block = len(self.blocks)
        self.sent += 1
        tx_hash = "0x" + keccak(f"tx{self.sent}-{block}".encode()).hex()
        try:
            ret, logs = self._run(tx.to, tx.data, sender, tx.value, ts, block, tx_hash)
        except Revert as exc:
            self._restore(st)
            raise TransactionReverted(str(exc), tx_hash=tx_hash, gas_used=GAS) from None
        self.blocks.append(ts)
        self.logs.extend(logs)
        return Receipt(tx_hash=tx_hash, status=True, gas_used=GAS, block_number=block, timestamp=ts, sender=sender,
                       to=checksum(tx.to), logs=tuple(logs), return_data=ret)

    def call(self, to, data, *, sender=None, value=0) -> bytes:
        st = self._state()
        try:
            s = checksum(sender) if sender else checksum("0x" + "00" * 20)
            self.balances[s] = self.balances.get(s, 0) + (0 if sender else value)
            ret, _ = self._run(to, data, s, value, self._peek_ts(), len(self.blocks), "0x" + "00" * 32)
            return ret
        except Revert as exc:
            raise TransactionReverted(str(exc)) from None
        finally:
            self._restore(st)

    def estimate_gas(self, tx: TxRequest) -> int:
        return GAS

    @property
    def block_number(self) -> int:
        return len(self.blocks) - 1

    def timestamp(self) -> int:
        return self.blocks[-1]

    def advance_time(self, seconds: int) -> int:
        self.offset += seconds
        return self._peek_ts()

    def get_logs(self, address=None, topics=None, from_block=0, to_block=None) -> list[Log]:
        out = []
        for log in self.logs:
            if log.block_number < from_block or (to_block is not None and log.block_number > to_block):
                continue
            if address and log.address.lower() != address.lower():
                continue
            if topics and any(t is not None and (i >= len(log.topics) or log.topics[i] != t) for i, t in enumerate(topics)):
                continue
            out.append(log)
        return out

    def snapshot(self) -> int:
        sid = next(self._ids)
        self._snapshots[sid] = self._state()
        return sid

    def revert(self, snapshot_id: int) -> None:
        self._restore(self._snapshots.pop(snapshot_id))
