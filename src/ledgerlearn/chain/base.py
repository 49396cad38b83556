"""The backend-neutral chain interface.

Everything above :mod:`ledgerlearn.chain` talks to a :class:`Chain`; it never
knows whether transactions run in the embedded EVM or on a JSON-RPC node.
Addresses are checksummed ``0x`` strings, money is integer wei, data is bytes.
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass, field

from eth_utils import to_checksum_address

from ledgerlearn.errors import ValidationError

#: Block gas limit used by both backends (mainnet's, so chunking is realistic).
BLOCK_GAS_LIMIT = 30_000_000
#: Hard fork both backends run; anvil is started with the same one.
HARDFORK = "prague"
#: Chain id of the embedded chain and of the anvil node ledgerlearn starts.
DEV_CHAIN_ID = 31337


@dataclass(frozen=True)
class Log:
    """An event log as emitted by a contract."""

    address: str
    topics: tuple[bytes, ...]
    data: bytes
    block_number: int
    tx_hash: str
    log_index: int


@dataclass(frozen=True)
class Receipt:
    """What a mined transaction left behind.

    ``gas_used`` is the transaction gas a real node charges (intrinsic gas,
    execution, refunds) when ``gas_exact`` is true. A fast engine that cannot
    measure it sets ``gas_exact=False``; then ``gas_used`` is only an execution
    estimate and must be shown as such.
    """

    tx_hash: str
    status: bool
    gas_used: int
    block_number: int
    timestamp: int
    sender: str
    to: str | None
    logs: tuple[Log, ...] = ()
    contract_address: str | None = None
    return_data: bytes = b""
    gas_exact: bool = True
    effective_gas_price: int = 0


@dataclass
class TxRequest:
    """A transaction to send: ``to=None`` creates a contract from ``data``."""

    sender: str
    to: str | None
    data: bytes = b""
    value: int = 0
    gas: int | None = None
    extra: dict = field(default_factory=dict)


def checksum(address: str | bytes) -> str:
    """Checksum an address, raising :class:`ValidationError` naming it if malformed."""
    try:
        return to_checksum_address(address)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"address: {address!r} is not a 20-byte hex address") from exc


class Chain(abc.ABC):
    """A chain to deploy contracts on, send transactions to and read from.

    Implementations: :class:`~ledgerlearn.chain.local.LocalChain` (embedded EVM)
    and :class:`~ledgerlearn.chain.rpc.RpcChain` (JSON-RPC). Both give the same
    results and the same gas for the same transaction sequence.
    """

    chain_id: int

    # -- accounts -------------------------------------------------------
    @property
    @abc.abstractmethod
    def accounts(self) -> list[str]:
        """Addresses this chain can send from (funded dev accounts or keystore accounts)."""

    @abc.abstractmethod
    def balance(self, address: str) -> int:
        """Balance in wei."""

    # -- transactions ---------------------------------------------------
    @abc.abstractmethod
    def send(self, tx: TxRequest) -> Receipt:
        """Send one transaction and wait for its receipt.

        Raises :class:`~ledgerlearn.errors.TransactionReverted` (with the revert
        reason) if it reverts; a reverted transaction leaves contract state as
        it was.
        """

    def send_many(self, txs: list[TxRequest]) -> list[Receipt | Exception]:
        """Send several transactions in order; backends may batch them.

        Returns one entry per request: its receipt, or the exception it raised.
        """
        out: list[Receipt | Exception] = []
        for tx in txs:
            try:
                out.append(self.send(tx))
            except Exception as exc:  # noqa: BLE001 - reported per transaction
                out.append(exc)
        return out

    @abc.abstractmethod
    def call(self, to: str, data: bytes, *, sender: str | None = None, value: int = 0) -> bytes:
        """Read-only call against the latest state; raises TransactionReverted."""

    @abc.abstractmethod
    def estimate_gas(self, tx: TxRequest) -> int:
        """Gas a transaction would use now."""

    # -- blocks, time, logs ---------------------------------------------
    @property
    @abc.abstractmethod
    def block_number(self) -> int:
        """Number of the latest block."""

    @abc.abstractmethod
    def timestamp(self) -> int:
        """Timestamp of the latest block (seconds)."""

    @abc.abstractmethod
    def advance_time(self, seconds: int) -> int:
        """Move the clock forward; the next block has a timestamp at least this late."""

    @abc.abstractmethod
    def get_logs(
        self,
        address: str | None = None,
        topics: list[bytes | None] | None = None,
        from_block: int = 0,
        to_block: int | None = None,
    ) -> list[Log]:
        """Logs in block order; ``topics`` positions set to None match anything."""

    # -- snapshots ------------------------------------------------------
    @abc.abstractmethod
    def snapshot(self) -> int:
        """Remember the current state; returns an id for :meth:`revert`."""

    @abc.abstractmethod
    def revert(self, snapshot_id: int) -> None:
        """Return to a snapshot (time included). Later snapshots are dropped."""

    def close(self) -> None:
        """Release resources (flush journals, close connections)."""

    def __enter__(self) -> "Chain":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def next_timestamp(chain: Chain) -> int:
    """Best estimate of the timestamp the next transaction on ``chain`` will get.

    Embedded chains know it exactly (a virtual clock moves only when a block
    is mined); for a node it is at least the wall clock.
    """
    nxt = getattr(chain, "next_timestamp", None) or getattr(chain, "_next_timestamp", None)
    if callable(nxt):
        try:
            return int(nxt())
        except Exception:  # noqa: BLE001 - fall back to the last block
            pass
    ts = chain.timestamp()
    if getattr(chain, "clock", "wall") == "virtual":
        return ts + 1
    return max(ts + 1, int(time.time()))

