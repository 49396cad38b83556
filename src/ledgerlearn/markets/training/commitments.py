"""Hashes, nonces, hash chains and the round draw of the training market.

Everything here mirrors ``contracts/markets/training_market.vy`` bit for bit:

* ``digest(data) = keccak256(data)`` of a subset's or a model's bytes;
* ``commitment = keccak256(digest || nonce)``: the contract can check a
  revealed digest against every replica's commitment, while equal data under
  different nonces gives unrelated commitments;
* a nonce is 32 bytes whose top 20 are its sender's address (the contract
  refuses any other, and each nonce once), so nobody can reuse another
  member's commitment;
* a hash chain of length ``L`` commits to ``L`` future values with one head
  ``keccak256^L(secret)``; round ``r`` reveals ``keccak256^(L-r)(secret)``;
* the round's subsets: :func:`draw_subsets`.
"""

from __future__ import annotations

import secrets

from eth_utils import keccak, to_canonical_address

from ledgerlearn.errors import ValidationError

__all__ = [
    "HashChain", "commitment", "digest", "draw_subsets", "make_nonce", "nonce_owner", "round_seed", "subsets_of",
]


def digest(data: bytes) -> bytes:
    """keccak256 of a subset's or a model's bytes."""
    return keccak(bytes(data))


def commitment(data_digest: bytes, nonce: bytes) -> bytes:
    """keccak256(digest || nonce): what a cloud owner publishes."""
    if len(data_digest) != 32 or len(nonce) != 32:
        raise ValidationError("commitment: digest and nonce must be 32 bytes each")
    return keccak(bytes(data_digest) + bytes(nonce))


def make_nonce(sender: str) -> bytes:
    """A fresh nonce bound to ``sender``: its address, then 12 random bytes."""
    return to_canonical_address(sender) + secrets.token_bytes(12)


def nonce_owner(nonce: bytes) -> bytes:
    """The 20-byte address a nonce is bound to."""
    return bytes(nonce[:20])


class HashChain:
    """``length`` values committed by one head; value ``r`` is revealed in round ``r``."""

    def __init__(self, secret: bytes, length: int):
        if len(secret) != 32:
            raise ValidationError("hash chain secret: expected 32 bytes")
        if length < 1:
            raise ValidationError(f"hash chain length: must be positive, got {length}")
        self.secret = bytes(secret)
        self.length = length

    @classmethod
    def fresh(cls, length: int) -> "HashChain":
        return cls(secrets.token_bytes(32), length)

    def _iterate(self, times: int) -> bytes:
        value = self.secret
        for _ in range(times):
            value = keccak(value)
        return value

    @property
    def head(self) -> bytes:
        """keccak256^length(secret), committed on chain before any value is revealed."""
        return self._iterate(self.length)

    def value(self, round_: int) -> bytes:
        """The value revealed in round ``round_`` (1-based): its hash is the previous one."""
        if not 1 <= round_ <= self.length:
            raise ValidationError(f"round: must be 1..{self.length}, got {round_}")
        return self._iterate(self.length - round_)


def round_seed(couple_id: bytes, round_: int, mo_value: bytes, do_value: bytes) -> bytes:
    """keccak256(couple || round || MO value || DO value), as ``draw_round`` computes it."""
    return keccak(bytes(couple_id) + round_.to_bytes(32, "big") + bytes(mo_value) + bytes(do_value))


def draw_subsets(seed: bytes, picks: int, m: int, used: int) -> tuple[int, int]:
    """The subsets a round trains (a bitmask) and the epoch's new used mask.

    ``picks`` subsets without replacement from those not yet used in the
    current epoch; when fewer are left, all of them and then draws from a
    fresh epoch, so every subset trains once per ``ceil(m / picks)`` rounds.
    """
    full = (1 << m) - 1
    pool = full & ~used
    chosen = 0
    new_used = used
    for j in range(picks):
        if pool == 0:
            pool = full & ~chosen
            new_used = 0
        members = [i for i in range(m) if pool >> i & 1]
        k = int.from_bytes(keccak(bytes(seed) + j.to_bytes(32, "big")), "big") % len(members)
        bit = 1 << members[k]
        chosen |= bit
        pool &= ~bit
        new_used |= bit
    if new_used == full:
        new_used = 0
    return chosen, new_used


def subsets_of(mask: int) -> list[int]:
    """The subset indices in a bitmask, ascending."""
    return [i for i in range(mask.bit_length()) if mask >> i & 1]
