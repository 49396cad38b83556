"""Fetch a pinned download, verify it and keep it in the cache.

A download streams into a temporary file next to its target while being
hashed; it is renamed into place only when size and sha256 match the pin,
so the cache never holds a partial or unverified file. Cached files are
re-hashed on every use (sha256 runs at about 2 GB/s here) and fetched again
when they do not match.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from ledgerlearn.datasets.base import ChecksumError, DatasetError, DownloadError
from ledgerlearn.datasets.registry import Download, Spec

try:  # advisory locks keep two processes from fetching the same file at once
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None

log = logging.getLogger("ledgerlearn.datasets")

CACHE_ENV = "LEDGERLEARN_DATASETS_DIR"
TIMEOUT_ENV = "LEDGERLEARN_DOWNLOAD_TIMEOUT"
DEFAULT_TIMEOUT = 60.0
CHUNK = 1 << 20


def cache_dir() -> Path:
    """Where data sets are cached: ``$LEDGERLEARN_DATASETS_DIR``, else the user cache dir.

    The default is ``platformdirs.user_cache_dir("ledgerlearn")/datasets``
    (``~/.cache/ledgerlearn/datasets`` on Linux).
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("ledgerlearn")) / "datasets"


def dataset_dir(name: str, root: Path | None = None) -> Path:
    return Path(root if root is not None else cache_dir()).expanduser() / name


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def timeout() -> float:
    try:
        return float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT)
    except ValueError:
        return DEFAULT_TIMEOUT


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold ``directory/.lock`` (waits for another process using the same data set)."""
    directory.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(directory / ".lock", "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def atomic_write(target: Path) -> Iterator[BinaryIO]:
    """A temporary file next to ``target``, renamed onto it only if the block succeeds."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.chmod(tmp, 0o644)  # mkstemp makes it private; cached data is not secret
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@dataclass(frozen=True)
class Fetched:
    path: Path
    downloaded: bool


def is_cached(spec: Spec, root: Path | None = None) -> bool:
    """Cheap check (exists, right size) used by listings; loading re-hashes."""
    if spec.download is None:
        return True
    p = dataset_dir(spec.name, root) / spec.download.kept_name
    try:
        return p.stat().st_size == spec.download.kept_size
    except OSError:
        return False


def ensure(spec: Spec, root: Path | None = None, *, progress: bool = True, force: bool = False) -> Fetched:
    """The verified cached file of ``spec``, downloading it if missing or corrupted.

    The caller holds :func:`locked` on the data set's directory.
    """
    d = spec.download
    if d is None:
        raise DatasetError(f"{spec.name}: nothing to download ({spec.source})")
    target = dataset_dir(spec.name, root) / d.kept_name
    if target.exists() and not force:
        got = sha256_file(target)
        if got == d.kept_sha256:
            return Fetched(target, False)
        log.warning("%s: cached %s is corrupted (sha256 %s, expected %s); fetching it again",
                    spec.name, target, got[:16], d.kept_sha256[:16])
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    if d.member is None:
        _download_verified(spec, d, target, progress=progress)
    else:
        _fetch_member(spec, d, target, progress=progress)
    return Fetched(target, True)


def _fetch_member(spec: Spec, d: Download, target: Path, *, progress: bool) -> None:
    """Download the whole file to a temporary place, keep only the pinned member."""
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{d.filename}.", suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _download_verified(spec, d, tmp, progress=progress)
        try:
            with zipfile.ZipFile(tmp) as zf:
                data = zf.read(d.member)
        except (KeyError, zipfile.BadZipFile) as exc:
            raise DatasetError(f"{spec.name}: {d.filename} has no readable member {d.member}: {exc}") from None
        got = hashlib.sha256(data).hexdigest()
        if got != d.member_sha256:
            raise ChecksumError(f"{spec.name}: member {d.member} of {d.url} has sha256 {got}, expected {d.member_sha256}; "
                                "it was not kept")
        with atomic_write(target) as f:
            f.write(data)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _download_verified(spec: Spec, d: Download, target: Path, *, progress: bool) -> None:
    """Stream ``d.url`` into a temp file while hashing; rename onto ``target`` if it matches."""
    url = d.url
    host = urllib.parse.urlsplit(url).netloc or url
    retry = f"try `ledgerlearn data fetch {spec.name}` again, or set {d.env} to a reachable mirror"
    req = urllib.request.Request(url, headers={"User-Agent": _user_agent()})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout())
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{spec.name}: {url} answered HTTP {exc.code} {exc.reason}; {retry}") from None
    except urllib.error.URLError as exc:
        raise DownloadError(f"{spec.name}: cannot reach {host} ({url}): {exc.reason}; {retry}") from None
    except (OSError, http.client.HTTPException) as exc:  # e.g. a timeout while connecting
        raise DownloadError(f"{spec.name}: cannot reach {host} ({url}): {exc or type(exc).__name__}; {retry}") from None
    h = hashlib.sha256()
    n = 0
    with resp, atomic_write(target) as out, _progress_bar(spec.name, d.size, progress) as advance:
        while True:
            try:
                chunk = resp.read(CHUNK)
            except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, truncated bodies
                raise DownloadError(f"{spec.name}: download of {url} failed after {n:,} bytes: "
                                    f"{exc or type(exc).__name__}; {retry}") from None
            if not chunk:
                break
            out.write(chunk)
            h.update(chunk)
            n += len(chunk)
            advance(len(chunk))
            if n > d.size:  # a wrong or endless file must not fill the disk
                break
        announced = resp.headers.get("Content-Length")
        if announced and announced.isdigit() and n < int(announced):  # http.client returns short reads silently
            raise DownloadError(f"{spec.name}: download of {url} failed after {n:,} bytes: the connection closed "
                                f"before the announced {int(announced):,} bytes; {retry}")
        got = h.hexdigest()
        if got != d.sha256 or n != d.size:
            raise ChecksumError(
                f"{spec.name}: {url} does not match its pin: sha256 {got} ({n:,} bytes), "
                f"expected {d.sha256} ({d.size:,} bytes{', stopped reading there' if n > d.size else ''}); "
                f"the file was not kept. The server sent a different file: try `ledgerlearn data fetch {spec.name}` "
                f"again, or point {d.env} at another mirror"
            )


def _user_agent() -> str:
    from ledgerlearn import __version__

    return f"ledgerlearn/{__version__} (+datasets)"


@contextlib.contextmanager
def _progress_bar(name: str, total: int, enabled: bool):
    """Yield ``advance(nbytes)``; a rich progress bar on stderr when enabled."""
    if not enabled:
        yield lambda _n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    with Progress(TextColumn(f"fetching {name}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn(), console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(name, total=total)
        yield lambda k: bar.advance(task, k)
