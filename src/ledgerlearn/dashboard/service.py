"""What the dashboard does, as plain methods returning JSON-ready dicts.

:class:`DashboardService` is the dashboard without HTTP: the FastAPI app in
:mod:`ledgerlearn.dashboard.app` only parses requests and maps errors to status
codes. It runs on any :class:`~ledgerlearn.chain.base.Chain` (the embedded
chain of a data directory, anvil, a node), reads deployments from the same
records as the CLI, and keeps one :class:`~ledgerlearn.dashboard.index.ModelIndex`
per model so lists page through thousands of contributions cheaply.

Money leaves as decimal strings of wei (``*_wei``) with display twins
(``*_eth``): JSON numbers lose wei above 2**53.
"""

from __future__ import annotations

import base64
import binascii
import io
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledgerlearn.chain.base import Chain, TxRequest, checksum, next_timestamp
from ledgerlearn.encoders import NONE, input_kind
from ledgerlearn.errors import LedgerlearnError, NotFoundError, ValidationError
from ledgerlearn.shared_models.client import Contribution, SharedModel
from ledgerlearn.shared_models.status import format_eth, parse_amount
from ledgerlearn.dashboard.index import ModelIndex
from ledgerlearn.store.deployments import DeploymentStore

MAX_PAGE = 500
#: points per account in the balances chart (thinned; the last one always kept)
BALANCE_POINTS = 300
MAX_ADVANCE = 10 * 365 * 86400


def money(name: str, amount: int) -> dict[str, str]:
    """``{name_wei: "123", name_eth: "0.000… ETH"}``."""
    return {f"{name}_wei": str(int(amount)), f"{name}_eth": format_eth(int(amount))}


#: Largest integer a JavaScript number holds exactly.
JS_SAFE_INT = 2**53 - 1


def json_safe(obj: Any, key: str = "") -> Any:
    """``obj`` with wei fields (``*_wei``, and any integer beyond 2**53) as decimal strings.

    Records and events carry wei as Python ints; a browser would round them.
    """
    if isinstance(obj, dict):
        return {k: json_safe(v, str(k)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v, key) for v in obj]
    if isinstance(obj, int) and not isinstance(obj, bool) and (key.endswith("_wei") or abs(obj) > JS_SAFE_INT):
        return str(obj)
    return obj


def page_args(offset: Any, limit: Any) -> tuple[int, int]:
    try:
        o, n = int(offset), int(limit)
    except (TypeError, ValueError):
        raise ValidationError(f"offset, limit: expected integers, got {offset!r} and {limit!r}") from None
    if o < 0:
        raise ValidationError(f"offset: must be 0 or more, got {o}")
    if not 1 <= n <= MAX_PAGE:
        raise ValidationError(f"limit: must be between 1 and {MAX_PAGE}, got {n}")
    return o, n


def contribution_json(c: Contribution) -> dict:
    return {
        "tx_hash": c.tx_hash, "key": c.key, "author": c.author, "label": c.label, "label_name": c.label_name,
        "added_time": c.added_time, "block_number": c.block_number, **money("deposit", c.deposit),
        **money("remaining", c.remaining), "claims": c.claims, "status": c.status.value if c.status else None,
        "status_text": c.status_text, **money("claimable", c.claimable), "wait_s": c.wait_s, "refunded": c.refunded,
        "reported_by": list(c.reported_by), "original": c.original if isinstance(c.original, str) else None,
    }


def claim_json(r) -> dict:
    return {"tx_hash": r.tx_hash, **money("amount", r.amount), **money("credited", r.credited), "gas_used": r.gas_used}


def decode_image(value: Any):
    """A data URL (``data:image/png;base64,...``) or a nested pixel list -> a grey-scale array."""
    import numpy as np

    if isinstance(value, dict):
        value = value.get("image")
    if isinstance(value, str):
        head, sep, body = value.partition(",")
        if not sep or ";base64" not in head:
            raise ValidationError("input: an image must be a data URL (data:image/png;base64,...) or a list of pixel rows")
        try:
            blob = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("input: the image data URL is not valid base64") from None
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(blob)) as im:
                return np.asarray(im.convert("L"))
        except (UnidentifiedImageError, OSError) as exc:
            raise ValidationError(f"input: not a readable image ({exc})") from None
    if isinstance(value, list) and value:
        return value
    raise ValidationError("input: expected an image (a data URL or a list of pixel rows)")


