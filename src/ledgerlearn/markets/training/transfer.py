"""Off-chain transfers of the training market: encrypted to their receiver.

* :func:`seal` / :func:`open_sealed`: a sealed box to an X25519 public key
  (an ephemeral key pair, X25519, HKDF-SHA256, ChaCha20-Poly1305); layout
  ``ephemeral public key (32) | ciphertext | tag (16)``. Subsets go to their
  cloud owner, results and pointers to the model owner this way.
* :func:`lock` / :func:`unlock`: ChaCha20-Poly1305 under a couple's
  symmetric key (the model owner hands it to each cloud owner of the couple,
  sealed), for what every cloud owner of a couple reads: the round's model.
* :class:`Pseudonyms`: every on-chain identity of a member is derived from
  one master secret and a label (``co/<dataset>/<index>``), so a member uses
  a fresh, unlinkable address (and X25519 key) per role and record.
* subsets travel as :func:`encode_subset` bytes; their keccak256 is the
  digest committed on chain.
"""

from __future__ import annotations

import json
import secrets
import struct

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledgerlearn.errors import ValidationError
from ledgerlearn.markets.data.secagg import KeyPair

__all__ = [
    "Pseudonyms", "decode_subset", "encode_subset", "lock", "open_sealed", "seal", "unlock",
]

_ZERO_NONCE = bytes(12)  # every sealing key is fresh (ephemeral key), so one nonce is safe
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _box_key(shared: bytes, eph_pk: bytes, recipient_pk: bytes, context: bytes) -> ChaCha20Poly1305:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=eph_pk + recipient_pk,
               info=b"ledgerlearn training seal v1|" + context).derive(shared)
    return ChaCha20Poly1305(key)


def seal(data: bytes, recipient_pk: bytes, context: bytes = b"") -> bytes:
    """Encrypt ``data`` so that only the holder of ``recipient_pk``'s private key reads it."""
    if len(recipient_pk) != 32:
        raise ValidationError("recipient key: expected 32 bytes (X25519)")
    eph = KeyPair.generate()
    box = _box_key(eph.exchange(recipient_pk), eph.public, bytes(recipient_pk), context)
    return eph.public + box.encrypt(_ZERO_NONCE, bytes(data), context)


def open_sealed(sealed: bytes, key: KeyPair, context: bytes = b"") -> bytes:
    """Decrypt a :func:`seal` box with the recipient's key pair; ValidationError if it does not authenticate."""
    if len(sealed) < 48:
        raise ValidationError("sealed box: too short")
    eph_pk = bytes(sealed[:32])
    box = _box_key(key.exchange(eph_pk), eph_pk, key.public, context)
    try:
        return box.decrypt(_ZERO_NONCE, bytes(sealed[32:]), context)
    except InvalidTag:
        raise ValidationError("sealed box: does not authenticate (not for this key, or altered)") from None


def lock(data: bytes, key: bytes, context: bytes) -> bytes:
    """Encrypt under a 32-byte symmetric key: random nonce (12) | ciphertext | tag."""
    nonce = secrets.token_bytes(12)
    return nonce + ChaCha20Poly1305(key).encrypt(nonce, bytes(data), context)


def unlock(blob: bytes, key: bytes, context: bytes) -> bytes:
    try:
        return ChaCha20Poly1305(key).decrypt(bytes(blob[:12]), bytes(blob[12:]), context)
    except (InvalidTag, ValueError):
        raise ValidationError("locked blob: does not authenticate (wrong key or context, or altered)") from None


class Pseudonyms:
    """A member's identities, derived from its master secret: one per label."""

    def __init__(self, master: bytes):
        if len(master) != 32:
            raise ValidationError("master secret: expected 32 bytes")
        self._master = bytes(master)

    @classmethod
    def fresh(cls) -> "Pseudonyms":
        return cls(secrets.token_bytes(32))

    def secret(self, purpose: str, label: str) -> bytes:
        """A 32-byte secret for ``purpose`` and ``label`` (hash-chain seeds, keys)."""
        return keccak(self._master + b"|" + purpose.encode() + b"|" + label.encode())

    def account(self, label: str) -> LocalAccount:
        """The Ethereum account (pseudonym) for ``label``."""
        k = int.from_bytes(self.secret("account", label), "big") % (_SECP256K1_N - 1) + 1
        return Account.from_key(k.to_bytes(32, "big"))

    def enc_key(self, label: str) -> KeyPair:
        """The X25519 key pair that transfers to ``label``'s pseudonym are sealed to."""
        return KeyPair.from_private(self.secret("x25519", label))


_SUBSET_MAGIC = b"LLDS"


def encode_subset(x: np.ndarray, y: np.ndarray) -> bytes:
    """A subset as bytes: magic | uint32 header length | JSON header | uint8 pixels | uint8 labels."""
    x = np.ascontiguousarray(x)
    y = np.ascontiguousarray(y)
    if x.dtype != np.uint8 or y.dtype != np.uint8 or x.shape[0] != y.shape[0]:
        raise ValidationError("subset: expected uint8 samples and labels of equal length")
    header = json.dumps({"n": int(x.shape[0]), "shape": list(x.shape[1:]), "version": 1},
                        sort_keys=True, separators=(",", ":")).encode()
    return _SUBSET_MAGIC + struct.pack(">I", len(header)) + header + x.tobytes() + y.tobytes()


def decode_subset(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    if data[:4] != _SUBSET_MAGIC:
        raise ValidationError("subset: not a subset blob")
    (hlen,) = struct.unpack(">I", data[4:8])
    header = json.loads(data[8 : 8 + hlen])
    n, shape = header["n"], tuple(header["shape"])
    per = int(np.prod(shape)) if shape else 1
    body = data[8 + hlen :]
    if len(body) != n * per + n:
        raise ValidationError("subset: body length does not match its header")
    x = np.frombuffer(body[: n * per], dtype=np.uint8).reshape((n, *shape))
    y = np.frombuffer(body[n * per :], dtype=np.uint8)
    return x, y
