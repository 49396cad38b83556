"""Typed client for a deployed shared model (one entry contract).

    from ledgerlearn.shared_models import SharedModel
    m = SharedModel(chain, address, store=OriginalStore(".ledgerlearn/originals.sqlite"))
    m.info()                                   # name, encoder, model type, incentive, waits, ...
    m.predict("what a great movie")            # free: a read-only call; the encoder is applied
    m.next_deposit()                           # wei to pay for adding data now
    r = m.contribute("what a great movie", "Positive", sender=me)   # pays the deposit
    m.my_contributions(me)                     # with status: "wait 3h to refund", "refund 0.05 ETH", ...
    m.refund(r.tx_hash, sender=me)
    m.reportable(other)                        # others' contributions `other` can report, with amounts
    m.report(tx_hash, sender=other)
    m.withdraw(me)                             # pull payments a push could not deliver

Everything is read from the contract's views and events (``DataAdded``,
``Refund``, ``Report``, ``Withdrawal``), so several clients, processes or
machines see the same state. Every transaction is first run as a read-only
call, so a transaction that would revert is refused with the contract's
reason before anything is sent (no gas spent, nothing changed). Money is
integer wei.

The contract ABI is built from the interface in ``docs/contracts-interface.md``
(the entry contract of every model kind has the same functions; ``x`` is
``uint256[]`` for sparse models and naive Bayes, ``int256[]`` for dense ones).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache

from eth_abi import encode as abi_encode
from eth_utils import keccak

from ledgerlearn.chain.base import Chain, Log, Receipt, checksum, next_timestamp
from ledgerlearn.chain.contract import Contract, ContractABI
from ledgerlearn.encoders import (
    NONE,
    canonical_model_type,
    get_encoder,
    input_kind,
    parse_vector,
    validate_input,
)
from ledgerlearn.errors import LedgerlearnError, NotFoundError, TransactionReverted, ValidationError
from ledgerlearn.shared_models.status import (
    Status,
    contribution_status,
    format_duration,
    format_eth,
    report_reward,
)
from ledgerlearn.store.originals import OriginalStore

INCENTIVES = ("drt", "points")

# ------------------------------------------------------------------- the ABI
_VIEWS_NOARG = {
    "next_deposit": "uint256", "name": "string", "description": "string", "encoder": "string",
    "model_type": "string", "incentive": "string", "num_classes": "uint256", "owner": "address",
    "finalized": "bool", "refund_wait": "uint256", "owner_claim_wait": "uint256", "any_claim_wait": "uint256",
    "cost_weight": "uint256", "last_update": "uint256", "total_good": "uint256",
}


def _fn(name: str, inputs: list[tuple[str, str]], outputs: list[str], mutability: str = "view") -> dict:
    return {
        "type": "function", "name": name, "stateMutability": mutability,
        "inputs": [{"name": n, "type": t} for n, t in inputs],
        "outputs": [{"name": "", "type": t} for t in outputs],
    }


def _ev(name: str, inputs: list[tuple[str, str, bool]]) -> dict:
    return {"type": "event", "name": name, "anonymous": False,
            "inputs": [{"name": n, "type": t, "indexed": i} for n, t, i in inputs]}


@lru_cache(maxsize=4)
def _entry_abi_cached(x_type: str | None) -> ContractABI:
    abi = [_fn(n, [], [t]) for n, t in _VIEWS_NOARG.items()]
    abi += [
        _fn("class_name", [("i", "uint256")], ["string"]),
        _fn("good_count", [("a", "address")], ["uint256"]),
        _fn("points", [("a", "address")], ["uint256"]),
        _fn("contribution", [("key", "bytes32")], ["uint256", "uint256", "uint256", "uint256"]),
        _fn("has_claimed", [("key", "bytes32"), ("a", "address")], ["bool"]),
        _fn("pending_withdrawal", [("a", "address")], ["uint256"]),
        _fn("withdraw", [], [], "nonpayable"),
        _fn("finalize", [], [], "nonpayable"),
        _ev("Refund", [("key", "bytes32", True), ("author", "address", True), ("amount", "uint256", False)]),
        _ev("Report", [("key", "bytes32", True), ("reporter", "address", True), ("amount", "uint256", False)]),
        _ev("Withdrawal", [("account", "address", True), ("amount", "uint256", False)]),
        _ev("Finalized", []),
    ]
    if x_type is not None:
        abi += [
            _fn("predict", [("x", x_type)], ["uint256"]),
            _fn("add_data", [("x", x_type), ("label", "uint256")], [], "payable"),
            _fn("refund", [("x", x_type), ("label", "uint256"), ("added_time", "uint256")], [], "nonpayable"),
            _fn("report", [("x", x_type), ("label", "uint256"), ("added_time", "uint256"), ("author", "address")], [], "nonpayable"),
            _ev("DataAdded", [("key", "bytes32", True), ("author", "address", True), ("label", "uint256", False),
                              ("added_time", "uint256", False), ("deposit", "uint256", False), ("x", x_type, False)]),
        ]
    return ContractABI(abi)


def x_abi_type(model_type: str) -> str:
    """``uint256[]`` (sparse, naive Bayes) or ``int256[]`` (dense) for a model type."""
    return "int256[]" if input_kind(model_type) == "dense" else "uint256[]"


def entry_abi(model_type: str | None = None) -> list[dict]:
    """The entry contract ABI of a model type (without ``x`` functions for None)."""
    return _entry_abi_cached(x_abi_type(model_type) if model_type else None).abi


def contribution_key(x: Sequence[int], label: int, added_time: int, author: str, *, model_type: str) -> bytes:
    """``keccak256(abi_encode(x, label, added_time, author))``, as the contract derives it."""
    return keccak(abi_encode([x_abi_type(model_type), "uint256", "uint256", "address"], [list(x), label, added_time, checksum(author)]))


# -------------------------------------------------------------- result types
@dataclass(frozen=True)
class ModelInfo:
    address: str
    name: str
    description: str
    encoder: str
    model_type: str
    incentive: str
    classes: tuple[str, ...]
    refund_wait: int
    owner_claim_wait: int
    any_claim_wait: int
    cost_weight: int
    owner: str
    finalized: bool

    def to_dict(self) -> dict:
        d = asdict(self)
        d["classes"] = list(self.classes)
        return d


@dataclass(frozen=True)
class ContributionResult:
    """What :meth:`SharedModel.contribute` did."""

    tx_hash: str
    key: str
    deposit: int  # wei the contract kept as the deposit
    value: int  # wei sent (any excess was returned)
    gas_used: int
    gas_exact: bool
    added_time: int
    block_number: int
    x: tuple[int, ...]
    label: int

    def to_dict(self) -> dict:
        d = asdict(self)
        d["x"] = list(self.x)
        return d


@dataclass(frozen=True)
class ClaimResult:
    """What a refund, report or withdrawal paid."""

    tx_hash: str
    amount: int  # wei paid (or credited to pending_withdrawal when a push failed)
    gas_used: int
    gas_exact: bool
    key: str | None = None
    credited: int = 0  # wei credited to pending_withdrawal instead of pushed

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Contribution:
    """A contribution as read from events and views."""

    key: str
    tx_hash: str
    author: str
    label: int
    label_name: str
    added_time: int
    deposit: int
    remaining: int
    claims: int
    x: tuple[int, ...]
    block_number: int
    status: Status | None = None
    status_text: str = ""
    claimable: int = 0
    wait_s: int = 0
    refunded: bool = False
    reported_by: tuple[str, ...] = ()
    original: str | None = None
    mismatch: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["x"] = list(self.x)
        d["status"] = self.status.value if self.status else None
        d["reported_by"] = list(self.reported_by)
        return d


@dataclass
class Reportable:
    """Someone else's contribution that an address can report now."""

    contribution: Contribution
    amount: int  # wei the reporter would get
    reason: str  # "model disagrees", "owner claim", "anyone may take it"

    def to_dict(self) -> dict:
        return {"amount": self.amount, "reason": self.reason, **self.contribution.to_dict()}


