"""Fixed-point layout shared by the data-market contract and its clients.

Values are integers modulo ``2**Q_BITS`` in 32-bit lanes, eight lanes per
256-bit word (lane ``j`` of word ``w`` is parameter ``8*w + j``). The eight
spare bits of a lane absorb the carries of the contract's plain word additions.
See ``docs/data-market.md``.
"""

from __future__ import annotations

import numpy as np
from eth_utils import keccak

from ledgerlearn.errors import ValidationError

Q_BITS = 24
Q_MOD = 1 << Q_BITS
Q_MASK = Q_MOD - 1
LANE_BITS = 32
LANES = 8
MAX_PARAMS = 4096
MAX_WORDS = MAX_PARAMS // LANES
MAX_DOS = 64
MAX_GROUP = 8
MAX_GROUPS = 16
#: Extra fraction bits of the round aggregate (a mean of group means).
MEAN_FRAC_BITS = 8
#: Largest ``q_clip`` the contract accepts: a full group's sum still decodes.
MAX_Q_CLIP = ((1 << (Q_BITS - 1)) - 1) // MAX_GROUP


def n_words(n_params: int) -> int:
    """Words needed for ``n_params`` lanes."""
    return -(-n_params // LANES)


def quantise(update: np.ndarray, q_scale: int, q_clip: int) -> np.ndarray:
    """Float update -> int64 ``round(u * q_scale)`` clipped to ``[-q_clip, q_clip]``."""
    u = np.asarray(update, dtype=np.float64).ravel()
    if not np.all(np.isfinite(u)):
        raise ValidationError("update: contains NaN or infinity")
    return np.clip(np.rint(u * q_scale), -q_clip, q_clip).astype(np.int64)


def pack_words(lanes: np.ndarray) -> list[int]:
    """Lane values (each ``0 <= v < 2**32``) -> 256-bit words, zero-padded."""
    v = np.asarray(lanes, dtype=np.int64)
    if v.size and (v.min() < 0 or v.max() >= 1 << LANE_BITS):
        raise ValidationError("lanes: values must fit 32 bits")
    padded = np.zeros(n_words(v.size) * LANES, dtype="<u4")
    padded[: v.size] = v
    raw = padded.tobytes()
    return [int.from_bytes(raw[32 * w : 32 * w + 32], "little") for w in range(len(raw) // 32)]


def unpack_words(words: list[int], n_params: int) -> np.ndarray:
    """256-bit words -> the first ``n_params`` 32-bit lanes (int64)."""
    raw = b"".join(int(w).to_bytes(32, "little") for w in words)
    return np.frombuffer(raw, dtype="<u4")[:n_params].astype(np.int64)


def to_signed(values: np.ndarray, bits: int = Q_BITS) -> np.ndarray:
    """Values modulo ``2**bits`` -> signed integers in ``[-2**(bits-1), 2**(bits-1))``."""
    v = np.asarray(values, dtype=np.int64) & ((1 << bits) - 1)
    half = 1 << (bits - 1)
    return (v ^ half) - half


def decode_sum(words: list[int], n_params: int) -> np.ndarray:
    """A group accumulator (lanes with carries) -> signed 24-bit sums."""
    return to_signed(unpack_words(words, n_params) & Q_MASK)


def decode_aggregate(words: list[int], n_params: int) -> np.ndarray:
    """A round aggregate (int32 lanes, ``MEAN_FRAC_BITS`` fraction bits) -> int64."""
    return to_signed(unpack_words(words, n_params), LANE_BITS)


def prg_lanes(seed: bytes, n_params: int) -> np.ndarray:
    """Mask values modulo ``2**Q_BITS`` expanded from a 32-byte seed.

    Word ``w`` of the stream is ``keccak256(seed || uint256(w))`` read as a
    big-endian integer; lane ``j`` is ``(word >> 32*j) & (2**24 - 1)``, exactly
    what the contract computes during recovery.
    """
    if len(seed) != 32:
        raise ValidationError("seed: expected 32 bytes")
    raw = b"".join(keccak(seed + w.to_bytes(32, "big"))[::-1] for w in range(n_words(n_params)))
    return np.frombuffer(raw, dtype="<u4")[:n_params].astype(np.int64) & Q_MASK
