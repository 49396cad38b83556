"""One exception root for the library, as web3.py does.

Every error ledgerlearn raises derives from :class:`LedgerlearnError`; the
subclasses also derive from the matching builtin so callers can catch either.
"""

from __future__ import annotations


class LedgerlearnError(Exception):
    """Root of every ledgerlearn error."""


class ValidationError(LedgerlearnError, ValueError):
    """A bad argument: the message names it. Nothing was sent or changed."""


class ChainError(LedgerlearnError, RuntimeError):
    """The chain backend failed (node unreachable, bad journal, ...)."""


class TransactionReverted(LedgerlearnError, RuntimeError):
    """A transaction or call reverted; ``reason`` is the contract's revert message.

    A reverted transaction changes no contract state.
    """

    def __init__(self, reason: str | None, *, tx_hash: str | None = None, gas_used: int | None = None):
        self.reason = reason
        self.tx_hash = tx_hash
        self.gas_used = gas_used
        super().__init__(f"reverted: {reason}" if reason else "reverted without a reason")


class CompilationError(LedgerlearnError, RuntimeError):
    """A Vyper source failed to compile."""


class NotFoundError(LedgerlearnError, LookupError):
    """A model, deployment, account or record does not exist."""
