"""Off-chain stores: original (unencoded) contributions and deployment records."""

from ledgerlearn.store.deployments import DeploymentStore, ModelDeployment
from ledgerlearn.store.originals import OriginalRecord, OriginalStore

__all__ = ["DeploymentStore", "ModelDeployment", "OriginalRecord", "OriginalStore"]
