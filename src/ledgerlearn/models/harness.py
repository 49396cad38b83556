"""Deploy a mirror into its test harness contract (``contracts/test/model_harness_<kind>.vy``).

The harness composes ``setup`` and the model module and exposes ``predict``,
an unguarded ``update``, ``num_classes`` and ``class_name``; tests and gas
measurements use it to run a model without an incentive mechanism.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ledgerlearn.chain.base import Chain, Receipt
from ledgerlearn.chain.contract import Contract, deploy
from ledgerlearn.contracts.compiler import Artifact, compile_file
from ledgerlearn.models.base import ModelMirror


def harness_artifact(kind: str) -> Artifact:
    return compile_file(f"test/model_harness_{kind}.vy")


@dataclass
class Deployed:
    contract: Contract
    deploy_receipt: Receipt
    setup_receipts: list[Receipt] = field(default_factory=list)

    @property
    def deploy_gas(self) -> int:
        """Gas of every transaction of the deployment (contract, loaders, finalize)."""
        return self.deploy_receipt.gas_used + sum(r.gas_used for r in self.setup_receipts)


def deploy_harness(chain: Chain, model: ModelMirror, *, sender: str | None = None, finalize: bool = True) -> Deployed:
    """Deploy ``model`` in its harness: constructor, setup calls, then ``finalize``."""
    sender = sender or chain.accounts[0]
    art = harness_artifact(model.kind)
    contract, receipt = deploy(chain, art.abi, art.bytecode, *model.init_args(), sender=sender)
    out = Deployed(contract, receipt)
    for fn, args in model.setup_calls():
        out.setup_receipts.append(contract.transact(fn, *args, sender=sender))
    if finalize:
        out.setup_receipts.append(contract.transact("finalize", sender=sender))
    return out
