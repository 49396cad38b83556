"""Parsed arrays cached next to the download, so loading skips the parsing.

Each derived ``.npz`` has a manifest recording the sha256 of the source it
was built from, the loader's format version and its own sha256. It is
rebuilt when any of them differs, i.e. when the pinned source or the parser
changes, or the file was damaged.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ledgerlearn.datasets.download import atomic_write, sha256_file

log = logging.getLogger("ledgerlearn.datasets")


def _paths(directory: Path, key: str) -> tuple[Path, Path]:
    return directory / f"{key}.npz", directory / f"{key}.json"


def load(directory: Path, key: str, *, source_sha256: str, version: int) -> dict[str, np.ndarray] | None:
    """The cached arrays, or ``None`` when missing, stale or damaged."""
    npz, manifest = _paths(directory, key)
    try:
        meta = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return None
    if meta.get("source_sha256") != source_sha256 or meta.get("version") != version:
        return None
    try:
        got = sha256_file(npz)
    except OSError:
        return None
    if got != meta.get("sha256"):
        log.warning("%s is corrupted (sha256 %s, expected %s); rebuilding it", npz, got[:16], str(meta.get("sha256"))[:16])
        return None
    try:
        with np.load(npz, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        log.warning("%s is unreadable (%s); rebuilding it", npz, exc)
        return None


def save(directory: Path, key: str, arrays: dict[str, np.ndarray], *, source_sha256: str, version: int) -> None:
    """Write the arrays (uncompressed: loading them is then a plain read) and their manifest."""
    npz, manifest = _paths(directory, key)
    with atomic_write(npz) as f:
        np.savez(f, **arrays)
    # The caller holds the data set's lock, so nobody rewrites the file in between.
    meta = {"source_sha256": source_sha256, "version": version, "sha256": sha256_file(npz), "file": npz.name}
    with atomic_write(manifest) as f:
        f.write(json.dumps(meta, indent=2).encode())
