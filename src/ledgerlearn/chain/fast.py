"""A fast embedded chain on pyrevm, for simulations where gas is not the point.

pyrevm (Rust revm) executes about 100x faster than py-evm, but version 0.3.7
never finalises its journal between calls: storage slots stay warm and
"original" values persist, so only the first call's gas is right. This chain
therefore marks every receipt ``gas_exact=False``; anything that shows its gas
must say it is not transaction gas. State, return values, events and reverts
are exact. Transactions are not signed (dev accounts are impersonated) and
durability is a journal replayed on open (no state checkpoints).
"""

from __future__ import annotations

import pyrevm
from eth_abi import encode
from eth_utils import keccak

from ledgerlearn.chain.base import BLOCK_GAS_LIMIT, checksum
from ledgerlearn.chain.local import DEV_BALANCE, LocalChain, _Run
from ledgerlearn.chain.revert import decode_revert_reason
from ledgerlearn.errors import TransactionReverted

_SPEC = "PRAGUE"


def _revert_data(exc: Exception) -> bytes:
    """pyrevm reports a revert as ``Revert { gas_used: N, output: 0x.. }``."""
    text = str(exc)
    marker = "output: 0x"
    if marker in text:
        hexpart = text.split(marker, 1)[1].split()[0].rstrip("},")
        try:
            return bytes.fromhex(hexpart)
        except ValueError:
            return b""
    return b""


class FastLocalChain(LocalChain):
    """:class:`LocalChain` on pyrevm: same API, ~100x faster, gas is NOT transaction gas."""

    engine_name = "pyrevm (fast; gas figures are not transaction gas)"
    gas_exact = False

    def __init__(self, data_dir=None, *, clock: str = "virtual"):
        # No state checkpoints: replaying the journal is fast on this engine.
        super().__init__(data_dir, clock=clock, checkpoint_every=10**12)

    def _init_state(self) -> None:
        self._evm = pyrevm.EVM(spec_id=_SPEC, gas_limit=BLOCK_GAS_LIMIT)
        for addr in self._accounts:
            self._evm.set_balance(addr, DEV_BALANCE)
        self._tx_count = 0

    def _load_checkpoint(self) -> bool:
        return False

    def checkpoint(self) -> None:
        """Nothing to write: the journal alone restores this engine's state."""

    def balance(self, address: str) -> int:
        return self._evm.get_balance(checksum(address))

    def nonce(self, address: str) -> int:
        return self._evm.basic(checksum(address)).nonce

    def code(self, address: str) -> bytes:
        return bytes(self._evm.get_code(checksum(address)) or b"")

    def storage(self, address: str, slot: int) -> int:
        return self._evm.storage(checksum(address), slot)

    def _set_block(self, number: int, timestamp: int) -> None:
        self._evm.set_block_env(pyrevm.BlockEnv(number=number, timestamp=timestamp, gas_limit=BLOCK_GAS_LIMIT, basefee=0))

    def _run_tx(self, sender, to, data, value, gas_limit, number, timestamp) -> _Run:
        self._set_block(number, timestamp)
        self._tx_count += 1
        # Not a signed transaction: a stable pseudo-hash that is unique per transaction.
        tx_hash = "0x" + keccak(encode(["address", "uint256", "bytes"], [sender, self._tx_count, data])).hex()
        checkpoint = self._evm.snapshot()
        try:
            if to is None:
                address = self._evm.deploy(sender, data, value=value, gas=gas_limit)
                output = b""
            else:
                output = bytes(self._evm.message_call(sender, to, data, value=value, gas=gas_limit))
                address = None
        except RuntimeError as exc:
            self._evm.revert(checkpoint)
            raw = _revert_data(exc)
            raise TransactionReverted(decode_revert_reason(raw) if raw else str(exc)[:200], tx_hash=tx_hash) from None
        self._evm.commit()
        result = self._evm.result
        logs = [(log.address, [bytes.fromhex(t[2:]) for t in log.topics], bytes(log.data[1])) for log in result.logs]
        return _Run(tx_hash=tx_hash, gas_used=result.gas_used, output=output,
                    contract_address=checksum(address) if address else None, logs=logs)

    def _dry_run(self, to, data, sender, value):
        self._set_block(self.block_number + 1, self._next_timestamp())
        caller = checksum(sender) if sender else "0x" + "00" * 20
        checkpoint = self._evm.snapshot()
        try:
            output = bytes(self._evm.message_call(caller, to, data, value=value, gas=BLOCK_GAS_LIMIT, is_static=False))
            gas = self._evm.result.gas_used
        except RuntimeError as exc:
            raw = _revert_data(exc)
            raise TransactionReverted(decode_revert_reason(raw) if raw else str(exc)[:200]) from None
        finally:
            self._evm.revert(checkpoint)
        return output, gas

    def _capture(self) -> tuple:
        return (self._evm.snapshot(), len(self._blocks), len(self._logs), dict(self._receipts), self._time_offset)

    def _restore(self, cap: tuple) -> None:
        checkpoint, nblocks, nlogs, receipts, offset = cap
        self._evm.revert(checkpoint)
        del self._blocks[nblocks:]
        del self._logs[nlogs:]
        self._receipts = dict(receipts)
        self._time_offset = offset
