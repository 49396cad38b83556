"""The JSON record of a simulation run (what the plots, the dashboard and the tables read)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ledgerlearn.errors import NotFoundError, ValidationError
from ledgerlearn.jsonfile import read_json

RECORD_VERSION = 1


@dataclass
class AgentSummary:
    name: str
    behaviour: str
    address: str
    start: float
    end: float
    #: end balance as % of start (None under Points, where "balance" is the score)
    percent_of_start: float | None
    contributions: int
    refunds: int
    reports: int
    takes: int
    deposited_wei: int
    received_wei: int
    skipped: int = 0


class JsonRecord:
    """JSON save/load of a record dataclass with an ``agents`` list.

    Subclasses name their agent dataclass in ``_agent_class`` and what they
    are in ``_what`` (for error messages).
    """

    _agent_class: type
    _what: str

    @classmethod
    def from_dict(cls, d: dict):
        d = dict(d)
        d.pop("derived", None)
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValidationError(f"record: unknown fields {sorted(unknown)}")
        try:
            d["agents"] = [cls._agent_class(**a) for a in d.get("agents", [])]
            return cls(**d)
        except TypeError as exc:
            raise ValidationError(f"record: not a {cls._what} ({exc})") from None

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike):
        d = read_json(path, "record")
        return cls.from_dict(d)


@dataclass
class SimulationRecord(JsonRecord):
    """Everything a run measured. Times are virtual seconds since the model went live."""

    _agent_class = AgentSummary
    _what = "simulation record"

    scenario: dict
    address: str
    classes: list[str]
    n_train: int
    n_test: int
    n_init: int
    contributions: int
    initial_accuracy: float
    final_accuracy: float
    #: [[t, accuracy], ...] on the hidden test set (or its eval_size sample between the ends)
    accuracies: list
    #: agent name -> [[t, balance in units (or points)], ...]
    balances: dict
    agents: list[AgentSummary]
    unclaimed_at_end: int
    virtual_seconds: int
    last_contribution_s: int
    transactions: int
    gas_total: int
    gas_exact: bool
    reverted: int
    revert_reasons: dict
    mirror_checks: int
    mirror_mismatches: int
    verified_predictions: int
    verified_agree: int
    deploy_gas: int
    wall_seconds: float
    loop_seconds: float
    contract_balance_wei: int
    unclaimed_deposits_wei: int
    version: int = RECORD_VERSION
    extra: dict = field(default_factory=dict)

    @property
    def accuracy_range(self) -> tuple[float, float]:
        vals = [a for _, a in self.accuracies]
        return (min(vals), max(vals)) if vals else (0.0, 0.0)

    @property
    def contributions_per_second(self) -> float:
        return self.contributions / self.loop_seconds if self.loop_seconds > 0 else 0.0

    @property
    def transactions_per_second(self) -> float:
        return self.transactions / self.loop_seconds if self.loop_seconds > 0 else 0.0

    def agent(self, name: str) -> AgentSummary:
        for a in self.agents:
            if a.name == name:
                return a
        raise NotFoundError(f"agent: no agent named {name!r} in this run")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["derived"] = {
            "accuracy_min": self.accuracy_range[0],
            "accuracy_max": self.accuracy_range[1],
            "contributions_per_second": self.contributions_per_second,
            "transactions_per_second": self.transactions_per_second,
        }
        return d

