"""Deployment records: ``<root>/<chain id>.json``.

One JSON file per chain lists the shared models deployed on it by name
(address, model type, incentive, encoder, deploy block, transaction hashes,
and what a client needs that the contract does not store: feature indices of
a dense model, the vocabulary file of a vocabulary encoder) and the
infrastructure contracts (factory, implementations, ...)::

    {"chain_id": 31337,
     "models": {"imdb": {"address": "0x...", "model_type": "sparse perceptron", ...}},
     "infrastructure": {"factory": "0x..."}}

Writes are atomic (write a temporary file, fsync, rename) and read-modify-write
updates hold an exclusive lock, so concurrent CLI invocations never lose or
tear a record.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ledgerlearn.chain.base import checksum
from ledgerlearn.errors import LedgerlearnError, NotFoundError, ValidationError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


@dataclass
class ModelDeployment:
    """A deployed shared model, as recorded off chain."""

    name: str
    address: str
    model_type: str
    incentive: str
    encoder: str
    deploy_block: int = 0
    tx_hashes: list[str] = field(default_factory=list)
    description: str = ""
    owner: str = ""
    gas_total: int = 0
    deployed_at: float = 0.0
    #: Dimensions of the encoder's output a dense model uses (model file ``featureIndices``).
    feature_indices: list[int] | None = None
    #: Vocabulary file for a vocabulary encoder (absolute path).
    vocab: str | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, name: str, d: dict) -> "ModelDeployment":
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in known}
        kwargs["name"] = name
        extra = dict(kwargs.get("extra") or {})
        extra.update({k: v for k, v in d.items() if k not in known})
        kwargs["extra"] = extra
        return cls(**kwargs)


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationError(
            f"name: {name!r} is not a valid model name (letters, digits, '_', '-', '.', at most 64, starting with a letter or digit)"
        )
    return name


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise LedgerlearnError(f"deployments: {path} is not valid JSON ({exc}); fix or move it away") from exc


def _write_json(path: Path, data, *, trailing_newline: bool = False, **dump_kw) -> None:
    """Write JSON atomically: a temporary file beside ``path``, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8") as f:
        json.dump(data, f, **dump_kw)
        if trailing_newline:
            f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(f.name, path)


class DeploymentStore:
    """The deployment files in a directory (default ``./deployments``)."""

    def __init__(self, root: str | os.PathLike = "deployments"):
        self.root = Path(root)

    def path(self, chain_id: int) -> Path:
        return self.root / f"{int(chain_id)}.json"

    # -------------------------------------------------------------- plumbing
    def load(self, chain_id: int) -> dict:
        """The whole record of a chain (empty skeleton when there is none)."""
        p = self.path(chain_id)
        if not p.exists():
            return {"chain_id": int(chain_id), "models": {}, "infrastructure": {}}
        data = _read_json(p)
        data.setdefault("chain_id", int(chain_id))
        data.setdefault("models", {})
        data.setdefault("infrastructure", {})
        return data

    def _save(self, chain_id: int, data: dict) -> None:
        _write_json(self.path(chain_id), data, indent=2, trailing_newline=True)

    @contextmanager
    def locked(self, chain_id: int) -> Iterator[dict]:
        """Exclusive read-modify-write of a chain's record."""
        self.root.mkdir(parents=True, exist_ok=True)
        lock_path = self.root / f".{int(chain_id)}.lock"
        with open(lock_path, "a+") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                data = self.load(chain_id)
                yield data
                self._save(chain_id, data)
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    # ---------------------------------------------------------------- models
    def models(self, chain_id: int) -> dict[str, ModelDeployment]:
        return {n: ModelDeployment.from_json(n, d) for n, d in self.load(chain_id)["models"].items()}

    def get(self, chain_id: int, name_or_address: str) -> ModelDeployment:
        """A model by name, or by address (any case)."""
        models = self.models(chain_id)
        if name_or_address in models:
            return models[name_or_address]
        if isinstance(name_or_address, str) and name_or_address.lower().startswith("0x"):
            for m in models.values():
                if m.address.lower() == name_or_address.lower():
                    return m
        known = ", ".join(sorted(models)) or "none yet"
        raise NotFoundError(f"model: no model {name_or_address!r} recorded for chain {chain_id} in {self.path(chain_id)} (known: {known})")

    def find(self, chain_id: int, name_or_address: str) -> ModelDeployment | None:
        try:
            return self.get(chain_id, name_or_address)
        except NotFoundError:
            return None

    def add_model(self, chain_id: int, dep: ModelDeployment, *, replace: bool = False) -> ModelDeployment:
        """Record a deployed model; an existing name is an error unless ``replace``."""
        validate_name(dep.name)
        dep.address = checksum(dep.address)
        if not dep.deployed_at:
            dep.deployed_at = time.time()
        with self.locked(chain_id) as data:
            if dep.name in data["models"] and not replace:
                raise ValidationError(f"name: a model named {dep.name!r} is already recorded for chain {chain_id}")
            body = dep.to_json()
            body.pop("name")
            data["models"][dep.name] = body
        return dep

    def remove_model(self, chain_id: int, name: str) -> bool:
        with self.locked(chain_id) as data:
            return data["models"].pop(name, None) is not None

    # --------------------------------------------------------- model files
    #: What is kept beside a deployment: the model it started from (for exact
    #: replays: accuracy over time) and a labelled evaluation set.
    ARTIFACTS = ("initial", "evaluation")

    def artifact_path(self, chain_id: int, address: str, what: str) -> Path:
        """``<root>/<chain id>/<address>.<what>.json``."""
        if what not in self.ARTIFACTS:
            raise ValidationError(f"what: {what!r} is not one of {', '.join(self.ARTIFACTS)}")
        return self.root / str(int(chain_id)) / f"{checksum(address)}.{what}.json"

    def save_artifact(self, chain_id: int, address: str, what: str, data) -> Path:
        """Write a JSON artifact of a deployed model (atomically)."""
        p = self.artifact_path(chain_id, address, what)
        _write_json(p, data, separators=(",", ":"))
        return p

    def load_artifact(self, chain_id: int, address: str, what: str):
        """A JSON artifact of a deployed model, or None when there is none."""
        p = self.artifact_path(chain_id, address, what)
        return _read_json(p) if p.exists() else None

    # -------------------------------------------------------- infrastructure
    def infrastructure(self, chain_id: int) -> dict[str, str]:
        return dict(self.load(chain_id)["infrastructure"])

    def set_infrastructure(self, chain_id: int, key: str, address: str) -> None:
        """Record an infrastructure contract (``"factory"``, ``"impl:sparse perceptron/drt"``, ...)."""
        if not key:
            raise ValidationError("key: empty infrastructure key")
        with self.locked(chain_id) as data:
            data["infrastructure"][key] = checksum(address)

    def update_infrastructure(self, chain_id: int, entries: dict[str, str]) -> None:
        with self.locked(chain_id) as data:
            for k, v in entries.items():
                data["infrastructure"][k] = checksum(v)
