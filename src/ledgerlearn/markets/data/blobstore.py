"""Content-addressed blobs (the data market's public parts) on any fsspec URL.

A blob is stored under ``<url>/<key>`` where ``key = "0x" + keccak256(data).hex()``,
the same hash the contract records, so anyone can check what they read:
:meth:`BlobStore.get` refuses bytes whose hash is not their key.

Public parts are encoded by :func:`encode_public_part`::

    b"LLPP" | uint32 big-endian header length | header (JSON, UTF-8) | float32 little-endian values

with header ``{"arch": <name>, "dtype": "<f4", "n": <count>, "version": 1}``
(sorted keys, no spaces), so equal vectors always give equal bytes and keys.
"""

from __future__ import annotations

import json
import re
import uuid

import fsspec
import numpy as np
from eth_utils import keccak

from ledgerlearn.errors import NotFoundError, ValidationError

__all__ = ["BlobStore", "blob_key", "decode_public_part", "encode_public_part"]

_KEY = re.compile(r"^0x[0-9a-f]{64}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._/-]{0,199}$")
MAGIC = b"LLPP"
VERSION = 1
#: Upper bound on a header (bytes); real headers are about 60 bytes.
MAX_HEADER = 4096


def blob_key(data: bytes) -> str:
    """``"0x" + keccak256(data)`` in lowercase hex: the key a blob is stored under."""
    return "0x" + keccak(bytes(data)).hex()


class BlobStore:
    """Content-addressed blobs on any fsspec URL (a local folder by default).

    ``url`` is a folder path (``"/path/dir"``, created on first write) or any
    fsspec URL (``"file:///path"``, ``"memory://name"``, ``"s3://bucket/prefix"``
    with the matching fsspec back end installed). ``storage_options`` go to the
    file system.
    """

    def __init__(self, url: str, **storage_options):
        if not isinstance(url, str) or not url:
            raise ValidationError("url: expected a non-empty string")
        self.url = url.rstrip("/") or url
        self.fs, root = fsspec.core.url_to_fs(url, **storage_options)
        self._root = root.rstrip("/") or root
        self._protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]

    def __repr__(self) -> str:
        return f"BlobStore({self.url!r})"

    def _path(self, key: str) -> str:
        return f"{self._root}/{_check_key(key)}"

    def uri(self, key: str) -> str:
        """The full URL of ``key``'s blob (``file://...`` for a local folder)."""
        return self.fs.unstrip_protocol(self._path(key))

    def __contains__(self, key: str) -> bool:
        return self.fs.exists(self._path(key))

    def put(self, data: bytes) -> str:
        """Store ``data``; return its key. Idempotent: an intact copy already there is kept.

        Writes a temporary file next to the target and moves it into place, so a
        reader never sees a half-written blob where the file system's move is atomic
        (local folders); a damaged copy already stored is replaced.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ValidationError("data: expected bytes")
        data = bytes(data)
        key = blob_key(data)
        path = self._path(key)
        if self.fs.exists(path):
            try:
                if blob_key(self.fs.cat_file(path)) == key:
                    return key
            except FileNotFoundError:
                pass
        self._write(path, data)
        return key

    def _write(self, path: str, data: bytes) -> None:
        # a temporary file next to the target, moved into place
        parent = path.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        tmp = f"{parent}/.tmp-{uuid.uuid4().hex}"
        try:
            with self.fs.open(tmp, "wb") as f:
                f.write(data)
            self.fs.mv(tmp, path)
        finally:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)

    def put_named(self, name: str, data: bytes) -> None:
        """Store ``data`` under a name both sides derive from chain records
        (a mailbox: ``couples/<id>/round-3``); replaces what was there.

        Named blobs carry no hash check of their own: readers authenticate
        them (the training market encrypts them with an AEAD and checks a
        hash recorded on chain).
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ValidationError("data: expected bytes")
        self._write(self._named_path(name), bytes(data))

    def get_named(self, name: str) -> bytes:
        """The blob stored under ``name``; :class:`NotFoundError` when there is none (yet)."""
        try:
            return self.fs.cat_file(self._named_path(name))
        except FileNotFoundError:
            raise NotFoundError(f"blob {name!r} not found in {self.url}") from None

    def _named_path(self, name: str) -> str:
        if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
            raise ValidationError(f"blob name: expected lowercase letters, digits and . _ - / (no '..'), got {name!r}")
        return f"{self._root}/named/{name}"

    def get(self, key: str) -> bytes:
        """The blob stored under ``key``, after checking that its keccak256 is ``key``.

        Raises :class:`NotFoundError` when there is none and :class:`ValidationError`
        when the stored bytes do not hash to ``key`` (a damaged or tampered blob).
        """
        path = self._path(key)
        try:
            data = self.fs.cat_file(path)
        except FileNotFoundError:
            raise NotFoundError(f"blob {key} not found in {self.url}") from None
        got = blob_key(data)
        if got != key.lower():
            raise ValidationError(f"blob {key} in {self.url}: content hashes to {got}, not to its key")
        return data


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.match(key.lower()):
        raise ValidationError(f"key: expected '0x' and 64 hex digits, got {key!r}")
    return key.lower()


def encode_public_part(arch: str, vec: np.ndarray) -> bytes:
    """A public part as a blob: magic, JSON header (architecture name, count) and float32 little-endian values."""
    if not isinstance(arch, str) or not arch:
        raise ValidationError("arch: expected a non-empty name")
    v = np.asarray(vec)
    if v.ndim != 1:
        raise ValidationError(f"public part: expected a flat vector, got shape {v.shape}")
    values = v.astype("<f4")
    if not np.all(np.isfinite(values)):
        raise ValidationError("public part: contains NaN or infinity (or values beyond float32)")
    header = json.dumps(
        {"arch": arch, "dtype": "<f4", "n": int(v.size), "version": VERSION}, sort_keys=True, separators=(",", ":")
    ).encode()
    return MAGIC + len(header).to_bytes(4, "big") + header + values.tobytes()


def decode_public_part(data: bytes) -> tuple[str, np.ndarray]:
    """Inverse of :func:`encode_public_part`: ``(arch, float32 vector)``; raises :class:`ValidationError` if malformed."""
    data = bytes(data)
    if len(data) < 8 or data[:4] != MAGIC:
        raise ValidationError("public part blob: bad magic")
    hlen = int.from_bytes(data[4:8], "big")
    if hlen > MAX_HEADER or 8 + hlen > len(data):
        raise ValidationError("public part blob: bad header length")
    try:
        header = json.loads(data[8 : 8 + hlen].decode())
        arch, n = header["arch"], header["n"]
    except (ValueError, KeyError, TypeError):
        raise ValidationError("public part blob: unreadable header") from None
    if header.get("version") != VERSION or header.get("dtype") != "<f4":
        raise ValidationError(f"public part blob: unsupported version/dtype {header.get('version')}/{header.get('dtype')}")
    if not isinstance(arch, str) or not isinstance(n, int) or n < 0:
        raise ValidationError("public part blob: bad header fields")
    body = data[8 + hlen :]
    if len(body) != 4 * n:
        raise ValidationError(f"public part blob: expected {4 * n} bytes of values, got {len(body)}")
    vec = np.frombuffer(body, dtype="<f4").astype(np.float32)
    if not np.all(np.isfinite(vec)):
        raise ValidationError("public part blob: contains NaN or infinity")
    return arch, vec
