"""Reading members of the archives the registries ship: npm .tgz, Debian .deb, IDX files.

Only the stdlib and numpy: a .deb is an ``ar`` archive (fixed 60-byte member
headers) around ``data.tar.*``; IDX is MNIST's big-endian array format.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ledgerlearn.datasets.base import DatasetError

AR_MAGIC = b"!<arch>\n"
AR_HEADER = 60
GZIP_MAGIC = b"\x1f\x8b"


def tar_members(source: Path | BinaryIO, wanted: set[str]) -> dict[str, bytes]:
    """The bytes of the ``wanted`` members of a (compressed) tar, read in one pass."""
    found: dict[str, bytes] = {}
    kwargs = {"name": str(source)} if isinstance(source, (str, Path)) else {"fileobj": source}
    try:
        with tarfile.open(mode="r:*", **kwargs) as tf:
            for m in tf:
                if m.name in wanted and m.isfile():
                    f = tf.extractfile(m)
                    found[m.name] = f.read() if f is not None else b""
                    if len(found) == len(wanted):
                        break
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DatasetError(f"cannot read the tar archive {source}: {exc}") from None
    missing = wanted - found.keys()
    if missing:
        raise DatasetError(f"the archive {source} lacks {', '.join(sorted(missing))}")
    return found


def ar_member(path: Path, prefix: str) -> tuple[str, bytes]:
    """The first member of the ``ar`` archive at ``path`` whose name starts with ``prefix``."""
    with open(path, "rb") as f:
        if f.read(len(AR_MAGIC)) != AR_MAGIC:
            raise DatasetError(f"{path} is not an ar archive (.deb)")
        while header := f.read(AR_HEADER):
            if len(header) < AR_HEADER or header[58:60] != b"`\n":
                raise DatasetError(f"{path}: malformed ar member header")
            name = header[:16].decode("ascii", "replace").strip().rstrip("/")
            size = int(header[48:58].decode("ascii").strip())
            if name.startswith(prefix):
                data = f.read(size)
                if len(data) != size:
                    raise DatasetError(f"{path}: member {name} is truncated")
                return name, data
            f.seek(size + (size & 1), io.SEEK_CUR)  # members are 2-byte aligned
    raise DatasetError(f"{path} has no member named {prefix}*")


def deb_members(path: Path, wanted: set[str]) -> dict[str, bytes]:
    """Files of a Debian package's ``data.tar.*`` (names as in the tar: ``./usr/...``)."""
    _, data = ar_member(path, "data.tar")
    return tar_members(io.BytesIO(data), wanted)


def parse_idx(data: bytes) -> np.ndarray:
    """An IDX array (gzipped or not) of unsigned bytes, e.g. MNIST images or labels."""
    if data[:2] == GZIP_MAGIC:
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DatasetError("not an IDX file (bad magic)")
    dtype, ndim = data[2], data[3]
    if dtype != 0x08:
        raise DatasetError(f"IDX type 0x{dtype:02x} is not unsigned bytes")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    start = 4 + 4 * ndim
    count = int(np.prod(dims)) if dims else 0
    if len(data) - start != count:
        raise DatasetError(f"IDX payload is {len(data) - start} bytes, expected {count} for shape {dims}")
    return np.frombuffer(data, dtype=np.uint8, offset=start).reshape(dims).copy()