@dataclass(frozen=True)
class ReportContext:
    """A would-be reporter and the model's state, for :meth:`SharedModel.report_offer`."""

    reporter: str
    info: ModelInfo
    now: int
    good: int  # the reporter's verified (refunded) contributions
    total_good: int


@dataclass(frozen=True)
class AccountStats:
    address: str
    balance: int
    pending_withdrawal: int
    good_count: int
    total_good: int
    points: int
    contributions: int
    held: int  # wei still held by the contract for this address's contributions
    refundable: int  # wei this address could refund now

    def to_dict(self) -> dict:
        return asdict(self)


def hex_str(b: bytes | str) -> str:
    """``0x``-prefixed hex of bytes (a string passes through): keys and hashes from events."""
    return b if isinstance(b, str) else "0x" + bytes(b).hex()


def _bytes32(v: str | bytes, what: str) -> bytes:
    if isinstance(v, bytes):
        if len(v) != 32:
            raise ValidationError(f"{what}: expected 32 bytes, got {len(v)}")
        return v
    s = v[2:] if isinstance(v, str) and v.lower().startswith("0x") else v
    try:
        b = bytes.fromhex(s)
    except (TypeError, ValueError):
        b = b""
    if len(b) != 32:
        raise ValidationError(f"{what}: {v!r} is not a 32-byte hex value")
    return b


