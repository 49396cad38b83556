"""The embedded chain: an in-process EVM with exact transaction gas.

:class:`LocalChain` runs real signed transactions on py-evm (the Prague rules
anvil runs), one transaction per block, and reports the gas a real node would
charge: intrinsic gas, execution, refunds capped at a fifth, EIP-7623's
calldata floor. It needs no node, no npm, nothing to start.

Durability: with a ``data_dir`` every accepted transaction and every clock
change is appended to a checksummed journal before the call returns, and the
full state is checkpointed now and then (atomically, by rename). Opening the
directory loads the last checkpoint and replays the journal after it, so the
chain survives between CLI invocations and after a ``kill -9``: a torn last
record is detected by its checksum and dropped (that transaction was never
acknowledged).

Sharing: :meth:`LocalChain.refresh` catches up with records that another
process appended to the same directory (or reloads, if another process wrote a
checkpoint). It must be called by the only writer of the moment, so processes
that share a directory go through :class:`ledgerlearn.chain.shared.SharedLocalChain`,
which serialises them with a lock file.

Every checkpoint carries a generation number and the journal after it starts
with an ``("epoch", generation)`` record, so a journal left over by a crash
between writing a checkpoint and emptying the journal is recognised as already
contained in the checkpoint and is not replayed a second time.

A faster engine that does not report transaction gas is
:class:`ledgerlearn.chain.fast.FastLocalChain`.
"""

from __future__ import annotations

import os
import pickle
import struct
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth import constants
from eth.db.atomic import AtomicDB
from eth.vm.execution_context import ExecutionContext
from eth.vm.forks import PragueVM
from eth.vm.spoof import SpoofTransaction
from eth_keys import keys
from eth_utils import keccak, to_canonical_address

from ledgerlearn.chain.accounts import DEV_BALANCE_WEI, dev_accounts
from ledgerlearn.chain.base import BLOCK_GAS_LIMIT, DEV_CHAIN_ID, Chain, Log, Receipt, TxRequest, checksum
from ledgerlearn.chain.revert import decode_revert_reason
from ledgerlearn.errors import ChainError, TransactionReverted, ValidationError

#: Balance of each funded dev account (anvil's default: 10,000 ETH).
DEV_BALANCE = DEV_BALANCE_WEI
#: Genesis timestamp of a chain with a virtual clock.
VIRTUAL_GENESIS_TIME = 1_700_000_000

_JOURNAL = "journal.bin"
_CHECKPOINT = "checkpoint.pkl"
_REC_HEADER = struct.Struct(">II")  # payload length, crc32


