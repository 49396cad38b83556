"""The embedded chain and anvil agree, transaction by transaction.

The same sequence (deploys, storage writes that set, rewrite, clear and
restore slots so refunds and cold/warm costs differ, calls into another
contract, a CREATE from a contract, calldata big enough for EIP-7623's floor,
value transfers, reverts, then a ``send_many`` batch whose gas depends on the
order) runs on :class:`LocalChain` and on a fresh anvil node through
:class:`RpcChain`. Status, revert reasons, return data, logs,
created addresses, gas used and the resulting balances must be identical.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from ledgerlearn.chain.base import Chain, Receipt, TxRequest
from ledgerlearn.chain.contract import Contract, ContractABI, deploy
from ledgerlearn.contracts.compiler import compile_source
from ledgerlearn.errors import TransactionReverted

pytestmark = pytest.mark.anvil

SINK = """
# pragma version ~=0.4.3
n: public(uint256)

@external
def poke(x: uint256) -> uint256:
    self.n += x
    return self.n
"""

STORE = """
# pragma version ~=0.4.3
interface Sink:
    def poke(x: uint256) -> uint256: nonpayable

event Stored:
    slot: indexed(uint256)
    old: uint256
    new: uint256

slots: public(HashMap[uint256, uint256])
deposits: public(HashMap[address, uint256])
sink: public(address)
spawned: public(DynArray[address, 8])

@deploy
def __init__(sink: address):
    self.sink = sink

@external
def write(keys: DynArray[uint256, 16], vals: DynArray[uint256, 16]) -> uint256:
    assert len(keys) == len(vals), "store: length mismatch"
    total: uint256 = 0
    for i: uint256 in range(len(keys), bound=16):
        old: uint256 = self.slots[keys[i]]
        self.slots[keys[i]] = vals[i]
        log Stored(slot=keys[i], old=old, new=vals[i])
        total += vals[i]
    return total

@external
def touch_twice(k: uint256, a: uint256, b: uint256):
    self.slots[k] = a
    self.slots[k] = b

@external
@payable
def deposit():
    self.deposits[msg.sender] += msg.value

@external
def withdraw(amount: uint256):
    assert self.deposits[msg.sender] >= amount, "store: not enough deposited"
    self.deposits[msg.sender] -= amount
    send(msg.sender, amount)

@external
def call_sink(x: uint256) -> uint256:
    a: uint256 = extcall Sink(self.sink).poke(x)
    return extcall Sink(self.sink).poke(a)

@external
def spawn() -> address:
    new: address = create_copy_of(self.sink)
    self.spawned.append(new)
    return new

@external
def big(data: Bytes[4096]) -> uint256:
    return len(data)

@external
@payable
def __default__():
    pass
