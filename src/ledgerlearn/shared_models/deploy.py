"""Deploy shared models: factory, per-chain implementations, EIP-1167 clones.

A shared model is a minimal proxy (EIP-1167) of an *implementation* contract,
one per (model kind, incentive) and chain, created by ``factory.vy`` which
calls ``initialize`` in the same transaction (nobody can front-run it). The
first model of a kind on a chain pays for the implementation (a few million
gas); every further one pays only for its clone, its parameters and its
weights::

    from ledgerlearn.shared_models.deploy import deploy_shared_model
    res = deploy_shared_model(chain, mirror, incentive="drt", name="imdb",
                              description="IMDB sentiment", encoder="IMDB vocab",
                              owner=me, refund_wait=86400, owner_claim_wait=7 * 86400,
                              any_claim_wait=9 * 86400, cost_weight=10**15)
    res.address, res.gas_total, res.infrastructure   # record the latter to reuse it

Implementations are registered in the factory under the keccak256 of their
runtime code, so a recorded or remembered address is trusted only if the
factory maps the expected code hash to it.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak

from ledgerlearn.chain.base import Chain, Receipt, checksum
from ledgerlearn.chain.contract import Contract, ContractABI, deploy
from ledgerlearn.contracts import registry
from ledgerlearn.errors import LedgerlearnError, TransactionReverted, ValidationError

FACTORY_VERSION = "ledgerlearn-1"
FACTORY_KEY = "factory"
MAX_NAME, MAX_DESCRIPTION, MAX_ENCODER = 128, 1024, 64
MAX_INIT_CALLDATA = 16384
MAX_WAIT = 2**32 - 1
MAX_COST_WEIGHT = 2**79 - 1
_ZERO = "0x" + "00" * 20

#: Infrastructure found or deployed in this process, per chain object.
_memo: "weakref.WeakKeyDictionary[Chain, dict[str, str]]" = weakref.WeakKeyDictionary()


def implementation_key(kind: str, incentive: str) -> str:
    """Key of an implementation in the infrastructure dict: ``"impl:sparse_perceptron/drt"``."""
    return f"impl:{kind}/{registry.normalize_incentive(incentive)}"


@dataclass(frozen=True)
class DeployResult:
    """What :func:`deploy_shared_model` did."""

    address: str
    receipts: tuple[Receipt, ...]
    gas_total: int  # every transaction this call sent, infrastructure included
    factory: str = ""
    implementation: str = ""
    #: factory and implementation addresses (record them to reuse them)
    infrastructure: dict[str, str] = field(default_factory=dict)
    #: part of ``gas_total`` spent deploying the factory / implementation (0 when reused)
    infrastructure_gas: int = 0
    deploy_block: int = 0

    @property
    def model_gas(self) -> int:
        """Gas of the model itself: clone + initialise, setup calls, finalize."""
        return self.gas_total - self.infrastructure_gas

    @property
    def tx_hashes(self) -> list[str]:
        return [r.tx_hash for r in self.receipts]


# --------------------------------------------------------------- infrastructure
def _remembered(chain: Chain) -> dict[str, str]:
    try:
        return _memo.get(chain, {})
    except TypeError:  # a chain object that cannot be weakly referenced
        return {}


def _factory_ok(chain: Chain, address: str) -> bool:
    try:
        return Contract(chain, address, registry.factory_artifact().abi).call("version") == FACTORY_VERSION
    except Exception:  # noqa: BLE001 - no code, not a factory, bad address: not usable
        return False


def _registered(chain: Chain, factory: str, codehash: bytes) -> str | None:
    addr = Contract(chain, factory, registry.factory_artifact().abi).call("implementation_of", codehash)
    return None if int(addr, 16) == 0 else checksum(addr)


def ensure_infrastructure(
    chain: Chain,
    sender: str,
    *,
    pairs: Iterable[tuple[str, str]] = (),
    known: Mapping[str, str] | None = None,
    receipts: list[Receipt] | None = None,
) -> dict[str, str]:
    """Find or deploy the factory and the implementations of ``pairs`` ((kind, incentive)).

    ``known`` is a previously returned dict (e.g. from the deployments file):
    its factory is reused if it answers as one; implementations are looked up
    in the factory by the code hash of the current artifacts (an outdated or
    unknown one is replaced by a fresh deployment). Returns
    ``{"factory": addr, "impl:<kind>/<incentive>": addr, ...}``; transactions
    sent are appended to ``receipts`` when given.
    """
    sender = checksum(sender)
    sent: list[Receipt] = receipts if receipts is not None else []
    infra: dict[str, str] = {}
    candidates = [a for a in ((known or {}).get(FACTORY_KEY), _remembered(chain).get(FACTORY_KEY)) if a]
    factory = next((checksum(a) for a in candidates if _factory_ok(chain, a)), None)
    fac_art = registry.factory_artifact()
    if factory is None:
        c, r = deploy(chain, fac_art.abi, fac_art.bytecode, sender=sender)
        sent.append(r)
        factory = c.address
    infra[FACTORY_KEY] = factory
    fac = Contract(chain, factory, fac_art.abi)
    for kind, incentive in pairs:
        key = implementation_key(kind, incentive)
        art = registry.entry_artifact(kind, incentive)
        codehash = keccak(art.runtime_bytecode)
        impl = _registered(chain, factory, codehash)
        if impl is None:
            c, r = deploy(chain, art.abi, art.bytecode, sender=sender)
            sent.append(r)
            sent.append(fac.transact("register", c.address, sender=sender))
            impl = _registered(chain, factory, codehash)
            if impl is None:  # the code on chain differs from the artifact's runtime code
                raise LedgerlearnError(f"deploy: implementation {c.address} was not registered under its code hash")
        infra[key] = impl
    try:
        _memo.setdefault(chain, {}).update(infra)
    except TypeError:  # a chain object that cannot be weakly referenced: no memo
        pass
    return infra


# ------------------------------------------------------------------- validation
def _check_text(value: str, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{what}: expected text, got {type(value).__name__}")
    if len(value.encode()) > limit:
        raise ValidationError(f"{what}: at most {limit} bytes (UTF-8), got {len(value.encode())}")
    return value


def _check_int(value: Any, what: str, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{what}: expected an integer, got {value!r}")
    if not 0 <= value <= limit:
        raise ValidationError(f"{what}: must be between 0 and {limit}, got {value}")
    return value


def _mirror_kind(mirror_model: Any) -> str:
    kind = getattr(mirror_model, "kind", None)
    if not kind:
        model_type = getattr(mirror_model, "model_type", None)
        if not model_type:
            raise ValidationError(f"mirror_model: {type(mirror_model).__name__} is not a model mirror (no kind / model_type)")
        kind = registry.kind_for_model_type(model_type)
    registry.model_kind(kind)  # validates
    return kind


# ----------------------------------------------------------------------- deploy
def deploy_shared_model(
    chain: Chain,
    mirror_model: Any,
    *,
    incentive: str,
    name: str,
    description: str = "",
    encoder: str = "none",
    owner: str,
    refund_wait: int = 0,
    owner_claim_wait: int = 0,
    any_claim_wait: int = 0,
    cost_weight: int = 0,
    infrastructure: Mapping[str, str] | None = None,
    finalize: bool = True,
) -> DeployResult:
    """Deploy ``mirror_model`` as a shared model owned by ``owner`` (who sends every transaction).

    Reuses the factory and implementation found in ``infrastructure`` or
    earlier in this process (verified on chain), else deploys them. Sends the
    mirror's ``setup_calls()`` (each one transaction, chunked by the mirror
    under the block gas limit) and, with ``finalize``, ends the setup phase.
    """
    inc = registry.normalize_incentive(incentive)
    kind = _mirror_kind(mirror_model)
    owner = checksum(owner)
    if owner == _ZERO:
        raise ValidationError("owner: the zero address cannot own a model")
    _check_text(name, "name", MAX_NAME)
    _check_text(description, "description", MAX_DESCRIPTION)
    _check_text(encoder, "encoder", MAX_ENCODER)
    rw = _check_int(refund_wait, "refund_wait", MAX_WAIT)
    ow = _check_int(owner_claim_wait, "owner_claim_wait", MAX_WAIT)
    aw = _check_int(any_claim_wait, "any_claim_wait", MAX_WAIT)
    if not rw <= ow <= aw:
        raise ValidationError(
            f"waits: need refund_wait <= owner_claim_wait <= any_claim_wait, got {rw} / {ow} / {aw} seconds"
        )
    cw = _check_int(cost_weight, "cost_weight", MAX_COST_WEIGHT)
    if inc == "points" and cw:
        raise ValidationError(f"cost_weight: Points takes no deposit; cost_weight must be 0, got {cw}")

    art = registry.entry_artifact(kind, inc)
    try:
        _, init = ContractABI(art.abi).encode_call("initialize", (owner, name, description, encoder, rw, ow, aw, cw, *mirror_model.init_args()))
    except ValidationError as exc:
        raise ValidationError(f"mirror_model: its init_args() do not fit {registry.entry_name(kind, inc)}.initialize: {exc}") from None
    if len(init) > MAX_INIT_CALLDATA:
        raise ValidationError(f"initialize: {len(init)} bytes of arguments, more than the factory's {MAX_INIT_CALLDATA}")

    receipts: list[Receipt] = []
    infra = ensure_infrastructure(chain, owner, pairs=[(kind, inc)], known=infrastructure, receipts=receipts)
    infra_gas = sum(r.gas_used for r in receipts)
    factory = Contract(chain, infra[FACTORY_KEY], registry.factory_artifact().abi)
    impl = infra[implementation_key(kind, inc)]

    r = factory.transact("create", impl, init, sender=owner)
    receipts.append(r)
    created = factory.events("ModelCreated", r.logs)
    if not created:
        raise LedgerlearnError(f"deploy: factory transaction {r.tx_hash} created no model")
    model = Contract(chain, created[0]["model"], art.abi)
    deploy_block = r.block_number

    # One at a time: a failed loader must stop the deployment before `finalize`.
    steps = [(fn, tuple(args)) for fn, args in mirror_model.setup_calls()]
    if finalize:
        steps.append(("finalize", ()))
    for fn, args in steps:
        receipts.append(model.transact(fn, *args, sender=owner))

    return DeployResult(
        address=model.address,
        receipts=tuple(receipts),
        gas_total=sum(x.gas_used for x in receipts),
        factory=factory.address,
        implementation=impl,
        infrastructure=dict(infra),
        infrastructure_gas=infra_gas,
        deploy_block=deploy_block,
    )
