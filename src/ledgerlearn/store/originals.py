"""SQLite store of the original (unencoded) data people contributed.

A shared model only sees the encoded input (e.g. hashed tokens), published in
its ``DataAdded`` event. So that a person can read back what they contributed,
the client keeps the original here, keyed by (chain id, transaction hash).

The database runs in WAL mode with a busy timeout and short write
transactions (``BEGIN IMMEDIATE``), so several CLI processes can add and read
records at once. Each thread gets its own connection.

:meth:`OriginalStore.check` flags a record whose original, re-encoded, no
longer equals the encoded input the chain recorded (a changed vocabulary, a
buggy client, a tampered database).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ledgerlearn.errors import NotFoundError, ValidationError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS originals (
    chain_id    INTEGER NOT NULL,
    tx_hash     TEXT    NOT NULL,
    model       TEXT    NOT NULL,
    author      TEXT    NOT NULL,
    raw         TEXT    NOT NULL,
    encoded     TEXT    NOT NULL,
    label       INTEGER NOT NULL,
    added_time  INTEGER NOT NULL,
    encoder     TEXT    NOT NULL DEFAULT '',
    stored_at   REAL    NOT NULL,
    PRIMARY KEY (chain_id, tx_hash)
);
CREATE INDEX IF NOT EXISTS originals_by_model ON originals (chain_id, model, author);
"""
#: Seconds a writer waits for another process's write to finish.
BUSY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class OriginalRecord:
    """One stored contribution: what the person typed and what went on chain."""

    chain_id: int
    tx_hash: str
    model: str
    author: str
    raw: str
    encoded: tuple[int, ...]
    label: int
    added_time: int
    encoder: str = ""
    stored_at: float = 0.0

    def to_dict(self) -> dict:
        return {
            "chain_id": self.chain_id, "tx_hash": self.tx_hash, "model": self.model, "author": self.author,
            "raw": self.raw, "encoded": list(self.encoded), "label": self.label, "added_time": self.added_time,
            "encoder": self.encoder, "stored_at": self.stored_at,
        }


def raw_to_text(raw) -> str:
    """Store text as is and anything else (a vector, a dict) as JSON."""
    if isinstance(raw, str):
        return raw
    if hasattr(raw, "tolist"):
        raw = raw.tolist()
    try:
        return json.dumps(raw)
    except TypeError as exc:
        raise ValidationError(f"raw: cannot store a {type(raw).__name__} ({exc})") from exc


def _norm_hash(tx_hash: str) -> str:
    if not isinstance(tx_hash, str):
        raise ValidationError(f"tx_hash: expected a 0x hex string, got {type(tx_hash).__name__}")
    h = tx_hash.lower()
    if not h.startswith("0x"):
        h = "0x" + h
    if len(h) != 66 or any(c not in "0123456789abcdef" for c in h[2:]):
        raise ValidationError(f"tx_hash: {tx_hash!r} is not a 32-byte hex transaction hash")
    return h


def _row(r: sqlite3.Row) -> OriginalRecord:
    return OriginalRecord(
        chain_id=r["chain_id"], tx_hash=r["tx_hash"], model=r["model"], author=r["author"], raw=r["raw"],
        encoded=tuple(json.loads(r["encoded"])), label=r["label"], added_time=r["added_time"],
        encoder=r["encoder"], stored_at=r["stored_at"],
    )