def _tx_gas(gas_limit: int, comp) -> int:
    """Transaction gas as a node charges it: execution, capped refund, calldata floor."""
    used = gas_limit - comp.get_gas_remaining()
    return used - min(comp.get_gas_refund(), used // 5) + getattr(comp, "data_floor_gas", 0)


class _ReplayedTransaction(SpoofTransaction):
    """A journalled transaction replayed without its sender's key."""

    @property
    def hash(self) -> bytes:
        tx = self.spoof_target
        return keccak(b"replayed" + self.sender + tx.nonce.to_bytes(32, "big") + bytes(tx.to) + bytes(tx.data))


@dataclass
class _Run:
    """What an engine returns for an accepted transaction."""

    tx_hash: str
    gas_used: int
    output: bytes
    contract_address: str | None
    logs: list  # (address, [topic bytes32], data)


@dataclass
class _Block:
    number: int
    timestamp: int
    tx_hash: str | None


class _Journal:
    """Append-only, checksummed record file (length, crc32, pickled payload)."""

    def __init__(self, path: Path):
        self.path = path
        self._f = open(path, "ab")
        self._r = open(path, "rb", buffering=0)  # for pread: the append handle cannot read

    def append(self, record: tuple) -> int:
        """Append one record; returns the number of bytes written."""
        payload = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        blob = _REC_HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        self._f.write(blob)
        # Reaching the OS is enough to survive a killed process; fsync on close.
        self._f.flush()
        return len(blob)

    def size(self) -> int:
        """Current length of the file on disk (whoever wrote it)."""
        return os.fstat(self._f.fileno()).st_size

    def pread(self, size: int, offset: int) -> bytes:
        """Up to ``size`` bytes at ``offset``, as they are on disk now."""
        return os.pread(self._r.fileno(), size, offset)

    def first_record(self) -> bytes:
        """Raw bytes of the first record (call only when it is known to be whole)."""
        head = self.pread(_REC_HEADER.size, 0)
        if len(head) < _REC_HEADER.size:
            return head
        length, _ = _REC_HEADER.unpack(head)
        return self.pread(_REC_HEADER.size + length, 0)

    def truncate(self, size: int = 0) -> None:
        """Cut the file to ``size`` bytes (a torn tail, or everything after a checkpoint)."""
        self._f.flush()
        self._f.truncate(size)
        self._f.seek(size)
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        if not self._f.closed:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            self._r.close()

    @staticmethod
    def read_from(path: Path, offset: int = 0) -> tuple[list[tuple], int, int]:
        """Records starting at byte ``offset``, the end of their valid prefix, and the file size.

        Reading stops at the first record whose length or checksum does not
        hold: a torn write at the tail (that transaction never returned).
        Offsets are absolute positions in the file.
        """
        records: list[tuple] = []
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            return records, 0, 0
        pos = 0
        while pos + _REC_HEADER.size <= len(data):
            length, crc = _REC_HEADER.unpack_from(data, pos)
            start, end = pos + _REC_HEADER.size, pos + _REC_HEADER.size + length
            if end > len(data) or zlib.crc32(data[start:end]) != crc:
                break  # torn write at the tail: that transaction never returned
            records.append(pickle.loads(data[start:end]))
            pos = end
        return records, offset + pos, offset + len(data)

    @staticmethod
    def read(path: Path) -> tuple[list[tuple], int]:
        """Records in order, and the byte length of the valid prefix."""
        records, valid, _ = _Journal.read_from(path, 0)
        return records, valid


#: Sentinel checkpoint identity that never matches a file: forces a full reload.
_STALE = ("stale",)


class LocalChain(Chain):
    """In-process chain with exact gas, time travel, snapshots and durability.

    Args:
        data_dir: directory for the durable journal and checkpoints; ``None``
            keeps everything in memory.
        clock: ``"wall"`` (block time follows the wall clock, plus any
            :meth:`advance_time`) or ``"virtual"`` (time moves only by
            :meth:`advance_time`, one second per block otherwise). A durable
            chain keeps the clock it was created with.
        checkpoint_every: journal records between automatic state checkpoints.
    """

    engine_name = "py-evm (exact gas)"
    #: Whether receipts carry real transaction gas.
    gas_exact = True

    def __init__(self, data_dir: str | os.PathLike | None = None, *, clock: str = "virtual", checkpoint_every: int = 2000):
        if clock not in ("wall", "virtual"):
            raise ValidationError(f"clock: expected 'wall' or 'virtual', got {clock!r}")
        self.chain_id = DEV_CHAIN_ID
        self._keys = {a.address: keys.PrivateKey(bytes(a.key)) for a in dev_accounts()}
        self._accounts = list(self._keys)
        self._builder = PragueVM.get_transaction_builder()
        self._state_class = PragueVM.get_state_class()
        self._checkpoint_every = checkpoint_every
        self._snapshots: dict[int, tuple] = {}
        self._next_snapshot = 1
        self._journal: _Journal | None = None
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self._replaying = False
        self.clock = clock
        # Sharing bookkeeping: which checkpoint file the in-memory state came
        # from, its generation, and how far into the journal this object has
        # read or written.
        self._generation = 0
        self._ckpt_key: tuple | None = None
        self._journal_offset = 0
        # The journal's ("epoch", generation) record as written: if the bytes at
        # the start of the file differ, someone checkpointed and restarted it.
        self._journal_head: bytes | None = None
        self._records_since_checkpoint = 0
        #: How many times :meth:`refresh` had to reload everything (another process checkpointed).
        self.reloads = 0

        if self.data_dir is None:
            self._genesis(clock)
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._journal = _Journal(self.data_dir / _JOURNAL)
            self._load_all()

    # ------------------------------------------------------------------ set-up
    def _genesis(self, clock: str) -> None:
        self.clock = clock
        self._db = AtomicDB()
        self._time_offset = 0
        self._blocks: list[_Block] = [_Block(0, self._base_time(), None)]
        self._receipts: dict[str, Receipt] = {}
        self._logs: list[Log] = []
        self._records_since_checkpoint = 0
        self._init_state()

    def _init_state(self) -> None:
        state = self._state_class(self._db, self._context(0, self._blocks[0].timestamp), constants.BLANK_ROOT_HASH)
        for addr in self._accounts:
            state.set_balance(to_canonical_address(addr), DEV_BALANCE)
        state.persist()
        self._state = state

    def _base_time(self) -> int:
        return int(time.time()) if self.clock == "wall" else VIRTUAL_GENESIS_TIME

    def _context(self, number: int, timestamp: int) -> ExecutionContext:
        # Deterministic stand-ins for ancestor hashes, computed only if BLOCKHASH asks.
        prev = (keccak(n.to_bytes(32, "big")) for n in range(number - 1, max(-1, number - 257), -1))
        return ExecutionContext(
            coinbase=constants.ZERO_ADDRESS,
            timestamp=timestamp,
            block_number=number,
            difficulty=0,
            mix_hash=keccak(b"ledgerlearn" + number.to_bytes(8, "big")),
            gas_limit=BLOCK_GAS_LIMIT,
            prev_hashes=prev,
            chain_id=self.chain_id,
            base_fee_per_gas=0,
            excess_blob_gas=0,
        )

    # ---------------------------------------------------------------- accounts
    @property
    def accounts(self) -> list[str]:
        return list(self._accounts)

    def add_account(self, account) -> str:
        """Sign for one more key (an eth-account ``LocalAccount``, or key bytes/hex); returns its address.

        On a durable chain the key stays in this process: the journal records
        the transaction, not the key, and another process replaying it runs
        it unsigned from the same sender (same state, gas and logs; its
        transaction hash is then a local pseudo-hash).
        """
        from ledgerlearn.chain.accounts import resolve_accounts

        (acct,) = resolve_accounts([account])
        addr = checksum(acct.address)
        if addr not in self._keys:
            self._keys[addr] = keys.PrivateKey(bytes(acct.key))
            self._accounts.append(addr)
        return addr

    def balance(self, address: str) -> int:
        return self._state.get_balance(to_canonical_address(checksum(address)))

    def nonce(self, address: str) -> int:
        return self._state.get_nonce(to_canonical_address(checksum(address)))

    def code(self, address: str) -> bytes:
        return self._state.get_code(to_canonical_address(checksum(address)))

    def storage(self, address: str, slot: int) -> int:
        return self._state.get_storage(to_canonical_address(checksum(address)), slot)

    # ------------------------------------------------------------------- time
    @property
    def block_number(self) -> int:
        return self._blocks[-1].number

    def timestamp(self) -> int:
        return self._blocks[-1].timestamp

    def _next_timestamp(self) -> int:
        last = self._blocks[-1].timestamp
        if self.clock == "wall":
            return max(last + 1, int(time.time()) + self._time_offset)
        # Virtual clock: `_time_offset` is the advance still pending for the next block.
        return last + max(1, self._time_offset)

    def advance_time(self, seconds: int) -> int:
        if seconds < 0:
            raise ValidationError(f"seconds: cannot move time backwards ({seconds})")
        seconds = int(seconds)
        if self.clock == "wall":
            # Blocks may run ahead of the wall clock (several per second): the next block
            # must still come `seconds` after the one it would have been. The journal keeps
            # the offset actually applied, so replays in other processes agree.
            wall = int(time.time())
            seconds = max(seconds, self._next_timestamp() + seconds - wall - self._time_offset)
        self._write(("time", seconds))
        self._apply_time(seconds)
        return self._next_timestamp()

    def _apply_time(self, seconds: int) -> None:
        self._time_offset += seconds

    # ------------------------------------------------------------ transactions
    def send(self, tx: TxRequest) -> Receipt:
        sender = checksum(tx.sender)
        if sender not in self._keys:
            raise ValidationError(f"sender: {sender} is not an account of this chain (use one of chain.accounts)")
        to = checksum(tx.to) if tx.to else None
        timestamp = self._next_timestamp()
        receipt = self._execute(sender, to, tx.data, tx.value, tx.gas, timestamp)
        self._write(("tx", sender, to, tx.data, tx.value, tx.gas, timestamp))
        return receipt

    def _execute(self, sender: str, to: str | None, data: bytes, value: int, gas: int | None, timestamp: int) -> Receipt:
        number = self.block_number + 1
        gas_limit = gas if gas is not None else BLOCK_GAS_LIMIT
        if gas_limit > BLOCK_GAS_LIMIT:
            raise ValidationError(f"gas: {gas_limit} exceeds the block gas limit {BLOCK_GAS_LIMIT}")
        run = self._run_tx(sender, to, data, value, gas_limit, number, timestamp)
        logs = tuple(
            Log(checksum(addr), tuple(topics), bytes(ldata), number, run.tx_hash, len(self._logs) + i)
            for i, (addr, topics, ldata) in enumerate(run.logs)
        )
        receipt = Receipt(
            tx_hash=run.tx_hash, status=True, gas_used=run.gas_used, block_number=number, timestamp=timestamp,
            sender=sender, to=to, logs=logs, contract_address=run.contract_address, return_data=run.output,
            gas_exact=self.gas_exact,
        )
        self._blocks.append(_Block(number, timestamp, run.tx_hash))
        if self.clock == "virtual":
            self._time_offset = 0
        self._receipts[run.tx_hash] = receipt
        self._logs.extend(logs)
        return receipt

    def _run_tx(self, sender: str, to: str | None, data: bytes, value: int, gas_limit: int, number: int, timestamp: int) -> "_Run":
        """Execute a signed transaction on py-evm; on revert, undo it entirely and raise."""
        state = self._state
        state.execution_context = self._context(number, timestamp)
        nonce = state.get_nonce(to_canonical_address(sender))
        unsigned = self._builder.new_unsigned_dynamic_fee_transaction(
            chain_id=self.chain_id, nonce=nonce, max_priority_fee_per_gas=0, max_fee_per_gas=0,
            gas=gas_limit, to=to_canonical_address(to) if to else b"", value=value, data=data, access_list=(),
        )
        key = self._keys.get(sender)
        if key is not None:
            signed = unsigned.as_signed_transaction(key, chain_id=self.chain_id)
        else:  # replaying another process's transaction from a key it alone holds
            signed = _ReplayedTransaction(unsigned, from_=to_canonical_address(sender))
        snap = state.snapshot()
        try:
            comp = state.apply_transaction(signed)
        except Exception as exc:  # validation: balance, nonce, intrinsic gas
            state.revert(snap)
            raise TransactionReverted(f"invalid transaction: {exc}") from exc
        gas_used = _tx_gas(gas_limit, comp)
        tx_hash = "0x" + signed.hash.hex()
        if comp.is_error:
            state.revert(snap)
            reason = decode_revert_reason(comp.output) if comp.output else str(comp.error)
            raise TransactionReverted(reason, tx_hash=tx_hash, gas_used=gas_used)
        state.lock_changes()
        return _Run(
            tx_hash=tx_hash, gas_used=gas_used, output=bytes(comp.output),
            contract_address=checksum(comp.msg.storage_address) if to is None else None,
            logs=[(addr, [t.to_bytes(32, "big") for t in topics], data) for addr, topics, data in comp.get_log_entries()],
        )

    def receipt(self, tx_hash: str) -> Receipt:
        try:
            return self._receipts[tx_hash]
        except KeyError:
            raise ValidationError(f"tx_hash: unknown transaction {tx_hash}") from None

    def _spoof(self, sender: str | None, to: str | None, data: bytes, value: int, gas: int):
        sender_b = to_canonical_address(checksum(sender)) if sender else constants.ZERO_ADDRESS
        unsigned = self._builder.new_unsigned_dynamic_fee_transaction(
            chain_id=self.chain_id, nonce=self._state.get_nonce(sender_b), max_priority_fee_per_gas=0,
            max_fee_per_gas=0, gas=gas, to=to_canonical_address(to) if to else b"", value=value, data=data, access_list=(),
        )
        return SpoofTransaction(unsigned, from_=sender_b)

    def call(self, to: str, data: bytes, *, sender: str | None = None, value: int = 0) -> bytes:
        return self._dry_run(checksum(to), data, sender, value)[0]

    def estimate_gas(self, tx: TxRequest) -> int:
        return self._dry_run(checksum(tx.to) if tx.to else None, tx.data, tx.sender, tx.value)[1]

    def _dry_run(self, to: str | None, data: bytes, sender: str | None, value: int) -> tuple[bytes, int]:
        state = self._state
        state.execution_context = self._context(self.block_number + 1, self._next_timestamp())
        snap = state.snapshot()
        try:
            if sender is None:
                state.set_balance(constants.ZERO_ADDRESS, state.get_balance(constants.ZERO_ADDRESS) + value)
            comp = state.apply_transaction(self._spoof(sender, to, data, value, BLOCK_GAS_LIMIT))
            gas = _tx_gas(BLOCK_GAS_LIMIT, comp)
        except Exception as exc:
            raise TransactionReverted(f"invalid call: {exc}") from exc
        finally:
            state.revert(snap)
        if comp.is_error:
            raise TransactionReverted(decode_revert_reason(comp.output) if comp.output else str(comp.error))
        return bytes(comp.output), gas

    # ------------------------------------------------------------------- logs
    def get_logs(self, address=None, topics=None, from_block=0, to_block=None) -> list[Log]:
        addr = checksum(address).lower() if address else None
        out = []
        for log in self._logs:
            if log.block_number < from_block or (to_block is not None and log.block_number > to_block):
                continue
            if addr and log.address.lower() != addr:
                continue
            if topics and any(t is not None and (i >= len(log.topics) or log.topics[i] != t) for i, t in enumerate(topics)):
                continue
            out.append(log)
        return out

    # -------------------------------------------------------------- snapshots
    def _capture(self) -> tuple:
        self._state.persist()
        return (self._state.state_root, len(self._blocks), len(self._logs), dict(self._receipts), self._time_offset)

    def _restore(self, cap: tuple) -> None:
        root, nblocks, nlogs, receipts, offset = cap
        self._state = self._state_class(self._db, self._context(nblocks, self._blocks[nblocks - 1].timestamp), root)
        del self._blocks[nblocks:]
        del self._logs[nlogs:]
        self._receipts = dict(receipts)
        self._time_offset = offset

    def snapshot(self) -> int:
        sid = self._next_snapshot
        self._next_snapshot += 1
        self._snapshots[sid] = self._capture()
        self._write(("snapshot", sid))
        return sid

    def revert(self, snapshot_id: int) -> None:
        if snapshot_id not in self._snapshots:
            raise ValidationError(f"snapshot_id: unknown or already reverted snapshot {snapshot_id}")
        self._restore(self._snapshots[snapshot_id])
        for sid in [s for s in self._snapshots if s >= snapshot_id]:
            del self._snapshots[sid]
        self._write(("revert", snapshot_id))

    # ------------------------------------------------------------- durability
    def _write(self, record: tuple) -> None:
        if self._journal is None or self._replaying:
            return
        if self._journal.size() != self._journal_offset:
            # Someone else appended (or truncated) without this object catching
            # up first: appending now would interleave two histories. The state
            # in memory already holds this change, so rebuild it on next refresh().
            self._ckpt_key = _STALE
            raise ChainError(
                f"journal: {self._journal.path} was changed by another process since this chain read it;"
                " share a data directory between processes with SharedLocalChain (or call refresh() under a lock)"
            )
        self._journal_offset += self._journal.append(record)
        self._records_since_checkpoint += 1
        if self._records_since_checkpoint >= self._checkpoint_every and not self._snapshots:
            self.checkpoint()

    def _replay(self, records: list[tuple]) -> None:
        self._replaying = True
        try:
            for rec in records:
                kind = rec[0]
                if kind == "tx":
                    _, sender, to, data, value, gas, timestamp = rec
                    self._execute(sender, to, data, value, gas, timestamp)
                elif kind == "time":
                    self._apply_time(rec[1])
                elif kind == "snapshot":
                    self._snapshots[rec[1]] = self._capture()
                    self._next_snapshot = rec[1] + 1
                elif kind == "revert":
                    self.revert(rec[1])
                elif kind == "epoch":
                    pass  # marks which checkpoint generation the journal continues
                else:
                    raise ChainError(f"journal: unknown record kind {kind!r}")
        except TransactionReverted as exc:
            raise ChainError(f"journal replay diverged: a recorded transaction now reverts ({exc})") from exc
        finally:
            self._replaying = False

    @property
    def records_since_checkpoint(self) -> int:
        """Journal records (from any process) written after the last checkpoint."""
        return self._records_since_checkpoint

    def checkpoint(self) -> None:
        """Write the full state to the data directory and empty the journal."""
        if self.data_dir is None:
            return
        self._state.persist()
        generation = self._generation + 1
        payload = {
            "version": 1, "clock": self.clock, "db": self._db.wrapped_db.kv_store,
            "root": self._state.state_root, "blocks": self._blocks, "receipts": self._receipts, "logs": self._logs,
            "time_offset": self._time_offset, "generation": generation,
        }
        with tempfile.NamedTemporaryFile("wb", dir=self.data_dir, delete=False, suffix=".tmp") as f:
            pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.replace(f.name, self.data_dir / _CHECKPOINT)
        self._generation = generation
        self._ckpt_key = self._checkpoint_key()
        if self._journal is not None:
            # A crash right here leaves the old journal behind; its epoch record
            # (older than this generation) tells the next load to skip it.
            self._journal.truncate()
            self._journal_offset = self._journal.append(("epoch", generation))
            self._journal_head = self._journal.first_record()
        self._records_since_checkpoint = 0

    def _checkpoint_key(self) -> tuple | None:
        """Identity of the checkpoint file on disk (changes whenever anyone rewrites it)."""
        try:
            st = os.stat(self.data_dir / _CHECKPOINT)
        except FileNotFoundError:
            return None
        return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)

    def _load_checkpoint(self) -> bool:
        path = self.data_dir / _CHECKPOINT
        if not path.exists():
            return False
        try:
            payload: dict[str, Any] = pickle.loads(path.read_bytes())
        except Exception as exc:
            raise ChainError(f"data_dir: checkpoint {path} is unreadable ({exc}); move it away to start over") from exc
        self.clock = payload["clock"]
        self._db = AtomicDB()
        self._db.wrapped_db.kv_store.update(payload["db"])
        self._blocks = payload["blocks"]
        self._receipts = payload["receipts"]
        self._logs = payload["logs"]
        self._time_offset = payload["time_offset"]
        self._generation = payload.get("generation", 0)  # checkpoints before generations: 0
        self._state = self._state_class(self._db, self._context(len(self._blocks), self._blocks[-1].timestamp), payload["root"])
        return True

    def _load_all(self) -> int:
        """(Re)build the state from the checkpoint and the whole journal; returns records replayed.

        Repairs the journal on the way (so call it as the only writer): a torn
        tail is cut off, and a journal that the checkpoint already contains is
        emptied.
        """
        self._ckpt_key = _STALE  # until this load completes
        self._snapshots = {}
        self._next_snapshot = 1
        key = self._checkpoint_key()
        if not self._load_checkpoint():
            self._genesis(self.clock)
            self._generation = 0
        records, valid, size = _Journal.read_from(self._journal.path, 0)
        if valid < size:
            self._journal.truncate(valid)  # drop a torn tail before appending after it
        # Journals written since generations start with ("epoch", g); older ones have no marker (g = 0).
        epoch = records[0][1] if records and records[0][0] == "epoch" else 0
        if records and epoch < self._generation:
            # A crash between writing the checkpoint and emptying the journal:
            # the checkpoint already holds these records.
            records, valid = [], 0
            self._journal.truncate()
        elif epoch > self._generation:
            raise ChainError(
                f"data_dir: {self._journal.path} continues checkpoint generation {epoch}, but"
                f" {self.data_dir / _CHECKPOINT} is generation {self._generation} (missing or replaced);"
                " move the whole directory away to start over"
            )
        self._journal_offset = valid
        if valid == 0:
            self._journal_offset = self._journal.append(("epoch", self._generation))
            records = [("epoch", self._generation)]
        self._journal_head = self._journal.first_record() if records[0][0] == "epoch" else None
        self._replay(records)
        self._records_since_checkpoint = sum(1 for r in records if r[0] != "epoch")
        self._ckpt_key = key
        return self._records_since_checkpoint

    def refresh(self) -> int:
        """Catch up with what other processes wrote to the data directory; returns records replayed.

        If the checkpoint file changed since this object loaded or wrote it,
        everything is reloaded (checkpoint, then the whole journal); otherwise
        only the journal records after the offset this object has consumed are
        read and replayed. A torn tail (a writer that died mid-record) is not
        replayed and is cut off, so the caller must be the only writer while
        this runs (:class:`~ledgerlearn.chain.shared.SharedLocalChain` holds a
        lock). Snapshots are dropped by a reload. A chain without a data
        directory, or a closed one, has nothing to catch up with.
        """
        if self.data_dir is None or self._journal is None:
            return 0
        size = self._journal.size()
        head = self._journal_head
        if (
            self._checkpoint_key() != self._ckpt_key
            or size < self._journal_offset
            or (head is not None and self._journal.pread(len(head), 0) != head)
        ):
            self.reloads += 1
            return self._load_all()
        if size == self._journal_offset:
            return 0
        records, valid, size = _Journal.read_from(self._journal.path, self._journal_offset)
        if valid < size:
            self._journal.truncate(valid)  # a writer died mid-record: that record was never acknowledged
        try:
            self._replay(records)
        except BaseException:
            self._ckpt_key = _STALE  # partly applied: rebuild from scratch next time
            raise
        self._journal_offset = valid
        replayed = sum(1 for r in records if r[0] != "epoch")
        self._records_since_checkpoint += replayed
        return replayed

    def invalidate(self) -> None:
        """Distrust the state in memory: the next :meth:`refresh` rebuilds it from the data directory.

        For when an operation was interrupted half-way (a transaction executed
        but not journaled, say): the directory, not this object, is the truth.
        """
        self._ckpt_key = _STALE

    def close(self, *, checkpoint: bool = True) -> None:
        """Checkpoint (unless ``checkpoint=False``) and close the journal."""
        if self._journal is not None:
            if checkpoint:
                self.checkpoint()
            self._journal.close()
            self._journal = None
