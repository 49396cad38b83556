"""One embedded chain directory shared by several long-running processes.

:class:`SharedLocalChain` lets separate processes (say a model owner and the
data owners of a market, each an agent of its own) use the same embedded chain
directory at the same time. The model is simple:

- **One writer at a time.** Every operation, reads included, takes an exclusive
  ``flock`` on a lock file (by default ``<parent of the chain dir>/chain.lock``,
  the very file the CLI's ``open_chain`` holds for a whole command, so one-shot
  commands and agents exclude each other; whoever comes second waits).
- **Every process replays the others' transactions.** Each process keeps its
  own in-memory py-evm state. After taking the lock it calls
  :meth:`LocalChain.refresh`, which reads the journal records appended since
  this process last looked (from a byte offset, not from the start) and
  executes them, or reloads everything if someone wrote a checkpoint in the
  meantime. Then the operation runs, a transaction is appended to the journal,
  and the lock is released. Reads therefore see every transaction any process
  had committed when the lock was taken.
- **The cost is replay time:** every transaction is executed once by every
  process that looks at the chain afterwards (a value transfer costs about
  0.7 ms of py-evm time, a contract call more), plus, after another process's
  checkpoint, one reload (unpickling the state: ~10 ms for a small chain).
  When nothing changed, catching up is a ``stat``, an ``fstat`` and a
  ``pread``; a locked read costs about 50 us in all.

A writer that dies mid-record leaves a torn tail; the checksum marks it, the
next process to take the lock does not replay it and cuts it off (safe: a torn
tail under the lock means its writer is gone). Checkpoints are written by
rename and carry a generation number, so readers never see half a checkpoint.

Snapshots are refused: reverting would undo other processes' transactions.
Use a private :class:`LocalChain` for what-if runs. Each process should open
its own :class:`SharedLocalChain` (a child forked with one open reopens the
lock file on first use, so it still takes turns with its parent).

Example::

    chain = SharedLocalChain(data_dir / "chain")
    receipt = chain.send(TxRequest(sender=me, to=other, value=1))  # locked, caught up, sent
    with chain.exclusive():            # several operations, nobody in between
        if model.call("phase") == 1:
            model.transact("finish", sender=me)
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ledgerlearn.chain.base import Chain, Log, Receipt, TxRequest
from ledgerlearn.chain.local import _CHECKPOINT, LocalChain
from ledgerlearn.errors import ChainError, TransactionReverted, ValidationError


class SharedLocalChain(Chain):
    """A :class:`LocalChain` in ``data_dir`` that other processes may use at the same time.

    Args:
        data_dir: the chain directory (the CLI's is ``<data-dir>/chain``).
        clock: clock of a chain created here (an existing chain keeps its own).
        lock_path: the lock file all users of the directory share; default
            ``<parent of data_dir>/chain.lock`` (what ``open_chain`` locks).
        checkpoint_every: journal records (by all processes together) between
            automatic checkpoints; the process whose write crosses it writes one.
        checkpoint_on_close: write a checkpoint on :meth:`close` if the journal
            holds records (makes the next opener fast; other running processes
            then reload once).
        lock_timeout: seconds to wait for the lock before raising
            :class:`~ledgerlearn.errors.ChainError`; ``None`` waits forever.

    Every method takes the lock, catches up (:meth:`refresh`), runs, and
    releases; :meth:`exclusive` holds it across several operations. Thread
    safe within a process (threads take turns).
    """

    engine_name = LocalChain.engine_name
    gas_exact = LocalChain.gas_exact

    def __init__(
        self,
        data_dir: str | os.PathLike,
        *,
        clock: str = "wall",
        lock_path: str | os.PathLike | None = None,
        checkpoint_every: int = 2000,
        checkpoint_on_close: bool = True,
        lock_timeout: float | None = None,
    ):
        self.data_dir = Path(data_dir)
        self.lock_path = Path(lock_path) if lock_path is not None else self.data_dir.parent / "chain.lock"
        self.lock_timeout = lock_timeout
        self.checkpoint_on_close = checkpoint_on_close
        #: Journal records replayed while catching up (the others' transactions; after
        #: a reload, the whole journal since the checkpoint), and seconds spent waiting for the lock.
        self.replayed = 0
        self.lock_wait_s = 0.0
        self._mutex = threading.RLock()
        self._depth = 0
        self._closed = False
        self._chain: LocalChain | None = None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        self._pid = os.getpid()
        self._lock_file = open(self.lock_path, "a+")
        try:
            with self.exclusive():
                chain = LocalChain(self.data_dir, clock=clock, checkpoint_every=checkpoint_every)
                if not (self.data_dir / _CHECKPOINT).exists():
                    # Pin clock and genesis for every process that opens the directory later.
                    chain.checkpoint()
                self._chain = chain
        except BaseException:
            self._lock_file.close()
            raise
        self.chain_id = chain.chain_id
        self.clock = chain.clock

    # ------------------------------------------------------------------ locking
    def _acquire(self) -> None:
        if os.getpid() != self._pid:
            # A forked child shares the parent's open file description, and so its flock.
            self._lock_file = open(self.lock_path, "a+")
            self._pid = os.getpid()
        fd = self._lock_file.fileno()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        t0 = time.monotonic()
        try:
            if self.lock_timeout is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
                return
            delay = 0.001
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    if time.monotonic() - t0 >= self.lock_timeout:
                        raise ChainError(
                            f"lock: {self.lock_path} is still held by another process after {self.lock_timeout:g} s"
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
        finally:
            self.lock_wait_s += time.monotonic() - t0

    def _release(self) -> None:
        fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)

    @contextmanager
    def exclusive(self) -> Iterator["SharedLocalChain"]:
        """Hold the lock (caught up with everyone) for the whole ``with`` block.

        Re-entrant within a process: nested blocks and the methods called inside
        simply run. Other processes (and other threads here) wait meanwhile, so
        keep the block short. Two :class:`SharedLocalChain` objects on the same
        lock file in one thread must not nest each other's blocks (deadlock).
        """
        with self._mutex:
            if self._depth == 0:
                if self._closed:
                    raise ChainError(f"chain: the shared chain in {self.data_dir} is closed")
                self._acquire()
                try:
                    if self._chain is not None:
                        self.replayed += self._chain.refresh()
                except BaseException:
                    self._release()
                    raise
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._release()

    @contextmanager
    def _op(self) -> Iterator[LocalChain]:
        """One operation on the caught-up chain under the lock.

        If it fails other than by a revert or a refused argument (interrupted,
        out of memory, a disk error), the state in memory may hold a change the
        journal does not: it is rebuilt from disk before the next operation.
        """
        with self.exclusive():
            try:
                yield self._chain
            except (TransactionReverted, ValidationError):
                raise
            except BaseException:
                self._chain.invalidate()
                raise

    def refresh(self) -> int:
        """Catch up with the other processes now; returns the records replayed."""
        with self._mutex:
            before = self.replayed
            with self.exclusive():
                pass
            return self.replayed - before

    @property
    def local(self) -> LocalChain:
        """The underlying :class:`LocalChain`; only use it inside :meth:`exclusive`."""
        return self._chain

    # ---------------------------------------------------------------- accounts
    @property
    def accounts(self) -> list[str]:
        return self._chain.accounts  # fixed dev accounts: no need to lock

    def add_account(self, account) -> str:
        """Sign for one more key in this process (see :meth:`LocalChain.add_account`)."""
        with self._mutex:
            return self._chain.add_account(account)

    def balance(self, address: str) -> int:
        with self._op() as chain:
            return chain.balance(address)

    def nonce(self, address: str) -> int:
        with self._op() as chain:
            return chain.nonce(address)

    def code(self, address: str) -> bytes:
        with self._op() as chain:
            return chain.code(address)

    def storage(self, address: str, slot: int) -> int:
        with self._op() as chain:
            return chain.storage(address, slot)

    # ------------------------------------------------------------ transactions
    def send(self, tx: TxRequest) -> Receipt:
        with self._op() as chain:
            return chain.send(tx)

    def send_many(self, txs: list[TxRequest]) -> list[Receipt | Exception]:
        """Send in order under one lock: no other process's transaction lands in between."""
        with self._op() as chain:
            out = chain.send_many(txs)
            if any(isinstance(r, Exception) and not isinstance(r, (TransactionReverted, ValidationError)) for r in out):
                chain.invalidate()  # e.g. a journal write failed: trust the disk, not memory
            return out

    def call(self, to: str, data: bytes, *, sender: str | None = None, value: int = 0) -> bytes:
        with self._op() as chain:
            return chain.call(to, data, sender=sender, value=value)

    def estimate_gas(self, tx: TxRequest) -> int:
        with self._op() as chain:
            return chain.estimate_gas(tx)

    def receipt(self, tx_hash: str) -> Receipt:
        with self._op() as chain:
            return chain.receipt(tx_hash)

    # ------------------------------------------------------ blocks, time, logs
    @property
    def block_number(self) -> int:
        with self._op() as chain:
            return chain.block_number

    def timestamp(self) -> int:
        with self._op() as chain:
            return chain.timestamp()

    def next_timestamp(self) -> int:
        """The timestamp a transaction sent now would get (at least; others may send first)."""
        with self._op() as chain:
            return chain._next_timestamp()

    def advance_time(self, seconds: int) -> int:
        with self._op() as chain:
            return chain.advance_time(seconds)

    def get_logs(self, address=None, topics=None, from_block=0, to_block=None) -> list[Log]:
        with self._op() as chain:
            return chain.get_logs(address, topics, from_block, to_block)

    # --------------------------------------------------------------- snapshots
    def snapshot(self) -> int:
        raise ValidationError(
            "snapshot: not available on a shared chain (a revert would undo other processes' transactions);"
            " use a private LocalChain for what-if runs"
        )

    def revert(self, snapshot_id: int) -> None:
        raise ValidationError(
            f"snapshot_id: cannot revert to {snapshot_id} on a shared chain (it would undo other processes'"
            " transactions)"
        )

    # -------------------------------------------------------------- durability
    def checkpoint(self) -> None:
        """Write a checkpoint now (the other processes reload it on their next operation)."""
        with self._op() as chain:
            chain.checkpoint()

    def close(self) -> None:
        """Checkpoint if the journal holds records (see ``checkpoint_on_close``), close, release the lock file."""
        with self._mutex:
            if self._closed:
                return
            with self.exclusive():
                self._chain.close(checkpoint=self.checkpoint_on_close and self._chain.records_since_checkpoint > 0)
                self._closed = True
            self._lock_file.close()

    def __repr__(self) -> str:
        return f"SharedLocalChain({str(self.data_dir)!r}, lock_path={str(self.lock_path)!r})"