def _topic_address(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(checksum(address)[2:])


def _with_hint(exc: TransactionReverted, hint: str | None) -> TransactionReverted:
    if hint:
        exc.args = (f"{exc.args[0] if exc.args else 'reverted'} ({hint})",)
    return exc


# ------------------------------------------------------------------ the client
class SharedModel:
    """A shared model deployed at ``address`` on ``chain``.

    Args:
        store: where originals of contributions are kept (None: not kept).
        vocab: vocabulary (mapping or JSON file) for a vocabulary encoder.
        feature_indices: dimensions of a dense encoder output the model uses
            (from the model file; they are not stored on chain).
        from_block: first block to read events from (the deploy block).
        preflight: run each transaction as a call first (for chains that
            would mine a reverting transaction; ledgerlearn's backends never do,
            so the default is False).
    """

    def __init__(
        self,
        chain: Chain,
        address: str,
        *,
        store: OriginalStore | None = None,
        vocab: Mapping[str, int] | str | None = None,
        feature_indices: Sequence[int] | None = None,
        from_block: int = 0,
        preflight: bool = False,
        abi: list[dict] | None = None,
    ):
        self.chain = chain
        self.address = checksum(address)
        self.store = store
        self.vocab = vocab
        self.feature_indices = list(feature_indices) if feature_indices is not None else None
        self.from_block = int(from_block)
        self.preflight = preflight
        base = Contract(chain, self.address, _entry_abi_cached(None))
        try:
            model_type = base.call("model_type")
        except Exception as exc:  # no code (empty return), or not an entry contract
            raise NotFoundError(f"address: no shared model contract at {self.address} on this chain ({exc})") from None
        self.model_type: str = canonical_model_type(model_type)
        self.contract = Contract(chain, self.address, abi if abi is not None else _entry_abi_cached(x_abi_type(self.model_type)))
        self._info: ModelInfo | None = None
        self._encoder = None

    def __repr__(self) -> str:
        return f"SharedModel({self.address}, {self.model_type!r})"

    # ------------------------------------------------------------------ views
    def info(self, *, refresh: bool = False) -> ModelInfo:
        """The model's fixed facts (cached; ``refresh=True`` reads them again)."""
        if self._info is None or refresh:
            c = self.contract.call
            n = c("num_classes")
            self._info = ModelInfo(
                address=self.address, name=c("name"), description=c("description"), encoder=c("encoder"),
                model_type=self.model_type, incentive=c("incentive"), classes=tuple(c("class_name", i) for i in range(n)),
                refund_wait=c("refund_wait"), owner_claim_wait=c("owner_claim_wait"), any_claim_wait=c("any_claim_wait"),
                cost_weight=c("cost_weight"), owner=checksum(c("owner")), finalized=c("finalized"),
            )
        return self._info

    @property
    def classes(self) -> tuple[str, ...]:
        return self.info().classes

    def next_deposit(self) -> int:
        """Wei a contribution made now must pay (0 for Points)."""
        return self.contract.call("next_deposit")

    def last_update(self) -> int:
        return self.contract.call("last_update")

    def now(self) -> int:
        """Best estimate of the timestamp the next transaction will get."""
        return next_timestamp(self.chain)

    # --------------------------------------------------------------- encoding
    @property
    def encoder(self):
        """The input encoder named on chain (needs ``vocab`` for a vocabulary encoder)."""
        if self._encoder is None:
            self._encoder = get_encoder(self.info().encoder, vocab=self.vocab)
        return self._encoder

    def encode(self, raw) -> list[int]:
        """Apply the on-chain encoder (and the feature selection) to a raw input.

        Text encoders take a string (also for dense models: sentence
        embeddings), image encoders an image (array, nested lists or a file
        path), dense encoders a vector of numbers.
        """
        enc_name = self.info().encoder
        if enc_name == NONE:
            return validate_input(raw, self.model_type)
        enc = self.encoder
        if enc.kind == "text":
            if not isinstance(raw, str):
                raise ValidationError(f"raw: encoder {enc_name!r} takes text, got {type(raw).__name__}")
            x = enc.encode(raw, self.model_type)
        elif enc.kind == "image":
            x = enc.encode(raw, self.model_type)
        else:
            vec = parse_vector(raw)
            if self.feature_indices is not None:
                try:
                    vec = [vec[i] for i in self.feature_indices]
                except (IndexError, TypeError):
                    raise ValidationError(
                        f"x: the model uses feature indices up to {max(self.feature_indices)}, the input has {len(vec)} values"
                    ) from None
            x = enc.encode(vec, self.model_type)
        return validate_input(x, self.model_type)

    def prepare(self, raw_or_encoded, *, encoded: bool | None = None) -> list[int]:
        """The model input for ``raw_or_encoded``.

        ``encoded=None`` guesses: text and images are raw; a list is already
        encoded for a text encoder and raw (floats) for a dense encoder. Pass
        ``encoded`` to say which.
        """
        if encoded is None:
            enc_name = self.info().encoder
            enc_kind = None if enc_name == NONE else self.encoder.kind
            encoded = (
                not isinstance(raw_or_encoded, str)
                and enc_kind == "text"
                and input_kind(self.model_type) != "dense"
            )
            if enc_name == NONE:
                encoded = True
        if encoded:
            return validate_input(raw_or_encoded, self.model_type)
        return self.encode(raw_or_encoded)

    def label_index(self, label: int | str) -> int:
        """A class index from an index or a class name (case-insensitive)."""
        classes = self.classes
        if isinstance(label, bool):
            raise ValidationError(f"label: expected a class index or name, got {label!r}")
        if isinstance(label, str):
            for i, c in enumerate(classes):
                if c == label:
                    return i
            for i, c in enumerate(classes):
                if c.lower() == label.strip().lower():
                    return i
            if label.strip().isdigit():
                label = int(label.strip())
            else:
                raise ValidationError(f"label: {label!r} is not a class of this model (classes: {', '.join(classes)})")
        try:
            idx = int(label)
        except (TypeError, ValueError):
            raise ValidationError(f"label: expected a class index or name, got {label!r}") from None
        if not 0 <= idx < len(classes):
            raise ValidationError(f"label: {idx} is out of range (the model has {len(classes)} classes: {', '.join(classes)})")
        return idx

    def class_name(self, index: int) -> str:
        classes = self.classes
        return classes[index] if 0 <= index < len(classes) else str(index)

    # ---------------------------------------------------------------- predict
    def predict(self, raw_or_encoded, *, encoded: bool | None = None) -> int:
        """Class index the model predicts (a free read-only call)."""
        x = self.prepare(raw_or_encoded, encoded=encoded)
        return self.contract.call("predict", x)

    def predict_name(self, raw_or_encoded, *, encoded: bool | None = None) -> str:
        return self.class_name(self.predict(raw_or_encoded, encoded=encoded))

    # ----------------------------------------------------------- transactions
    def _send(self, name: str, *args, sender: str, value: int = 0, hint=None) -> Receipt:
        # Both backends refuse a reverting transaction without mining it
        # (LocalChain undoes it, RpcChain estimates first), so a preflight
        # call is only needed for chains that would mine a revert.
        try:
            if self.preflight:
                self.contract.call(name, *args, sender=sender, value=value)
            return self.contract.transact(name, *args, sender=sender, value=value)
        except TransactionReverted as exc:
            raise _with_hint(exc, hint() if hint else None) from None

    def _sender(self, sender: str | None, what: str = "sender") -> str:
        if sender is None:
            raise ValidationError(f"{what}: an account to send from is required")
        try:
            return checksum(sender)
        except ValidationError:
            raise ValidationError(f"{what}: {sender!r} is not an address") from None

    def contribute(
        self,
        raw,
        label: int | str,
        *,
        sender: str,
        value: int | None = None,
        encoded: bool | None = None,
        max_deposit: int | None = None,
    ) -> ContributionResult:
        """Add a training sample, paying the current deposit (``value`` overrides).

        The original is kept in the store, keyed by the transaction hash.
        """
        sender = self._sender(sender)
        x = self.prepare(raw, encoded=encoded)
        lab = self.label_index(label)
        if self.info().incentive == "points" and value:
            raise ValidationError(f"value: contributing to a Points model is free; send no value (got {value} wei)")
        deposit = self.next_deposit()
        if value is None:
            value = deposit
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError(f"value: expected a non-negative integer number of wei, got {value!r}")
        elif value < deposit:
            raise ValidationError(f"value: {format_eth(value)} is less than the deposit {format_eth(deposit)} ({deposit} wei)")
        if max_deposit is not None and deposit > max_deposit:
            raise ValidationError(f"max_deposit: the deposit is {format_eth(deposit)}, more than the {format_eth(max_deposit)} allowed")
        bal = self.chain.balance(sender)
        if value > bal:
            raise ValidationError(f"sender: {sender} has {format_eth(bal)}, less than the {format_eth(value)} to send")
        receipt = self._send("add_data", x, lab, sender=sender, value=value)
        return self._record_contribution(receipt, raw, x, lab, value, sender, encoded)

    def contribute_many(self, items, *, encoded: bool | None = None) -> list:
        """Send many contributions at once: ``items`` are ``(raw, label, sender)``.

        Backends batch them (anvil: one raw JSON-RPC batch, one block). Each
        pays the largest deposit a contribution can need (``cost_weight * 3600``);
        the contract returns the excess. Returns one entry per item: a
        :class:`ContributionResult` or the exception that item raised.
        """
        info = self.info()
        value = info.cost_weight * 3600 if info.incentive == "drt" else 0
        prepared = []
        for raw, label, sender in items:
            prepared.append((raw, self.prepare(raw, encoded=encoded), self.label_index(label), self._sender(sender)))
        txs = [self.contract.tx("add_data", x, lab, sender=snd, value=value) for _, x, lab, snd in prepared]
        out = []
        for (raw, x, lab, snd), res in zip(prepared, self.chain.send_many(txs)):
            out.append(res if isinstance(res, Exception) else self._record_contribution(res, raw, x, lab, value, snd, encoded))
        return out

    def _record_contribution(self, receipt: Receipt, raw, x, lab: int, value: int, sender: str, encoded) -> ContributionResult:
        """Result of an accepted ``add_data``; keeps the original in the store."""
        evs = self.contract.events("DataAdded", receipt.logs)
        if not evs:
            raise LedgerlearnError(f"add_data: transaction {receipt.tx_hash} emitted no DataAdded event")
        ev = evs[0]
        result = ContributionResult(
            tx_hash=receipt.tx_hash, key=hex_str(ev["key"]), deposit=ev["deposit"], value=value, gas_used=receipt.gas_used,
            gas_exact=receipt.gas_exact, added_time=ev["added_time"], block_number=receipt.block_number,
            x=tuple(ev["x"]), label=lab,
        )
        if self.store is not None:
            original = raw if not (encoded is True) else list(x)
            if isinstance(original, (list, tuple)) or hasattr(original, "tolist"):
                original = list(original.tolist() if hasattr(original, "tolist") else original)
            self.store.add(
                chain_id=self.chain.chain_id, tx_hash=receipt.tx_hash, model=self.address, author=sender, raw=original,
                encoded=result.x, label=lab, added_time=result.added_time, encoder=self.info().encoder,
            )
        return result

    # ------------------------------------------------------------------ events
    def _logs(self, event: str, topics: list[bytes | None] | None = None) -> list[dict]:
        ev = self.contract.abi.events[event]
        logs = self.chain.get_logs(address=self.address, topics=[ev.topic0, *(topics or [])], from_block=self.from_block)
        out = []
        for log in logs:
            d = self.contract.abi.decode_log(log)
            if d is not None and d["event"] == event:
                out.append(d)
        return out

    def _contribution_from_event(self, d: dict) -> Contribution:
        log: Log = d["_log"]
        return Contribution(
            key=hex_str(d["key"]), tx_hash=log.tx_hash, author=checksum(d["author"]), label=d["label"],
            label_name=self.class_name(d["label"]), added_time=d["added_time"], deposit=d["deposit"],
            remaining=d["deposit"], claims=0, x=tuple(d["x"]), block_number=log.block_number,
        )

    def contributions(self, *, author: str | None = None, exclude: str | None = None, with_status: bool = True) -> list[Contribution]:
        """Contributions (all, or one author's), oldest first, with their state."""
        topics = [None, _topic_address(author)] if author else None
        items = [self._contribution_from_event(d) for d in self._logs("DataAdded", topics)]
        if exclude:
            ex = checksum(exclude)
            items = [c for c in items if c.author != ex]
        if not items:
            return []
        refunds = {hex_str(d["key"]) for d in self._logs("Refund")}
        reports: dict[str, list[str]] = {}
        for d in self._logs("Report"):
            reports.setdefault(hex_str(d["key"]), []).append(checksum(d["reporter"]))
        return self.fill_state(items, refunded=refunds, reports=reports, with_status=with_status)

    def fill_state(
        self, items: list[Contribution], *, refunded: set[str], reports: Mapping[str, Sequence[str]], with_status: bool = True,
        read_records: bool = True, agrees: Callable[[Contribution], bool] | None = None,
    ) -> list[Contribution]:
        """Complete contributions read from ``DataAdded`` events with their state now.

        ``refunded`` holds the keys of refunded contributions and ``reports``
        the reporters of each key (both from events). With ``read_records``
        the deposit, what remains and the claims are read from the contract
        (else the items already carry them, e.g. derived from events). The
        status needs the model's opinion once the refund wait is over:
        ``agrees(c)`` (default: a ``predict`` call).
        """
        info = self.info()
        now = self.now() if with_status else 0
        for c in items:
            if read_records:
                initial, remaining, claims, _ = self.contract.call("contribution", _bytes32(c.key, "key"))
                c.deposit, c.remaining, c.claims = initial, remaining, claims
            c.refunded = c.key in refunded
            c.reported_by = tuple(reports.get(c.key, ()))
            if with_status:
                opinion = None
                if not c.refunded and not (c.claims and (info.incentive == "points" or c.remaining == 0)) and now >= c.added_time + info.refund_wait:
                    opinion = (agrees or self._agrees)(c)
                st = contribution_status(
                    now=now, added_time=c.added_time, refund_wait=info.refund_wait, remaining=c.remaining,
                    claims=c.claims, refunded=c.refunded, model_agrees=opinion, incentive=info.incentive,
                )
                c.status, c.status_text, c.claimable, c.wait_s = st.status, st.text, st.claimable, st.wait_s
        self._attach_originals(items)
        return items

    def _attach_originals(self, items: list[Contribution]) -> None:
        if self.store is None or not items:
            return
        recs = self.store.by_hash(self.chain.chain_id, [c.tx_hash for c in items])
        try:
            _ = self.encoder
            can_encode = True
        except LedgerlearnError:
            can_encode = False  # e.g. no vocabulary given: compare stored encodings only
        for c in items:
            rec = recs.get(c.tx_hash.lower())
            if rec is None:
                continue
            c.original = rec.raw
            encode = (lambda raw: self.prepare(raw, encoded=False)) if can_encode and rec.raw != "" else None
            c.mismatch = OriginalStore.check(rec, c.x, encode)

    def my_contributions(self, address: str) -> list[Contribution]:
        """``address``'s contributions with their status, oldest first."""
        return self.contributions(author=self._sender(address, "address"))

    def find(self, ref: str | Contribution) -> Contribution:
        """A contribution by the hash of the transaction that added it, or by its key."""
        if isinstance(ref, Contribution):
            ref = ref.tx_hash
        r = hex_str(_bytes32(ref, "contribution")).lower()
        for d in self._logs("DataAdded"):
            if d["_log"].tx_hash.lower() == r or hex_str(d["key"]).lower() == r:
                c = self._contribution_from_event(d)
                initial, remaining, claims, _ = self.contract.call("contribution", _bytes32(c.key, "key"))
                c.deposit, c.remaining, c.claims = initial, remaining, claims
                c.refunded = bool(self._logs("Refund", [_bytes32(c.key, "key")]))
                c.reported_by = tuple(checksum(e["reporter"]) for e in self._logs("Report", [_bytes32(c.key, "key")]))
                self._attach_originals([c])
                return c
        raise NotFoundError(f"contribution: no contribution to {self.address} was added by transaction or has key {ref}")

    def refund(self, ref: str | Contribution, *, sender: str | None = None) -> ClaimResult:
        """Take back the deposit of your own contribution (the model must agree, after ``refund_wait``)."""
        c = self.find(ref)
        sender = self._sender(sender or c.author)
        info = self.info()
        if sender != c.author:
            raise ValidationError(f"sender: {sender} is not the author ({c.author}) of this contribution; others use report")
        if c.refunded or self.contract.call("has_claimed", _bytes32(c.key, "key"), sender):
            raise ValidationError(f"contribution: {c.tx_hash} was already refunded")
        if info.incentive != "points" and c.claims and c.remaining == 0:
            raise ValidationError(f"contribution: nothing remains of {c.tx_hash}: others took it")

        def hint() -> str | None:
            wait = c.added_time + info.refund_wait - self.now()
            if wait > 0:
                return f"the refund is possible in {format_duration(wait)}"
            if self.contract.call("predict", list(c.x)) != c.label:
                return "the model now disagrees with the label"
            return None

        return self._claim("refund", (list(c.x), c.label, c.added_time), event="Refund", key=c.key, sender=sender, hint=hint)

    def report(self, ref: str | Contribution, *, sender: str) -> ClaimResult:
        """Report someone else's contribution the model disagrees with (or take it after the waits)."""
        c = self.find(ref)
        sender = self._sender(sender)
        info = self.info()
        if sender == c.author and self.now() < c.added_time + info.any_claim_wait:
            raise ValidationError(f"sender: {sender} is the author of this contribution; use refund")
        if self.contract.call("has_claimed", _bytes32(c.key, "key"), sender):
            raise ValidationError(f"contribution: {sender} already reported {c.tx_hash}")
        if info.incentive != "points" and c.remaining == 0 and c.claims:
            raise ValidationError(f"contribution: nothing remains of {c.tx_hash}")

        def hint() -> str | None:
            wait = c.added_time + info.refund_wait - self.now()
            if wait > 0:
                return f"reports are possible in {format_duration(wait)}"
            if self.contract.call("predict", list(c.x)) == c.label and self.now() < c.added_time + info.any_claim_wait:
                return "the model agrees with the label"
            if info.incentive != "points" and self.contract.call("good_count", sender) == 0:
                return f"{sender} has no refunded (verified) contribution yet"
            return None

        return self._claim(
            "report", (list(c.x), c.label, c.added_time, c.author), event="Report", key=c.key, sender=sender, hint=hint
        )

    def withdraw(self, sender: str) -> ClaimResult:
        """Pull what failed pushes credited to ``sender``."""
        sender = self._sender(sender)
        pending = self.contract.call("pending_withdrawal", sender)
        if pending == 0:
            raise ValidationError(f"sender: nothing to withdraw for {sender}")
        receipt = self._send("withdraw", sender=sender)
        evs = self.contract.events("Withdrawal", receipt.logs)
        amount = evs[0]["amount"] if evs else pending
        return ClaimResult(receipt.tx_hash, amount, receipt.gas_used, receipt.gas_exact)

    def _claim(self, name: str, args: tuple, *, event: str, key: str, sender: str, hint) -> ClaimResult:
        pending_before = self.contract.call("pending_withdrawal", sender)
        receipt = self._send(name, *args, sender=sender, hint=hint)
        amount = sum(e["amount"] for e in self.contract.events(event, receipt.logs))
        # A push that failed (e.g. a contract receiver that reverts) is credited for withdraw().
        credited = max(0, self.contract.call("pending_withdrawal", sender) - pending_before) if amount else 0
        return ClaimResult(receipt.tx_hash, amount, receipt.gas_used, receipt.gas_exact, key=key, credited=credited)

    # ------------------------------------------------------------ reporting
    def reportable(self, address: str, *, verify: bool = True) -> list[Reportable]:
        """Others' contributions ``address`` can report now, with the wei it would get.

        Follows the spec: after ``refund_wait`` a verified reporter (one good
        contribution at least) who has not reported it yet, when the current
        model disagrees, gets ``initial * good(reporter) // total_good``
        (capped; all that remains when that is 0 or too much); after
        ``owner_claim_wait`` the owner takes all that remains; after
        ``any_claim_wait`` anyone does. With ``verify`` each candidate is also
        checked by a read-only call of ``report``.
        """
        ctx = self.report_context(address)
        offers = (self.report_offer(c, ctx, verify=verify) for c in self.contributions(exclude=ctx.reporter, with_status=False))
        return [r for r in offers if r is not None]

    def _agrees(self, c: Contribution) -> bool:
        return self.contract.call("predict", list(c.x)) == c.label

    def report_context(self, address: str) -> ReportContext:
        """What :meth:`report_offer` needs to know about a would-be reporter, read once."""
        me = self._sender(address, "address")
        return ReportContext(
            reporter=me, info=self.info(), now=self.now(), good=self.contract.call("good_count", me),
            total_good=self.contract.call("total_good"),
        )

    def report_offer(
        self, c: Contribution, ctx: ReportContext, *, verify: bool = True, claimed: bool | None = None,
        agrees: Callable[[Contribution], bool] | None = None,
    ) -> Reportable | None:
        """What ``ctx.reporter`` would get by reporting ``c`` now (None: nothing).

        ``c`` needs its deposit, remaining, claims and refunded state.
        ``claimed`` (whether the reporter already reported it) is read from
        the contract when not given; ``agrees(c)`` tells whether the model
        predicts ``c``'s label (default: a ``predict`` call), asked only when
        the report depends on it.
        """
        info, me, points = ctx.info, ctx.reporter, ctx.info.incentive == "points"
        if c.author == me or c.refunded or (points and c.claims) or (not points and c.remaining == 0):
            return None
        age = ctx.now - c.added_time
        if age < info.refund_wait:
            return None
        if claimed is None:
            claimed = self.contract.call("has_claimed", _bytes32(c.key, "key"), me)
        if claimed:
            return None
        if not points and age >= info.any_claim_wait:
            amount, reason = c.remaining, "anyone may take it"
        elif not points and me == info.owner and age >= info.owner_claim_wait:
            amount, reason = c.remaining, "owner claim"
        else:
            if (agrees or self._agrees)(c):
                return None
            if points:
                amount, reason = 0, "model disagrees"
            elif ctx.good == 0:
                return None
            else:
                amount = report_reward(initial=c.deposit, remaining=c.remaining, good_reporter=ctx.good, total_good=ctx.total_good)
                reason = "model disagrees"
        if verify:
            try:
                self.contract.call("report", list(c.x), c.label, c.added_time, c.author, sender=me)
            except TransactionReverted:
                return None
        c.status_text = reason
        return Reportable(c, amount, reason)

    # ------------------------------------------------------------------ stats
    def stats(self, address: str) -> AccountStats:
        """Balance, pending withdrawal, verified contributions, points, deposits held."""
        a = self._sender(address, "address")
        mine = self.contributions(author=a)
        return AccountStats(
            address=a, balance=self.chain.balance(a), pending_withdrawal=self.contract.call("pending_withdrawal", a),
            good_count=self.contract.call("good_count", a), total_good=self.contract.call("total_good"),
            points=self.contract.call("points", a), contributions=len(mine),
            held=sum(c.remaining for c in mine if not c.refunded),
            refundable=sum(c.claimable for c in mine if c.status == Status.REFUNDABLE),
        )

    balances = stats
