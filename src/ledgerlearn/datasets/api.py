"""The functions of :mod:`ledgerlearn.datasets`: load, fetch, list, describe."""

from __future__ import annotations

from pathlib import Path

from ledgerlearn.datasets import derived, download, registry
from ledgerlearn.datasets.base import Dataset, DatasetInfo
from ledgerlearn.datasets.loaders import LOADERS, to_dataset
from ledgerlearn.datasets.registry import Spec

DERIVED_KEY = "arrays"


def load(name: str, *, cache_dir: str | Path | None = None, progress: bool = True) -> Dataset:
    """The data set ``name``, split into train and test.

    Downloads it on first use (a progress bar on stderr when ``progress``),
    verifies the pinned sha256 and caches it in ``cache_dir`` (default:
    :func:`~ledgerlearn.datasets.cache_dir`). Later loads re-verify the cached
    file, fetch it again if it was damaged, and read the parsed arrays from a
    derived cache. Bundled (scikit-learn) and generated (tic-tac-toe) sets
    need no download.

    Raises :class:`UnknownDatasetError` (a :class:`NotFoundError`) for an
    unknown name, :class:`DownloadError` when the registry cannot be reached
    and :class:`ChecksumError` when the download does not match its pin.
    """
    spec = registry.get(name)
    build, version = LOADERS[spec.loader]
    if spec.download is None:
        return to_dataset(spec, build(spec, None))
    root = _root(cache_dir)
    directory = download.dataset_dir(spec.name, root)
    with download.locked(directory):
        fetched = download.ensure(spec, root, progress=progress)
        source_sha = spec.download.kept_sha256
        arrays = derived.load(directory, DERIVED_KEY, source_sha256=source_sha, version=version)
        if arrays is None:
            arrays = build(spec, fetched.path)
            derived.save(directory, DERIVED_KEY, arrays, source_sha256=source_sha, version=version)
    return to_dataset(spec, arrays)


def fetch(name: str, *, cache_dir: str | Path | None = None, progress: bool = True, force: bool = False) -> Path | None:
    """Download and verify ``name`` unless a verified copy is cached; return the cached file.

    ``force`` downloads again even when the cached copy is intact. Returns
    ``None`` for data sets with nothing to download (bundled or generated).
    """
    return _fetch(name, cache_dir=cache_dir, progress=progress, force=force)[0]


def _fetch(name: str, *, cache_dir=None, progress: bool = True, force: bool = False) -> tuple[Path | None, bool]:
    """``(path, downloaded)``: as :func:`fetch`, also saying whether it downloaded."""
    spec = registry.get(name)
    if spec.download is None:
        return None, False
    root = _root(cache_dir)
    with download.locked(download.dataset_dir(spec.name, root)):
        f = download.ensure(spec, root, progress=progress, force=force)
    return f.path, f.downloaded


def list_datasets(*, cache_dir: str | Path | None = None) -> list[DatasetInfo]:
    """Every known data set, with whether it is cached (a cheap size check, no hashing)."""
    return [_info(spec, _root(cache_dir)) for spec in registry.SPECS.values()]


def dataset_info(name: str, *, cache_dir: str | Path | None = None) -> DatasetInfo:
    """What is known about ``name`` without loading it."""
    return _info(registry.get(name), _root(cache_dir))


def _root(cache_dir: str | Path | None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir is not None else download.cache_dir()


def _info(spec: Spec, root: Path) -> DatasetInfo:
    d = spec.download
    return DatasetInfo(
        name=spec.name, kind=spec.kind, source=spec.source, version=spec.version,
        url=d.url if d else None, sha256=d.sha256 if d else None, size=d.size if d else None,
        n_train=spec.n_train, n_test=spec.n_test, n_classes=len(spec.classes), classes=list(spec.classes),
        licence=spec.licence, citation=spec.citation, description=spec.description, homepage=spec.homepage,
        cached=download.is_cached(spec, root),
        path=str(download.dataset_dir(spec.name, root) / d.kept_name) if d else None,
    )
