"""Shared models: public models in contracts that anyone can use and improve.

:class:`SharedModel` is the typed client of one deployed model; deployment is
:func:`ledgerlearn.shared_models.deploy.deploy_shared_model`.
"""

from ledgerlearn.shared_models.client import (
    AccountStats,
    ClaimResult,
    Contribution,
    ContributionResult,
    ModelInfo,
    Reportable,
    SharedModel,
    contribution_key,
    entry_abi,
)
from ledgerlearn.shared_models.status import Status, format_duration, format_eth, parse_amount, parse_duration

__all__ = [
    "AccountStats", "ClaimResult", "Contribution", "ContributionResult", "ModelInfo", "Reportable", "SharedModel",
    "Status", "contribution_key", "entry_abi", "format_duration", "format_eth", "parse_amount", "parse_duration",
]