"""


@dataclass
class Step:
    name: str
    run: Callable[[dict], Receipt]


def _steps(arts: dict, ctx: dict) -> list[Step]:
    """The transaction sequence; ``ctx`` carries the chain, accounts and deployed contracts."""

    def c(name: str) -> Contract:
        return ctx[name]

    def acct(i: int) -> str:
        return ctx["chain"].accounts[i]

    def deploy_sink(ctx):
        ctx["sink"], r = deploy(ctx["chain"], arts["sink"].abi, arts["sink"].bytecode, sender=acct(0))
        return r

    def deploy_store(ctx):
        ctx["store"], r = deploy(ctx["chain"], arts["store"].abi, arts["store"].bytecode, ctx["sink"].address, sender=acct(0))
        return r

    def tx(contract: str, fn: str, *args: Any, sender: int = 0, value: int = 0, gas: int | None = None):
        return lambda ctx: c(contract).transact(fn, *args, sender=acct(sender), value=value, gas=gas)

    def transfer(frm: int, to: Callable[[dict], str], value: int, data: bytes = b""):
        return lambda ctx: ctx["chain"].send(TxRequest(sender=acct(frm), to=to(ctx), value=value, data=data))

    ether = 10**18
    return [
        Step("deploy sink", deploy_sink),
        Step("deploy store", deploy_store),
        Step("write new slots", tx("store", "write", [1, 2, 3], [10, 20, 30])),
        Step("rewrite, no-op, clear", tx("store", "write", [1, 2, 3], [11, 20, 0], sender=1)),
        Step("write a cleared slot", tx("store", "write", [3], [5])),
        Step("set and clear in one tx", tx("store", "touch_twice", 7, 1, 0)),
        Step("clear and restore in one tx", tx("store", "touch_twice", 1, 0, 11, sender=2)),
        Step("length mismatch reverts", tx("store", "write", [1, 2], [1])),
        Step("deposit", tx("store", "deposit", sender=1, value=ether)),
        Step("withdraw sends ether", tx("store", "withdraw", 4 * ether // 10, sender=1)),
        Step("withdraw too much reverts", tx("store", "withdraw", 5 * ether, sender=1)),
        Step("call another contract", tx("store", "call_sink", 5, sender=2)),
        Step("call it again (warm in a new tx? no: cold again)", tx("store", "call_sink", 7, sender=2)),
        Step("CREATE from a contract", tx("store", "spawn", sender=3)),
        Step("zero calldata: EIP-7623 floor", tx("store", "big", b"\x00" * 3000, sender=3)),
        Step("non-zero calldata", tx("store", "big", b"\xff" * 1000, sender=3)),
        Step("plain transfer to an EOA", transfer(0, lambda ctx: ctx["chain"].accounts[4], 3 * ether)),
        Step("transfer with data to an EOA", transfer(4, lambda ctx: ctx["chain"].accounts[5], 1, b"\x00\x01" * 50)),
        Step("transfer to a payable default", transfer(5, lambda ctx: c("store").address, 12345)),
        Step("explicit gas too low", tx("store", "write", [9], [9], gas=30_000)),
        Step("many writes", tx("store", "write", list(range(20, 36)), list(range(1, 17)), sender=6)),
        Step("clear them all (refund cap)", tx("store", "write", list(range(20, 36)), [0] * 16, sender=6)),
    ]


def _replay(chain: Chain, arts: dict) -> tuple[list[dict], dict]:
    ctx: dict = {"chain": chain}
    rows = []
    for step in _steps(arts, ctx):
        try:
            r = step.run(ctx)
        except TransactionReverted as exc:
            rows.append({"step": step.name, "reverted": True, "reason": exc.reason, "gas_used": exc.gas_used})
            continue
        contracts = {ctx[k].address: k for k in ("sink", "store") if k in ctx}
        rows.append({
            "step": step.name,
            "reverted": False,
            "status": r.status,
            "gas_used": r.gas_used,
            "gas_exact": r.gas_exact,
            "return_data": r.return_data,  # a creation returns the deployed code
            "contract_address": r.contract_address,
            "logs": [(contracts.get(lg.address, lg.address), lg.topics, lg.data) for lg in r.logs],
            "fee": r.gas_used * r.effective_gas_price,
            "sender": r.sender,
        })  # fmt: skip
    store, sink = ctx["store"], ctx["sink"]
    # A batch whose gas depends on order: the same slots set, rewritten and cleared by
    # several senders, a revert in the middle, a transfer.
    accts = chain.accounts
    batch = [store.tx("write", [40 + i % 3], [(i * 7) % 4], sender=accts[i % 5]) for i in range(30)]
    batch.insert(12, store.tx("withdraw", 10**30, sender=accts[2]))
    batch.insert(20, TxRequest(sender=accts[3], to=accts[4], value=7))
    for i, r in enumerate(chain.send_many(batch)):
        if isinstance(r, TransactionReverted):
            rows.append({"step": f"batch {i}", "reverted": True, "reason": r.reason, "gas_used": r.gas_used})
        else:
            rows.append({"step": f"batch {i}", "reverted": False, "status": r.status, "gas_used": r.gas_used,
                         "gas_exact": r.gas_exact, "return_data": r.return_data, "contract_address": r.contract_address,
                         "logs": [(lg.address, lg.topics, lg.data) for lg in r.logs],
                         "fee": r.gas_used * r.effective_gas_price, "sender": r.sender})
    final = {
        "slots": [store.call("slots", k) for k in (1, 2, 3, 7, 9, *range(20, 36), 40, 41, 42)],
        "deposit": store.call("deposits", chain.accounts[1]),
        "sink.n": sink.call("n"),
        "spawned": store.call("spawned", 0),
        "store balance": chain.balance(store.address),
        # balances plus the fees each account paid: independent of the fee policy
        "balances + fees": [
            chain.balance(a) + sum(row["fee"] for row in rows if not row["reverted"] and row["sender"] == a)
            for a in chain.accounts[:7]
        ],
    }
    return rows, final


@pytest.fixture(scope="module")
def arts():
    return {
        "sink": compile_source(textwrap.dedent(SINK), "parity_sink"),
        "store": compile_source(textwrap.dedent(STORE), "parity_store"),
    }


def test_local_chain_and_anvil_agree_transaction_by_transaction(anvil_binary, arts):
    from ledgerlearn.chain.anvil import AnvilNode
    from ledgerlearn.chain.local import LocalChain
    from ledgerlearn.chain.rpc import RpcChain

    local_rows, local_final = _replay(LocalChain(), arts)
    with AnvilNode(binary=anvil_binary) as node:  # a fresh chain: same nonces, same addresses
        rpc = RpcChain(node.url)
        anvil_rows, anvil_final = _replay(rpc, arts)
        rpc.close()

    assert len(local_rows) == len(anvil_rows)
    for lo, an in zip(local_rows, anvil_rows):
        step = lo["step"]
        assert lo["reverted"] == an["reverted"], step
        if lo["reverted"]:
            if step != "explicit gas too low":  # out-of-gas wording differs per engine
                assert lo["reason"] == an["reason"], step
            assert lo["gas_used"] == an["gas_used"], f"{step}: gas a revert would burn differs"
            continue
        for key in ("status", "gas_used", "gas_exact", "return_data", "contract_address", "logs"):
            assert lo[key] == an[key], f"{step}: {key} differs (local {lo[key]!r}, anvil {an[key]!r})"
    assert local_final == anvil_final
    # the sequence exercised what it is meant to
    gas = {row["step"]: row.get("gas_used") for row in anvil_rows}
    assert gas["plain transfer to an EOA"] == 21_000
    assert anvil_rows[0]["return_data"] == arts["sink"].runtime_bytecode
    calldata = ContractABI(arts["store"].abi).encode_call("big", (b"\x00" * 3000,))[1]
    zeros = calldata.count(0)
    floor = 21_000 + 10 * (zeros + 4 * (len(calldata) - zeros))  # EIP-7623: the calldata floor wins here
    assert gas["zero calldata: EIP-7623 floor"] == floor
    assert [row["reverted"] for row in anvil_rows].count(True) == 4
    assert len({row["gas_used"] for row in anvil_rows if row["step"].startswith("batch") and not row["reverted"]}) >= 3
    assert gas["clear them all (refund cap)"] < gas["many writes"] // 3  # clearing slots earns refunds
