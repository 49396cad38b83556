"""The public types of :mod:`ledgerlearn.datasets`: data sets, their descriptions, errors."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from ledgerlearn.errors import LedgerlearnError, NotFoundError, ValidationError

Kind = Literal["text", "image", "tabular"]


class DatasetError(LedgerlearnError):
    """A data set could not be fetched, verified or read."""


class DownloadError(DatasetError, OSError):
    """The registry or mirror could not be reached, or the transfer failed."""


class ChecksumError(DatasetError, ValueError):
    """A download (or a cached file) does not match its pinned sha256."""


class UnknownDatasetError(DatasetError, NotFoundError):
    """No data set has this name; the message lists the known ones."""


class DatasetValidationError(DatasetError, ValidationError):
    """A bad argument to a data set function."""


@dataclass(frozen=True, repr=False)
class Dataset:
    """One data set, split into train and test.

    ``x``: a list of strings (``kind == "text"``), a ``uint8`` array
    ``(n, 28, 28)`` (``"image"``) or a ``float64`` array ``(n, d)``
    (``"tabular"``). ``y``: ``int64`` indices into :attr:`classes`.
    """

    name: str
    kind: Kind
    classes: list[str]
    x_train: Any
    y_train: np.ndarray
    x_test: Any
    y_test: np.ndarray
    feature_names: list[str] | None
    source: str
    licence: str | None = None
    citation: str | None = None

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    @property
    def n_test(self) -> int:
        return len(self.y_test)

    def __repr__(self) -> str:  # never print the arrays
        return (f"Dataset({self.name!r}, kind={self.kind!r}, classes={self.classes!r}, "
                f"n_train={self.n_train}, n_test={self.n_test})")


@dataclass(frozen=True)
class DatasetInfo:
    """What :func:`~ledgerlearn.datasets.list_datasets` reports about one data set.

    ``url``/``sha256``/``size`` describe the pinned download (``None`` for data
    bundled with scikit-learn or generated here); ``cached`` says whether
    loading it needs no download.
    """

    name: str
    kind: Kind
    source: str
    version: str
    url: str | None
    sha256: str | None
    size: int | None
    n_train: int
    n_test: int
    n_classes: int
    classes: list[str]
    licence: str | None
    citation: str | None
    description: str
    homepage: str | None
    cached: bool
    path: str | None  # where the download is (or will be) cached; None if nothing is downloaded

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
