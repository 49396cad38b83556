"""Compile the Vyper sources shipped in this package, with an on-disk cache.

Artifacts (ABI, deploy bytecode, runtime bytecode, compiler version, source
hash) are cached by a hash of the source *and* of every module in the package's
contract tree, so editing an imported module recompiles its users. The cache
lives in the user cache directory (``LEDGERLEARN_CACHE_DIR`` overrides it).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import vyper
from platformdirs import user_cache_dir

from ledgerlearn.errors import CompilationError, NotFoundError

#: Root of the Vyper sources; imports inside contracts are relative to it.
CONTRACTS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Artifact:
    """A compiled contract."""

    name: str
    abi: list[dict]
    bytecode: bytes
    runtime_bytecode: bytes
    compiler_version: str
    source_hash: str

    def to_json(self) -> dict:
        d = asdict(self)
        d["bytecode"] = "0x" + self.bytecode.hex()
        d["runtime_bytecode"] = "0x" + self.runtime_bytecode.hex()
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Artifact":
        return cls(
            name=d["name"],
            abi=d["abi"],
            bytecode=bytes.fromhex(d["bytecode"][2:]),
            runtime_bytecode=bytes.fromhex(d["runtime_bytecode"][2:]),
            compiler_version=d["compiler_version"],
            source_hash=d["source_hash"],
        )


def cache_dir() -> Path:
    """Directory holding cached artifacts."""
    base = os.environ.get("LEDGERLEARN_CACHE_DIR") or user_cache_dir("ledgerlearn")
    return Path(base) / "artifacts"


@lru_cache(maxsize=1)
def _tree_hash() -> str:
    """Hash of every Vyper file in the package (modules included)."""
    h = hashlib.sha256(vyper.__version__.encode())
    for path in sorted(CONTRACTS_DIR.rglob("*.vy*")):
        h.update(str(path.relative_to(CONTRACTS_DIR)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def source_hash(source: str) -> str:
    return hashlib.sha256((_tree_hash() + source).encode()).hexdigest()


def compile_source(source: str, name: str, *, path: str | None = None) -> Artifact:
    """Compile Vyper ``source`` (which may import package modules); cached."""
    digest = source_hash(source)
    cached = cache_dir() / f"{name}-{digest[:24]}.json"
    if cached.exists():
        try:
            return Artifact.from_json(json.loads(cached.read_text()))
        except (ValueError, KeyError):
            cached.unlink(missing_ok=True)  # corrupt cache entry: rebuild it
    from vyper.compiler import compile_code
    from vyper.compiler.input_bundle import FilesystemInputBundle

    try:
        out = compile_code(
            source,
            contract_path=path or f"{name}.vy",
            input_bundle=FilesystemInputBundle([CONTRACTS_DIR]),
            output_formats=["abi", "bytecode", "bytecode_runtime"],
        )
    except Exception as exc:  # vyper raises many exception types
        raise CompilationError(f"{name}: {exc}") from exc
    art = Artifact(
        name=name,
        abi=out["abi"],
        bytecode=bytes.fromhex(out["bytecode"][2:]),
        runtime_bytecode=bytes.fromhex(out["bytecode_runtime"][2:]),
        compiler_version=vyper.__version__,
        source_hash=digest,
    )
    cached.parent.mkdir(parents=True, exist_ok=True)
    # Atomic write: a crash never leaves a half-written artifact behind.
    with tempfile.NamedTemporaryFile("w", dir=cached.parent, delete=False, suffix=".tmp") as f:
        json.dump(art.to_json(), f)
    os.replace(f.name, cached)
    return art


def compile_file(relpath: str, name: str | None = None) -> Artifact:
    """Compile a contract file of the package, e.g. ``"incentives/drt.vy"``."""
    path = CONTRACTS_DIR / relpath
    if not path.exists():
        raise NotFoundError(f"contract: no source {relpath!r} in {CONTRACTS_DIR}")
    return compile_source(path.read_text(), name or path.stem, path=relpath)