@dataclass
class _ModelState:
    model: SharedModel
    index: ModelIndex
    name: str | None
    agrees: dict[str, bool] = field(default_factory=dict)  # key -> model predicts its label (at version)
    agrees_version: int = -1
    history: Any = None  # the accuracy replay (dashboard.history), when the initial model is known
    history_version: int = -1
    input: dict | None = None  # what a person types (DashboardService.input_spec)
    predict: Any = None  # the replay's exact off-chain predict, when it matches the contract
    balances: tuple[int, dict] | None = None  # (events seen, balances chart)


class DashboardService:
    """The dashboard's operations on one chain.

    Args:
        chain: the chain to act on (the caller closes it).
        deployments: where deployed models and markets are recorded.
        originals: the store of contributions' original inputs (optional).
        runs_dir: folder of simulation records (JSON).
        backend: ``"embedded"`` or ``"rpc"`` (shown to users).
    """

    def __init__(
        self,
        chain: Chain,
        deployments: DeploymentStore,
        *,
        originals=None,
        runs_dir: str | Path = "runs",
        backend: str = "embedded",
        rpc_url: str | None = None,
        data_dir: str | Path | None = None,
    ):
        self.chain = chain
        self.deployments = deployments
        self.originals = originals
        self.runs_dir = Path(runs_dir)
        self.backend = backend
        self.rpc_url = rpc_url
        self.data_dir = Path(data_dir) if data_dir else None
        self.lock = threading.RLock()  # chains and indexes are not thread-safe; requests take turns
        self._models: dict[str, _ModelState] = {}

    # ------------------------------------------------------------- chain
    @property
    def dev_chain(self) -> bool:
        if self.backend == "embedded":
            return True
        probe = getattr(self.chain, "_is_dev_chain", None)
        return bool(probe()) if probe else False

    def status(self) -> dict:
        with self.lock:
            c = self.chain
            return {
                "chain_id": c.chain_id, "backend": self.backend, "rpc_url": self.rpc_url, "block_number": c.block_number,
                "timestamp": c.timestamp(), "now": next_timestamp(c),
                "data_dir": str(self.data_dir) if self.data_dir else None,
                "dev_chain": self.dev_chain,
            }

    def accounts(self) -> list[dict]:
        with self.lock:
            return [{"index": i, "address": a, **money("balance", self.chain.balance(a))} for i, a in enumerate(self.chain.accounts)]

    def account(self, spec: Any, what: str = "account") -> str:
        """A dev account index or an address this chain can sign for."""
        accounts = self.chain.accounts
        if spec is None or (isinstance(spec, str) and not spec.strip()):
            raise ValidationError(f"{what}: choose an account to act as")
        s = str(spec).strip()
        if s.isdigit():
            i = int(s)
            if not 0 <= i < len(accounts):
                raise ValidationError(f"{what}: index {i} is out of range (this chain has accounts 0..{len(accounts) - 1})")
            return accounts[i]
        try:
            addr = checksum(s)
        except ValidationError:
            raise ValidationError(f"{what}: {s!r} is not an account index or an address") from None
        if addr not in accounts:
            raise ValidationError(f"{what}: {addr} is not an account this dashboard can sign for (use a browser wallet)")
        return addr

    @staticmethod
    def address(spec: Any, what: str = "address") -> str:
        try:
            return checksum(str(spec).strip())
        except (ValidationError, TypeError):
            raise ValidationError(f"{what}: {spec!r} is not an address") from None

    def advance(self, seconds: Any) -> dict:
        if not self.dev_chain:
            raise ValidationError("seconds: only a dev chain's clock can be moved (the embedded chain or anvil)")
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 < seconds <= MAX_ADVANCE:
            raise ValidationError(f"seconds: expected a whole number of seconds between 1 and {MAX_ADVANCE}, got {seconds!r}")
        with self.lock:
            self.chain.advance_time(seconds)
            return self.status()

    # ------------------------------------------------------------- models
    def _state(self, ref: str) -> _ModelState:
        ref = str(ref).strip()
        chain_id = self.chain.chain_id
        rec = self.deployments.find(chain_id, ref)
        key = rec.address if rec else ref.lower()
        st = self._models.get(key) or self._models.get(key.lower())
        if st is None:
            if rec is not None:
                try:
                    m = SharedModel(
                        self.chain, rec.address, store=self.originals, vocab=rec.vocab, feature_indices=rec.feature_indices,
                        from_block=rec.deploy_block,
                    )
                except NotFoundError:
                    raise NotFoundError(f"model: {rec.name!r} is recorded at {rec.address}, but this chain has no such contract") from None
                name = rec.name
            elif ref.lower().startswith("0x") and len(ref) == 42:
                m = SharedModel(self.chain, self.address(ref, "model"), store=self.originals)
                name = None
            else:
                known = ", ".join(sorted(self.deployments.models(chain_id))) or "none yet"
                raise NotFoundError(f"model: no model named {ref!r} on chain {chain_id} (known: {known})")
            st = _ModelState(m, ModelIndex(m), name)
            self._models[m.address] = st
        st.index.sync()
        return st

    def input_spec(self, st: _ModelState) -> dict:
        """What a person types to use the model: text, numbers, an image or encoded features."""
        if st.input is None:
            st.input = self._input_spec(st.model)
        return st.input

    def _input_spec(self, m: SharedModel) -> dict:
        info = m.info()
        if info.encoder == NONE:
            kind = "encoded"
            dims = self._dimension(m)
            hint = (f"{dims} fixed-point integers (scale 1e9, L2 norm 1)" if input_kind(m.model_type) == "dense" and dims
                    else "feature indices, comma-separated integers")
            return {"kind": kind, "dimension": dims if input_kind(m.model_type) == "dense" else None, "hint": hint}
        enc = m.encoder
        if enc.kind == "text":
            return {"kind": "text", "dimension": None, "hint": "text"}
        if enc.kind == "image":
            dims = self._dimension(m)
            side = int(dims ** 0.5) if dims else None
            hint = f"a grey-scale image of {side}x{side} pixels" if side and side * side == dims else "a grey-scale image"
            return {"kind": "image", "dimension": dims, "hint": hint}
        dims = (max(m.feature_indices) + 1) if m.feature_indices else self._dimension(m)
        return {"kind": "numbers", "dimension": dims, "hint": f"{dims} numbers, comma- or space-separated" if dims else "numbers"}

    @staticmethod
    def _dimension(m: SharedModel) -> int | None:
        if input_kind(m.model_type) != "dense":
            return None
        from ledgerlearn.shared_models.export import model_contract

        try:
            return int(model_contract(m).call("num_features"))
        except LedgerlearnError:
            return None

    def _raw(self, st: _ModelState, value: Any):
        """The request's ``input`` as the client's ``prepare`` takes it, with readable errors."""
        spec = self.input_spec(st)
        kind = spec["kind"]
        if value is None:
            raise ValidationError("input: missing")
        if kind == "text":
            if not isinstance(value, str) or not value.strip():
                raise ValidationError("input: the text is empty")
            return value, False
        if kind == "image":
            return decode_image(value), False
        if isinstance(value, str):
            if not value.strip():
                raise ValidationError("input: no numbers given")
            parts = value.replace(",", " ").split()
            try:
                value = [float(p) if kind == "numbers" else int(p) for p in parts]
            except ValueError:
                raise ValidationError(f"input: {value!r} is not a list of {'numbers' if kind == 'numbers' else 'integers'}") from None
        if not isinstance(value, list) or not value:
            raise ValidationError("input: expected a non-empty list of numbers")
        dims = spec["dimension"]
        if dims and len(value) != dims:
            raise ValidationError(f"input: the model takes {dims} values, got {len(value)}")
        return value, kind == "encoded"

    def models(self) -> list[dict]:
        with self.lock:
            out = []
            for name, rec in self.deployments.models(self.chain.chain_id).items():
                row = {"name": name, "address": rec.address, "model_type": rec.model_type, "incentive": rec.incentive,
                       "encoder": rec.encoder, "description": rec.description, "deploy_block": rec.deploy_block}
                try:
                    st = self._state(name)
                except NotFoundError as exc:
                    out.append({**row, "status": "missing", "error": str(exc), "classes": [], "accuracy": None,
                                "contributions": 0, "input": None})
                    continue
                out.append({**row, "status": "ok", "classes": list(st.model.classes), "accuracy": self._latest_accuracy(st),
                            "contributions": st.index.count(), "input": self.input_spec(st)})
            return out

    def model(self, ref: str) -> dict:
        with self.lock:
            st = self._state(ref)
            m, i = st.model, st.model.info()
            return {
                "name": st.name or i.name, "address": m.address, "description": i.description, "model_type": m.model_type,
                "incentive": i.incentive, "encoder": i.encoder, "classes": list(i.classes), "owner": i.owner,
                "refund_wait": i.refund_wait, "owner_claim_wait": i.owner_claim_wait, "any_claim_wait": i.any_claim_wait,
                **money("cost_weight", i.cost_weight), **money("next_deposit", m.next_deposit()),
                "contributions": st.index.count(), "input": self.input_spec(st), "accuracy": self._latest_accuracy(st),
            }

    def predict(self, ref: str, value: Any) -> dict:
        with self.lock:
            st = self._state(ref)
            m = st.model
            raw, encoded = self._raw(st, value)
            x = m.prepare(raw, encoded=encoded)
            label = m.predict(x, encoded=True)
            return {"label": label, "label_name": m.class_name(label), "x": x}

    def deposit(self, ref: str) -> dict:
        with self.lock:
            m = self._state(ref).model
            return {**money("deposit", m.next_deposit()), "incentive": m.info().incentive}

    # ------------------------------------------------------- transactions
    def _value(self, value: Any) -> int | None:
        if value is None or value == "":
            return None
        return parse_amount(value, what="value")

    def contribute(self, ref: str, *, input: Any, label: Any, account: Any, value: Any = None, max_deposit: Any = None) -> dict:
        with self.lock:
            st = self._state(ref)
            m = st.model
            sender = self.account(account)
            raw, encoded = self._raw(st, input)
            if label is None or (isinstance(label, str) and not label.strip()):
                raise ValidationError(f"label: choose a class ({', '.join(m.classes)})")
            md = self._value(max_deposit)
            r = m.contribute(raw, label, sender=sender, value=self._value(value), encoded=encoded, max_deposit=md)
            st.index.sync()
            return {"tx_hash": r.tx_hash, "key": r.key, **money("deposit", r.deposit), **money("value", r.value),
                    "gas_used": r.gas_used, "added_time": r.added_time, "label": r.label, "label_name": m.class_name(r.label)}

    def _contribution(self, st: _ModelState, tx_hash: str) -> Contribution:
        c = st.index.find(str(tx_hash))
        if c is None:
            raise NotFoundError(f"contribution: {tx_hash} is not a contribution to {st.model.address}")
        return c

    def refund(self, ref: str, tx_hash: str, *, account: Any) -> dict:
        with self.lock:
            st = self._state(ref)
            c = self._contribution(st, tx_hash)
            r = st.model.refund(c.tx_hash, sender=self.account(account))
            st.index.sync()
            return claim_json(r)

    def report(self, ref: str, tx_hash: str, *, account: Any) -> dict:
        with self.lock:
            st = self._state(ref)
            c = self._contribution(st, tx_hash)
            r = st.model.report(c.tx_hash, sender=self.account(account))
            st.index.sync()
            return claim_json(r)

    def withdraw(self, ref: str, *, account: Any) -> dict:
        with self.lock:
            st = self._state(ref)
            r = st.model.withdraw(self.account(account))
            st.index.sync()
            return claim_json(r)

    # --------------------------------------------------------------- lists
    def contributions(self, ref: str, *, author: Any = None, offset: Any = 0, limit: Any = 50) -> dict:
        o, n = page_args(offset, limit)
        with self.lock:
            st = self._state(ref)
            who = self.address(author, "author") if author else None
            items = st.index.page(author=who, offset=o, limit=n)
            st.model.fill_state(items, refunded=set(st.index.refunds), reports=st.index.reporters(), read_records=False,
                                agrees=lambda c: self._agrees(st, c))
            return {"total": st.index.count(who), "offset": o, "limit": n, "items": [contribution_json(c) for c in items]}

    def _agrees(self, st: _ModelState, c: Contribution) -> bool:
        """Whether the model now predicts ``c``'s label (cached until the model changes).

        The exact replay answers off chain when it is there and the contract
        confirmed it; otherwise the contract's ``predict`` is called.
        """
        if st.agrees_version != st.index.version:
            st.agrees, st.agrees_version = {}, st.index.version
            st.predict = self._replay_predict(st)
        hit = st.agrees.get(c.key)
        if hit is None:
            x = list(c.x)
            hit = st.agrees[c.key] = (st.predict(x) if st.predict else st.model.contract.call("predict", x)) == c.label
        return hit

    def _replay_predict(self, st: _ModelState):
        """The replayed model's ``predict`` when it matches the contract's, else None."""
        try:
            series = self._history(st)
        except LedgerlearnError:
            return None
        return st.history.predict if series.get("replay_matches_chain") else None

    def reportable(self, ref: str, *, account: Any, offset: Any = 0, limit: Any = 50) -> dict:
        """Others' contributions ``account`` can report or take now, newest first, with the amount."""
        o, n = page_args(offset, limit)
        with self.lock:
            st = self._state(ref)
            me = self.address(account, "account")
            m = st.model
            ctx = m.report_context(me)
            agrees = lambda c: self._agrees(st, c)  # noqa: E731 - asked only where a report hinges on it
            offers = []
            for c in st.index.newest_first():
                offer = m.report_offer(c, ctx, verify=False, claimed=me in c.reported_by, agrees=agrees)
                if offer is not None:
                    offers.append(offer)
            page = offers[o:o + n]
            items = []
            for r in page:
                items.append({**contribution_json(r.contribution), **money("amount", r.amount), "reason": r.reason})
            return {"total": len(offers), "offset": o, "limit": n, "items": items}

    def account_stats(self, ref: str, address: Any) -> dict:
        with self.lock:
            st = self._state(ref)
            m, a = st.model, self.address(address)
            info = m.info()
            now = m.now()
            held = refundable = 0
            for c in st.index.newest_first(a):
                if c.refunded:
                    continue
                held += c.remaining
                if (info.incentive != "points" and c.remaining and now >= c.added_time + info.refund_wait
                        and self._agrees(st, c)):
                    refundable += c.remaining
            call = m.contract.call
            return {
                "address": a, **money("balance", self.chain.balance(a)), **money("pending_withdrawal", call("pending_withdrawal", a)),
                "good_count": call("good_count", a), "total_good": call("total_good"), "points": call("points", a),
                "contributions": st.index.count(a), **money("held", held), **money("refundable", refundable),
            }

    # --------------------------------------------------------------- wallet
    def prepare(self, ref: str, action: str, body: dict) -> dict:
        """An unsigned transaction for a browser wallet, checked as a call first."""
        with self.lock:
            st = self._state(ref)
            m = st.model
            sender = self.address(body.get("account"), "account")
            value = 0
            if action == "contribute":
                raw, encoded = self._raw(st, body.get("input"))
                x = m.prepare(raw, encoded=encoded)
                lab = m.label_index(body.get("label"))
                deposit = m.next_deposit()
                value = self._value(body.get("value"))
                value = deposit if value is None else value
                if value < deposit:
                    raise ValidationError(f"value: {format_eth(value)} is less than the deposit {format_eth(deposit)}")
                fn, args = "add_data", (x, lab)
            elif action in ("refund", "report"):
                c = self._contribution(st, body.get("tx_hash", ""))
                fn = action
                args = (list(c.x), c.label, c.added_time) if action == "refund" else (list(c.x), c.label, c.added_time, c.author)
            elif action == "withdraw":
                fn, args = "withdraw", ()
            else:
                raise ValidationError(f"action: {action!r} is not one of contribute, refund, report, withdraw")
            m.contract.call(fn, *args, sender=sender, value=value)  # raises TransactionReverted with the reason
            tx = m.contract.tx(fn, *args, sender=sender, value=value)
            # Headroom: the deposit (and so the gas) depends on when the wallet's transaction is mined.
            gas = self.chain.estimate_gas(TxRequest(sender=sender, to=tx.to, data=tx.data, value=tx.value))
            return {"chain_id": hex(self.chain.chain_id), "from": sender, "to": tx.to, "data": "0x" + tx.data.hex(),
                    "value": hex(tx.value), "gas": hex(gas * 13 // 10 + 10_000)}

    def transaction(self, tx_hash: str) -> dict:
        with self.lock:
            get = getattr(self.chain, "receipt", None)
            if get is None:
                raise ValidationError("tx_hash: this chain backend cannot look up receipts")
            try:
                r = get(str(tx_hash))
            except LedgerlearnError as exc:
                raise NotFoundError(f"tx_hash: {exc}") from None
            for st in self._models.values():
                st.index.sync()
            events = []
            for st in self._models.values():
                events += [{k: (("0x" + v.hex()) if isinstance(v, bytes) else v) for k, v in e.items() if k != "_log"}
                           for e in st.model.contract.events(None, r.logs)]
            return json_safe({"tx_hash": r.tx_hash, "status": r.status, "block_number": r.block_number,
                              "gas_used": r.gas_used, "events": events})

    # ------------------------------------------------------------- charts
    def _latest_accuracy(self, st: _ModelState) -> float | None:
        try:
            series = self._history(st)
        except LedgerlearnError:
            return None
        points = series.get("points") or []
        return points[-1]["accuracy"] if points else None

    def _history(self, st: _ModelState) -> dict:
        """Accuracy over time by exact replay (``history.AccuracyReplay``), fed only the events it has not seen."""
        from ledgerlearn.dashboard.history import AccuracyReplay
        from ledgerlearn.models.files import model_from_dict

        if st.history is None:
            chain_id, address = self.chain.chain_id, st.model.address
            initial = self.deployments.load_artifact(chain_id, address, "initial")
            if initial is None:
                return {"available": False, "evaluation_size": 0, "points": [], "agreement": [], "reason":
                        "the model this contract started from was not recorded (it was not deployed by this"
                        " ledgerlearn), so its accuracy over time cannot be replayed"}
            evaluation = self.deployments.load_artifact(chain_id, address, "evaluation")
            st.history = AccuracyReplay(
                model_from_dict(initial), (evaluation["x"], evaluation["y"]) if evaluation else None,
                deploy_block=st.model.from_block, deploy_time=self._deploy_time(address),
            )
            st.history_version = 0
        fresh = st.index.events[st.history_version:]
        if fresh or st.history_version == 0:
            st.history.feed(fresh)
            st.history.verify(st.model)  # a few predict calls: is the replay still the contract's model?
            st.history_version = len(st.index.events)
        return st.history.series()

    def _deploy_time(self, address: str) -> int | None:
        """When the model went live (its last deployment transaction), for the chart's first point."""
        rec = self.deployments.find(self.chain.chain_id, address)
        get = getattr(self.chain, "receipt", None)
        if rec is None or not rec.tx_hashes or get is None:
            return None
        try:
            return int(get(rec.tx_hashes[-1]).timestamp)
        except LedgerlearnError:
            return None

    def _clock(self):
        from ledgerlearn.dashboard.history import EventClock

        if getattr(self, "_event_clock", None) is None:
            self._event_clock = EventClock(self.chain)
        return self._event_clock

    def accuracy_chart(self, ref: str) -> dict:
        with self.lock:
            return self._history(self._state(ref))

    def balances_chart(self, ref: str) -> dict:
        from ledgerlearn.dashboard import history

        with self.lock:
            st = self._state(ref)
            if st.balances is None or st.balances[0] != len(st.index.events):
                series = history.balance_series(st.index.events, clock=self._clock(), max_points=BALANCE_POINTS)
                for line in series["series"]:  # wei as strings: JSON numbers lose wei above 2**53
                    line["net_wei"] = str(line["net_wei"])
                    for point in line["points"]:
                        point["net_wei"] = str(point["net_wei"])
                st.balances = (len(st.index.events), series)
            return st.balances[1]

    def attach_evaluation(self, ref: str, records: Any) -> dict:
        """Encode labelled records with the model's encoder and keep them as its evaluation set."""
        from ledgerlearn.shared_models.publish import check_evaluation, save_evaluation

        if not isinstance(records, list) or not records:
            raise ValidationError("records: expected a non-empty list of {input, label}")
        with self.lock:
            st = self._state(ref)
            m = st.model
            X, y = [], []
            for i, r in enumerate(records):
                if not isinstance(r, dict):
                    raise ValidationError(f"records[{i}]: expected an object with input and label")
                try:
                    raw, encoded = self._raw(st, r.get("input", r.get("text", r.get("x"))))
                    X.append(m.prepare(raw, encoded=encoded))
                    y.append(m.label_index(r.get("label")))
                except ValidationError as exc:
                    raise ValidationError(f"records[{i}]: {exc}") from None
            X, y = check_evaluation(X, y, m.model_type, len(m.classes))
            save_evaluation(self.deployments, self.chain.chain_id, m.address, X, y)
            st.history = None  # replay again with the new set
            return {"evaluation_size": len(X), **self._history(st)}

    # ------------------------------------------------------- runs, markets
    def runs(self) -> list[dict]:
        from ledgerlearn.dashboard import history

        return history.list_runs(self.runs_dir)

    def run(self, run_id: str) -> dict:
        from ledgerlearn.dashboard import history

        return json_safe(history.load_run(self.runs_dir, run_id))

    def markets(self) -> list[dict]:
        from ledgerlearn.cli.market import MarketRecords
        from ledgerlearn.dashboard import history

        with self.lock:
            recs = MarketRecords(self.deployments).all(self.chain.chain_id)
            out = []
            for n, r in recs.items():
                try:
                    kind = history.market_kind(r)
                except ValidationError:
                    kind = r.get("kind")  # listed as recorded; its page says what is wrong
                out.append({"name": n, "kind": kind, "address": r.get("address")})
            return out

    def market(self, name: str) -> dict:
        from ledgerlearn.cli.market import MarketRecords
        from ledgerlearn.dashboard import history

        with self.lock:
            found = MarketRecords(self.deployments).find(self.chain.chain_id, name)
            if found is None:
                raise NotFoundError(f"market: no market {name!r} recorded on chain {self.chain.chain_id}")
            return json_safe(history.market_rounds(self.chain, found[0], found[1], clock=self._clock()))

    # -------------------------------------------------------------- deploy
    def deploy(self, body: dict) -> dict:
        """Deploy a model from a model file's JSON and record it (as ``ledgerlearn deploy --model-file``)."""
        from ledgerlearn.models.files import model_from_dict
        from ledgerlearn.contracts.registry import normalize_incentive
        from ledgerlearn.shared_models.publish import publish_model
        from ledgerlearn.shared_models.status import parse_duration

        model = body.get("model")
        if not isinstance(model, dict):
            raise ValidationError("model: expected the model file's JSON object")
        try:
            mirror = model_from_dict(model)
        except ValidationError as exc:
            raise ValidationError(f"model: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(f"model: not a model file ({exc})") from None
        inc = normalize_incentive(body.get("incentive") or "drt")
        defaults = {"drt": ("1d", "8d", "9d", "1e15"), "points": ("1d", "1d", "1d", "0")}[inc]
        rw = parse_duration(body.get("refund_wait") or defaults[0], what="refund_wait")
        ow = parse_duration(body.get("owner_claim_wait") or defaults[1], what="owner_claim_wait")
        aw = parse_duration(body.get("any_claim_wait") or defaults[2], what="any_claim_wait")
        cw = parse_amount(body.get("cost_weight") or defaults[3], what="cost_weight")
        name = str(body.get("name") or "").strip()
        with self.lock:
            owner = self.account(body.get("account"))
            pub = publish_model(
                self.chain, self.deployments, mirror, name=name, owner=owner, incentive=inc, refund_wait=rw,
                owner_claim_wait=ow, any_claim_wait=aw, cost_weight=cw, description=str(body.get("description") or ""),
                encoder=(body.get("encoder") or None), feature_indices=model.get("featureIndices"),
            )
            return {"name": pub.deployment.name, "address": pub.deployment.address, "gas_total": pub.deployment.gas_total,
                    "encoder": pub.deployment.encoder}
