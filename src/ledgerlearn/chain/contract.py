"""A small typed contract wrapper over any :class:`~ledgerlearn.chain.base.Chain`.

It encodes calls with eth-abi from the ABI, decodes return values and events,
and caches selectors, so the per-call overhead stays far below the EVM's.

    c = Contract(chain, address, abi)
    c.call("predict", [1, 2, 3])                  # read-only, free
    r = c.transact("add_data", [1, 2, 3], 1, sender=a, value=wei)
    c.events("DataAdded", r.logs)                 # decoded dicts
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak

from ledgerlearn.chain.base import Chain, Log, Receipt, TxRequest, checksum
from ledgerlearn.errors import ValidationError


def _abi_type(item: dict) -> str:
    """Canonical ABI type string, expanding tuples."""
    t = item["type"]
    if t.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in item["components"])
        return f"({inner}){t[5:]}"
    return t


@dataclass(frozen=True)
class _Function:
    name: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    payable: bool
    view: bool


@dataclass(frozen=True)
class _Event:
    name: str
    topic0: bytes
    indexed: tuple[tuple[str, str], ...]
    plain: tuple[tuple[str, str], ...]
    order: tuple[str, ...]


class ContractABI:
    """Parsed ABI: functions by name (and by name/arity for overloads), events by name."""

    def __init__(self, abi: list[dict]):
        self.abi = abi
        self.functions: dict[str, list[_Function]] = {}
        self.events: dict[str, _Event] = {}
        self.events_by_topic: dict[bytes, _Event] = {}
        self.constructor_inputs: tuple[str, ...] = ()
        for item in abi:
            kind = item.get("type")
            if kind == "function":
                ins = tuple(_abi_type(i) for i in item.get("inputs", []))
                outs = tuple(_abi_type(o) for o in item.get("outputs", []))
                sig = f"{item['name']}({','.join(ins)})"
                mut = item.get("stateMutability", "nonpayable")
                fn = _Function(item["name"], keccak(text=sig)[:4], ins, outs, mut == "payable", mut in ("view", "pure"))
                self.functions.setdefault(item["name"], []).append(fn)
            elif kind == "event":
                sig = f"{item['name']}({','.join(_abi_type(i) for i in item['inputs'])})"
                ev = _Event(
                    item["name"],
                    keccak(text=sig),
                    tuple((i["name"], _abi_type(i)) for i in item["inputs"] if i.get("indexed")),
                    tuple((i["name"], _abi_type(i)) for i in item["inputs"] if not i.get("indexed")),
                    tuple(i["name"] for i in item["inputs"]),
                )
                self.events[ev.name] = ev
                self.events_by_topic[ev.topic0] = ev
            elif kind == "constructor":
                self.constructor_inputs = tuple(_abi_type(i) for i in item.get("inputs", []))

    def function(self, name: str, nargs: int) -> _Function:
        try:
            candidates = self.functions[name]
        except KeyError:
            raise ValidationError(f"function: the contract has no function {name!r}") from None
        for fn in candidates:
            if len(fn.inputs) == nargs:
                return fn
        raise ValidationError(
            f"arguments: {name} takes {', '.join(str(len(f.inputs)) for f in candidates)} argument(s), got {nargs}"
        )

    def encode_call(self, name: str, args: tuple) -> tuple[_Function, bytes]:
        fn = self.function(name, len(args))
        try:
            return fn, fn.selector + encode(list(fn.inputs), list(args))
        except Exception as exc:  # eth-abi raises several types for bad values
            raise ValidationError(f"arguments: cannot encode {name}{fn.inputs} from {args!r}: {exc}") from exc

    def encode_constructor(self, args: tuple) -> bytes:
        if len(args) != len(self.constructor_inputs):
            raise ValidationError(f"arguments: constructor takes {len(self.constructor_inputs)} argument(s), got {len(args)}")
        return encode(list(self.constructor_inputs), list(args)) if args else b""

    @staticmethod
    def decode_output(fn: _Function, data: bytes) -> Any:
        values = tuple(_normalize(t, v) for t, v in zip(fn.outputs, decode(list(fn.outputs), data))) if fn.outputs else ()
        return values[0] if len(values) == 1 else values

    def decode_log(self, log: Log) -> dict | None:
        """Decode a log of this ABI into ``{"event": name, **args}``; None if unknown."""
        if not log.topics:
            return None
        ev = self.events_by_topic.get(log.topics[0])
        if ev is None:
            return None
        out: dict[str, Any] = {"event": ev.name}
        for (name, typ), topic in zip(ev.indexed, log.topics[1:]):
            out[name] = _normalize(typ, decode([typ], topic)[0]) if not _is_dynamic(typ) else topic
        values = decode([t for _, t in ev.plain], log.data) if ev.plain else ()
        for (name, typ), value in zip(ev.plain, values):
            out[name] = _normalize(typ, value)
        out["_log"] = log
        return out


def _normalize(typ: str, value: Any) -> Any:
    """Checksum decoded addresses (eth-abi returns them in lower case)."""
    if typ == "address":
        return checksum(value)
    if typ.startswith("address[") and typ.endswith("]"):
        inner = typ[: typ.rindex("[")]
        return [_normalize(inner, v) for v in value]
    return value


def _is_dynamic(typ: str) -> bool:
    return typ in ("string", "bytes") or typ.endswith("[]") or typ.startswith("(")


class Contract:
    """A deployed contract on a chain."""

    def __init__(self, chain: Chain, address: str, abi: list[dict] | ContractABI):
        self.chain = chain
        self.address = checksum(address)
        self.abi = abi if isinstance(abi, ContractABI) else ContractABI(abi)

    def call(self, name: str, *args: Any, sender: str | None = None, value: int = 0) -> Any:
        """Read-only call; returns the decoded value (a tuple for several outputs)."""
        fn, data = self.abi.encode_call(name, args)
        return self.abi.decode_output(fn, self.chain.call(self.address, data, sender=sender, value=value))

    def tx(self, name: str, *args: Any, sender: str, value: int = 0, gas: int | None = None) -> TxRequest:
        """Build (not send) a transaction request for ``name(*args)``."""
        fn, data = self.abi.encode_call(name, args)
        if value and not fn.payable:
            raise ValidationError(f"value: {name} is not payable")
        return TxRequest(sender=sender, to=self.address, data=data, value=value, gas=gas)

    def transact(self, name: str, *args: Any, sender: str, value: int = 0, gas: int | None = None) -> Receipt:
        """Send ``name(*args)`` and return the receipt; raises TransactionReverted."""
        return self.chain.send(self.tx(name, *args, sender=sender, value=value, gas=gas))

    def events(self, name: str | None = None, logs: list[Log] | tuple[Log, ...] | None = None, from_block: int = 0) -> list[dict]:
        """Decoded events of this contract, from ``logs`` or from the chain."""
        if logs is None:
            topics = [self.abi.events[name].topic0] if name else None
            logs = self.chain.get_logs(address=self.address, topics=topics, from_block=from_block)
        out = []
        for log in logs:
            if log.address.lower() != self.address.lower():
                continue
            ev = self.abi.decode_log(log)
            if ev is not None and (name is None or ev["event"] == name):
                out.append(ev)
        return out


def deploy(chain: Chain, abi: list[dict], bytecode: bytes, *args: Any, sender: str, value: int = 0, gas: int | None = None) -> tuple[Contract, Receipt]:
    """Deploy ``bytecode`` with constructor ``args``; returns the contract and the receipt."""
    parsed = ContractABI(abi)
    receipt = chain.send(TxRequest(sender=sender, to=None, data=bytecode + parsed.encode_constructor(args), value=value, gas=gas))
    assert receipt.contract_address is not None
    return Contract(chain, receipt.contract_address, parsed), receipt
