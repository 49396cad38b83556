"""Sample and test-piece encoding of the prediction-market bounty contract.

A sample is a header word ``label | n << 8`` followed by ``ceil(n / 8)`` words
of eight 32-bit pairs ``index | value << 16`` (``value`` is int16, unused pairs
zero). A test piece is samples concatenated; it is committed to as a hash chain
``h = keccak(salt ++ L)``, then ``h = keccak(h ++ word)`` for each of its ``L``
words, so the salt keeps small pieces from being guessed from their hash.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from eth_utils import keccak

from ledgerlearn.errors import ValidationError

MAX_SAMPLE_FEATURES = 512
MAX_PIECE_FEATURES = 2048
#: Words of test pieces one call may carry ([salt, L, body] each).
MAX_CALL_WORDS = 1280
VALUE_MIN, VALUE_MAX = -(2**15), 2**15 - 1
_M32 = 2**32 - 1

#: A sample's features: index -> integer value (absent features are 0).
Features = dict[int, int]


def to_features(x: Mapping[int, int] | Sequence[int] | Sequence[tuple[int, int]], *, dense: bool = False) -> Features:
    """Features from a mapping, a list of feature indices (value 1) or, with
    ``dense=True``, a dense vector of integers (its non-zero entries)."""
    if isinstance(x, Mapping):
        items = [(int(i), int(v)) for i, v in x.items()]
    elif dense:
        items = [(i, int(v)) for i, v in enumerate(x) if int(v) != 0]
    else:
        items = [(int(i), 1) for i in x]
    out: Features = {}
    for i, v in items:
        out[i] = out.get(i, 0) + v
    return {i: v for i, v in out.items() if v != 0}


def encode_sample(features: Features, label: int, *, num_features: int | None = None) -> list[int]:
    """The contract's words for one labelled sample (ValidationError on bad input)."""
    if label not in (0, 1):
        raise ValidationError(f"label: must be 0 or 1, got {label!r}")
    pairs = sorted(features.items())
    if len(pairs) > MAX_SAMPLE_FEATURES:
        raise ValidationError(f"sample: {len(pairs)} features, at most {MAX_SAMPLE_FEATURES}")
    words = [label | (len(pairs) << 8)]
    for k in range(0, len(pairs), 8):
        w = 0
        for j, (i, v) in enumerate(pairs[k : k + 8]):
            if not 0 <= i < 2**16 or (num_features is not None and i >= num_features):
                raise ValidationError(f"sample: feature index {i} out of range (model has {num_features} features)")
            if not VALUE_MIN <= v <= VALUE_MAX:
                raise ValidationError(f"sample: value {v} of feature {i} does not fit int16")
            w |= (i | ((v & 0xFFFF) << 16)) << (32 * j)
        words.append(w)
    return words


def decode_samples(words: Sequence[int]) -> list[tuple[Features, int]]:
    """Inverse of :func:`encode_sample` over a concatenation of samples."""
    out: list[tuple[Features, int]] = []
    k = 0
    while k < len(words):
        header = int(words[k])
        label, n = header & 255, (header >> 8) & 0xFFFF
        k += 1
        feats: Features = {}
        for m in range(n):
            pair = (int(words[k + m // 8]) >> (32 * (m % 8))) & _M32
            v = pair >> 16
            feats[pair & 0xFFFF] = feats.get(pair & 0xFFFF, 0) + (v - 2**16 if v >= 2**15 else v)
        k += (n + 7) // 8
        out.append((feats, label))
    return out


def piece_hash(salt: int, body: Sequence[int]) -> bytes:
    """The commitment of a piece: the contract's hash chain over salt, length and body."""
    h = keccak(int(salt).to_bytes(32, "big") + len(body).to_bytes(32, "big"))
    for w in body:
        h = keccak(h + int(w).to_bytes(32, "big"))
    return h


@dataclass
class TestPiece:
    """One committed piece of the hidden test set."""

    __test__ = False  # not a pytest class

    salt: int
    body: list[int]

    @property
    def hash(self) -> bytes:
        return piece_hash(self.salt, self.body)

    @property
    def words(self) -> list[int]:
        """What the contract takes: ``[salt, L, body...]``."""
        return [self.salt, len(self.body), *self.body]

    @property
    def samples(self) -> list[tuple[Features, int]]:
        return decode_samples(self.body)


@dataclass
class TestSetCommitment:
    """The provider's secret: the test set split into salted pieces."""

    __test__ = False  # not a pytest class

    pieces: list[TestPiece]

    @classmethod
    def split(cls, samples: Sequence[tuple[Features, int]], num_pieces: int, *, num_features: int | None = None) -> "TestSetCommitment":
        """Split samples into ``num_pieces`` consecutive pieces (sizes differ by at most 1), each with a fresh salt."""
        if num_pieces < 2:
            raise ValidationError(f"num_pieces: need at least 2, got {num_pieces}")
        if len(samples) < num_pieces:
            raise ValidationError(f"test set: {len(samples)} samples cannot fill {num_pieces} pieces")
        pieces = []
        for i in range(num_pieces):
            part = samples[i * len(samples) // num_pieces : (i + 1) * len(samples) // num_pieces]
            body = [w for f, y in part for w in encode_sample(f, y, num_features=num_features)]
            feats = sum(len(f) for f, _ in part)
            if feats > MAX_PIECE_FEATURES or len(body) + 2 > MAX_CALL_WORDS:
                raise ValidationError(
                    f"test set: piece {i} has {feats} features in {len(body)} words "
                    f"(limits {MAX_PIECE_FEATURES} and {MAX_CALL_WORDS - 2}); use more pieces"
                )
            pieces.append(TestPiece(secrets.randbits(256), body))
        return cls(pieces)

    @classmethod
    def split_to_fit(cls, samples: Sequence[tuple[Features, int]], min_pieces: int, *, num_features: int | None = None) -> "TestSetCommitment":
        """:meth:`split` into the fewest pieces (at least ``min_pieces``) that each fit the contract's bounds."""
        for n in range(max(2, min_pieces), len(samples) + 1):
            try:
                return cls.split(samples, n, num_features=num_features)
            except ValidationError as exc:
                if "use more pieces" not in str(exc):
                    raise
        raise ValidationError("test set: a single sample exceeds the piece bounds")

    @property
    def hashes(self) -> list[bytes]:
        return [p.hash for p in self.pieces]

    def to_json(self) -> dict:
        return {"pieces": [{"salt": hex(p.salt), "body": [hex(w) for w in p.body]} for p in self.pieces]}

    @classmethod
    def from_json(cls, d: dict) -> "TestSetCommitment":
        try:
            return cls([TestPiece(int(p["salt"], 16), [int(w, 16) for w in p["body"]]) for p in d["pieces"]])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(f"commitment file: not a test-set commitment ({exc})") from exc


def pack_pieces(pieces: Iterable[TestPiece], limit: int = MAX_CALL_WORDS) -> list[int]:
    """Concatenate pieces' words while they fit in ``limit`` words (at least one)."""
    out: list[int] = []
    for p in pieces:
        w = p.words
        if out and len(out) + len(w) > limit:
            break
        out.extend(w)
    return out
