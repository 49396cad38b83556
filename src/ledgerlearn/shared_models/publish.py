"""Deploy a model and record it: what ``ledgerlearn deploy`` and the dashboard share.

:func:`publish_model` checks the name against the chain's deployment record,
picks the default encoder for the model type, deploys through
:func:`~ledgerlearn.shared_models.deploy.deploy_shared_model`, records the
deployment, and keeps beside it the model it started from and, when given, a
labelled evaluation set (encoded). Those two let a reader replay the model
exactly through its ``DataAdded`` events and chart its accuracy over time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledgerlearn.chain.base import Chain
from ledgerlearn.encoders import (
    IMDB_VOCAB,
    MURMURHASH3,
    NONE,
    NORMALIZE,
    canonical_model_type,
    get_encoder,
    input_kind,
    validate_input,
)
from ledgerlearn.errors import NotFoundError, ValidationError
from ledgerlearn.models.files import model_to_dict
from ledgerlearn.shared_models.client import SharedModel
from ledgerlearn.shared_models.deploy import DeployResult, deploy_shared_model
from ledgerlearn.store.deployments import DeploymentStore, ModelDeployment, validate_name

#: Evaluation records kept at most (accuracy over time re-scores them at every checkpoint).
MAX_EVALUATION = 5000


@dataclass
class Published:
    deployment: ModelDeployment
    result: DeployResult
    encoder_defaulted: bool

    @property
    def gas_exact(self) -> bool:
        return all(getattr(r, "gas_exact", True) for r in self.result.receipts)


def default_encoder(model_type: str, *, vocab: str | Path | None = None) -> str:
    """The encoder a model type gets when none is named: normalise vectors, hash or look up words."""
    if input_kind(canonical_model_type(model_type)) == "dense":
        return NORMALIZE
    return IMDB_VOCAB if vocab else MURMURHASH3


def check_evaluation(X: Sequence[Sequence[int]], y: Sequence[int], model_type: str, num_classes: int) -> tuple[list, list]:
    """Encoded evaluation records checked against the model type (at most :data:`MAX_EVALUATION`)."""
    if len(X) != len(y):
        raise ValidationError(f"evaluation: {len(X)} inputs but {len(y)} labels")
    if not X:
        raise ValidationError("evaluation: no records")
    if len(X) > MAX_EVALUATION:
        raise ValidationError(f"evaluation: {len(X)} records, more than the {MAX_EVALUATION} kept")
    out_x = [validate_input(list(x), model_type) for x in X]
    out_y = []
    for i, lab in enumerate(y):
        if isinstance(lab, bool) or not isinstance(lab, int) or not 0 <= lab < num_classes:
            raise ValidationError(f"evaluation[{i}]: label {lab!r} is not a class index below {num_classes}")
        out_y.append(lab)
    return out_x, out_y


def existing_model_blocks(chain: Chain, deployments: DeploymentStore, name: str, *, replace: bool) -> bool:
    """Whether a recorded model named ``name`` stands in the way (raises unless ``replace``).

    A record whose contract is not on this chain (a reset chain) never does.
    """
    rec = deployments.find(chain.chain_id, name)
    if rec is None or replace:
        return False
    try:
        SharedModel(chain, rec.address)
    except NotFoundError:
        return False
    raise ValidationError(f"name: a model named {name!r} is already deployed at {rec.address}; pick another name or pass --replace")


def publish_model(
    chain: Chain,
    deployments: DeploymentStore,
    mirror: Any,
    *,
    name: str,
    owner: str,
    incentive: str,
    refund_wait: int,
    owner_claim_wait: int,
    any_claim_wait: int,
    cost_weight: int,
    description: str = "",
    encoder: str | None = None,
    vocab: str | Path | None = None,
    feature_indices: Sequence[int] | None = None,
    replace: bool = False,
    evaluation: tuple[Sequence[Sequence[int]], Sequence[int]] | None = None,
    extra: dict | None = None,
) -> Published:
    """Deploy ``mirror`` as ``name``, record it, and keep its initial state (and evaluation set)."""
    validate_name(name)
    mtype = canonical_model_type(mirror.model_type)
    defaulted = encoder is None
    enc = default_encoder(mtype, vocab=vocab) if defaulted else encoder
    get_encoder(enc, vocab=vocab)  # a known name, its vocabulary present
    if enc == NONE and vocab is not None:
        raise ValidationError("vocab: the 'none' encoder takes no vocabulary")
    if evaluation is not None:
        evaluation = check_evaluation(*evaluation, mtype, mirror.num_classes)
    existing_model_blocks(chain, deployments, name, replace=replace)
    initial = model_to_dict(mirror)  # before deploying: the mirror is the state at deploy time

    res = deploy_shared_model(
        chain, mirror, incentive=incentive, name=name, description=description, encoder=enc, owner=owner,
        refund_wait=refund_wait, owner_claim_wait=owner_claim_wait, any_claim_wait=any_claim_wait, cost_weight=cost_weight,
        infrastructure=deployments.infrastructure(chain.chain_id),
    )
    receipts = list(res.receipts)
    dep = ModelDeployment(
        name=name, address=res.address, model_type=mtype, incentive=incentive, encoder=enc, deploy_block=res.deploy_block,
        tx_hashes=[r.tx_hash for r in receipts], description=description, owner=owner, gas_total=res.gas_total,
        feature_indices=[int(i) for i in feature_indices] if feature_indices else None,
        vocab=str(vocab) if vocab else None,
        extra={"refund_wait": refund_wait, "owner_claim_wait": owner_claim_wait, "any_claim_wait": any_claim_wait,
               "cost_weight": cost_weight, **(extra or {})},
    )
    deployments.save_artifact(chain.chain_id, res.address, "initial", initial)
    if evaluation is not None:
        save_evaluation(deployments, chain.chain_id, res.address, *evaluation)
    deployments.add_model(chain.chain_id, dep, replace=True)
    if res.infrastructure:
        deployments.update_infrastructure(chain.chain_id, res.infrastructure)
    return Published(dep, res, defaulted)


def save_evaluation(deployments: DeploymentStore, chain_id: int, address: str, X, y) -> None:
    """Keep a labelled evaluation set (encoded, already checked) for a deployed model."""
    deployments.save_artifact(chain_id, address, "evaluation", {"x": [list(map(int, x)) for x in X], "y": [int(v) for v in y]})