class OriginalStore:
    """Originals keyed by transaction hash, in a SQLite file (``":memory:"`` for tests)."""

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._memory_conn: sqlite3.Connection | None = None
        self._conn().executescript(_SCHEMA)  # idempotent; commits on its own

    # -------------------------------------------------------------- plumbing
    def _conn(self) -> sqlite3.Connection:
        if self.path == ":memory:":
            if self._memory_conn is None:
                self._memory_conn = self._open()
            return self._memory_conn
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=self.path != ":memory:")
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if self.path != ":memory:":
            # WAL may need a retry when another process is creating the database at the same moment.
            for _ in range(50):
                try:
                    conn.execute("PRAGMA journal_mode = WAL")
                    break
                except sqlite3.OperationalError:
                    time.sleep(0.05)
            conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        if self._memory_conn is not None:
            self._memory_conn.close()
            self._memory_conn = None

    def __enter__(self) -> "OriginalStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------- API
    def add(
        self, *, chain_id: int, tx_hash: str, model: str, author: str, raw, encoded: Sequence[int], label: int,
        added_time: int, encoder: str = "",
    ) -> OriginalRecord:
        """Store (or replace) the original of the contribution made by ``tx_hash``."""
        rec = OriginalRecord(
            chain_id=int(chain_id), tx_hash=_norm_hash(tx_hash), model=model, author=author, raw=raw_to_text(raw),
            encoded=tuple(int(v) for v in encoded), label=int(label), added_time=int(added_time), encoder=encoder,
            stored_at=time.time(),
        )
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO originals (chain_id, tx_hash, model, author, raw, encoded, label, added_time,"
                " encoder, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (rec.chain_id, rec.tx_hash, rec.model.lower(), rec.author.lower(), rec.raw, json.dumps(list(rec.encoded)),
                 rec.label, rec.added_time, rec.encoder, rec.stored_at),
            )
        return rec

    def get(self, chain_id: int, tx_hash: str) -> OriginalRecord | None:
        """The record for ``tx_hash``, or None."""
        r = self._conn().execute(
            "SELECT * FROM originals WHERE chain_id = ? AND tx_hash = ?", (int(chain_id), _norm_hash(tx_hash))
        ).fetchone()
        return _row(r) if r else None

    def require(self, chain_id: int, tx_hash: str) -> OriginalRecord:
        rec = self.get(chain_id, tx_hash)
        if rec is None:
            raise NotFoundError(f"tx_hash: no original stored for {tx_hash} on chain {chain_id}")
        return rec

    def list(self, chain_id: int, *, model: str | None = None, author: str | None = None) -> list[OriginalRecord]:
        """Records of a chain, optionally of one model and/or author, oldest first."""
        q = "SELECT * FROM originals WHERE chain_id = ?"
        args: list = [int(chain_id)]
        if model is not None:
            q += " AND model = ?"
            args.append(model.lower())
        if author is not None:
            q += " AND author = ?"
            args.append(author.lower())
        q += " ORDER BY added_time, stored_at"
        return [_row(r) for r in self._conn().execute(q, args)]

    def by_hash(self, chain_id: int, tx_hashes: Sequence[str]) -> dict[str, OriginalRecord]:
        """Records for several transaction hashes at once (missing ones left out)."""
        hashes = [_norm_hash(h) for h in tx_hashes]
        out: dict[str, OriginalRecord] = {}
        for i in range(0, len(hashes), 500):
            chunk = hashes[i : i + 500]
            q = f"SELECT * FROM originals WHERE chain_id = ? AND tx_hash IN ({','.join('?' * len(chunk))})"
            for r in self._conn().execute(q, [int(chain_id), *chunk]):
                out[r["tx_hash"]] = _row(r)
        return out

    def delete(self, chain_id: int, tx_hash: str) -> bool:
        with self._write() as conn:
            cur = conn.execute("DELETE FROM originals WHERE chain_id = ? AND tx_hash = ?", (int(chain_id), _norm_hash(tx_hash)))
        return cur.rowcount > 0

    def count(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM originals").fetchone()[0]

    @staticmethod
    def check(rec: OriginalRecord, onchain_x: Sequence[int], encode: Callable[[str], Sequence[int]] | None = None) -> str | None:
        """None if the record agrees with the chain, else a one-line description of the mismatch.

        Compares the stored encoded input with ``onchain_x`` and, given
        ``encode`` (raw text -> model input), the re-encoded original too.
        """
        chain_x = [int(v) for v in onchain_x]
        if list(rec.encoded) != chain_x:
            return f"mismatch: the stored encoded input differs from the one recorded on chain for {rec.tx_hash}"
        if encode is not None:
            try:
                again = [int(v) for v in encode(rec.raw)]
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                return f"mismatch: the stored original no longer encodes ({exc})"
            if again != chain_x:
                return f"mismatch: the stored original, re-encoded, differs from the on-chain input for {rec.tx_hash}"
        return None
