"""Client-side cryptography of the data market's on-chain secure aggregation.

Implements the "Masks" and "Shares" sections of ``docs/data-market.md``; the
contract adds the masked words and, for members that dropped out, expands the
revealed pair seeds with the same PRG (:func:`packing.prg_lanes`).

Keys
    Every data owner has a long-lived X25519 **encryption key** (registered
    once) and posts a **fresh X25519 mask key every round**. The mask key must
    never be reused: when a member drops out, the other members reveal its
    Shamir shares on chain in plain text, so anyone can rebuild that round's
    mask secret key and every pair seed it makes. With a fresh key per round
    that exposes only the masks of a round in which the dropped member sent
    nothing; a reused key would also expose the masks of every other round
    it was used in, unmasking the member's real updates there.

Masks
    ``seed_uv = HKDF-SHA256(X25519(mask_sk_u, mask_pk_v), info=...)`` (32
    bytes, never truncated); the mask stream is keccak256 in counter mode keyed
    by the seed, so a masked vector is exactly as hard to open as the seed is
    to guess. ``y_u = q_u + sum_v sign(u, v) * PRG(seed_uv) mod 2**24``: every
    pair's masks cancel in the group sum. A member's masked lanes are uniform
    modulo ``2**24`` and independent of its update to anyone who lacks one of
    its honest peers' mask keys.

Shares
    ``mask_sk`` is split with pycryptodome's Shamir (GF(2^128)) as two 16-byte
    halves with the same indices (the receivers' 1-based group slots), and
    each 32-byte share is encrypted with ChaCha20-Poly1305 under a key bound to
    chain, task, round, sender and receiver (so a zero nonce is safe: each key
    encrypts one message, as long as a member posts keys once per round).

X25519 follows RFC 7748 without the optional all-zero check: a peer that posts
a low-order public key gets the all-zero shared secret instead of an error.
Refusing would let one member stop a whole group from posting or submitting;
the pair's mask is then public, which only gives away what that (malicious)
peer could see anyway, and the masks with the other members still hide the
update.

Never reveal a share of a member that submitted (:func:`share_to_reveal`
enforces it from the chain's facts): with its mask key anybody could remove its
masks towards every submitter and read its update.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from Crypto.Protocol.SecretSharing import Shamir
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from eth_utils import keccak

from ledgerlearn.errors import ValidationError
from ledgerlearn.jsonfile import read_json
from ledgerlearn.markets.data.packing import Q_BITS, Q_MASK, Q_MOD, prg_lanes

#: HKDF info prefix of a pair seed.
MASK_LABEL = b"ledgerlearn/data-market/mask"
#: HKDF info prefix of a share-encryption key.
SHARE_LABEL = b"ledgerlearn/data-market/share"
KEY_BYTES = 32
SEED_BYTES = 32
SHARE_BYTES = 32
#: One encrypted share: 32 bytes of ciphertext and a 16-byte Poly1305 tag.
CIPHERTEXT_BYTES = SHARE_BYTES + 16
ZERO_SEED = bytes(SEED_BYTES)
_NONCE = bytes(12)
_KEYFILE_VERSION = 1


# --------------------------------------------------------------------------- addresses


def _addr_bytes(address: str, what: str = "address") -> bytes:
    """A ``0x`` address (any case) -> its 20 bytes."""
    if not isinstance(address, str):
        raise ValidationError(f"{what}: expected a 0x-prefixed hex string, got {type(address).__name__}")
    body = address[2:] if address[:2] in ("0x", "0X") else address
    try:
        raw = bytes.fromhex(body)
    except ValueError:
        raise ValidationError(f"{what}: {address!r} is not hex") from None
    if len(raw) != 20:
        raise ValidationError(f"{what}: {address!r} is not 20 bytes")
    return raw


def _norm(address: str, what: str = "address") -> str:
    """Canonical lower-case form, used as the key of every address map."""
    return "0x" + _addr_bytes(address, what).hex()


def _norm_map(mapping: Mapping[str, object], what: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for address, value in mapping.items():
        key = _norm(address, what)
        if key in out:
            raise ValidationError(f"{what}: {address!r} appears twice")
        out[key] = value
    return out


def _bytes(value: bytes, n: int, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray)) or len(value) != n:
        got = len(value) if isinstance(value, (bytes, bytearray)) else type(value).__name__
        raise ValidationError(f"{what}: expected {n} bytes, got {got}")
    return bytes(value)


def mask_sign(me: str, peer: str) -> int:
    """``+1`` if ``me < peer`` (addresses as integers, i.e. uint160) else ``-1``."""
    a, b = int.from_bytes(_addr_bytes(me, "me"), "big"), int.from_bytes(_addr_bytes(peer, "peer"), "big")
    if a == b:
        raise ValidationError(f"mask_sign: {me!r} is paired with itself")
    return 1 if a < b else -1


# --------------------------------------------------------------------------- context and keys


@dataclass(frozen=True)
class RoundContext:
    """Binds keys and seeds to one round of one task on one chain."""

    chain_id: int
    task: str
    round: int

    def __post_init__(self) -> None:
        for name in ("chain_id", "round"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 1 << 256:
                raise ValidationError(f"RoundContext.{name}: expected an integer in [0, 2**256), got {v!r}")
        object.__setattr__(self, "task", _norm(self.task, "RoundContext.task"))

    def info(self, label: bytes, a: str, b: str) -> bytes:
        """``label || chain_id(32, BE) || task(20) || round(32, BE) || a(20) || b(20)``."""
        return (
            bytes(label)
            + self.chain_id.to_bytes(32, "big")
            + _addr_bytes(self.task, "task")
            + self.round.to_bytes(32, "big")
            + _addr_bytes(a)
            + _addr_bytes(b)
        )


class KeyPair:
    """An X25519 key pair with raw 32-byte encodings. Its repr hides the private key."""

    __slots__ = ("_sk", "private", "public")

    def __init__(self, sk: X25519PrivateKey):
        self._sk = sk
        self.private: bytes = sk.private_bytes_raw()
        self.public: bytes = sk.public_key().public_bytes_raw()

    @classmethod
    def generate(cls) -> KeyPair:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_private(cls, sk: bytes) -> KeyPair:
        return cls(X25519PrivateKey.from_private_bytes(_bytes(sk, KEY_BYTES, "private key")))

    def exchange(self, peer_public: bytes) -> bytes:
        """X25519 (RFC 7748): the 32-byte shared secret; all zeros for a low-order peer key."""
        pk = X25519PublicKey.from_public_bytes(_bytes(peer_public, KEY_BYTES, "peer public key"))
        try:
            return self._sk.exchange(pk)
        except ValueError:
            # OpenSSL refuses the all-zero result of a low-order point; see the module docstring.
            return bytes(32)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeyPair) and secrets.compare_digest(self.private, other.private)

    def __hash__(self) -> int:
        return hash(self.public)

    def __repr__(self) -> str:
        return f"KeyPair(public={self.public.hex()})"


def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


# --------------------------------------------------------------------------- masks


def pair_seed(mask_key: KeyPair, peer_mask_pk: bytes, ctx: RoundContext, me: str, peer: str) -> bytes:
    """The 32-byte seed ``me`` and ``peer`` share this round (the same from both sides)."""
    a, b = _addr_bytes(me, "me"), _addr_bytes(peer, "peer")
    if a == b:
        raise ValidationError(f"pair_seed: {me!r} is paired with itself")
    lo, hi = (me, peer) if a < b else (peer, me)
    return _hkdf(mask_key.exchange(peer_mask_pk), ctx.info(MASK_LABEL, lo, hi))


def seed_commitment(seed: bytes) -> bytes:
    """``keccak256(seed)``, what a submitter posts for each pair and the contract checks in recover."""
    return keccak(_bytes(seed, SEED_BYTES, "seed"))


def _peers(me: str, mask_key: KeyPair, roster: Mapping[str, bytes]) -> dict[str, bytes]:
    """Roster without ``me`` (canonical addresses); ``me``'s own entry must be its key."""
    peers = _norm_map(roster, "roster")
    mine = peers.pop(_norm(me, "me"), None)
    if mine is not None and bytes(mine) != mask_key.public:
        raise ValidationError("roster: my entry is not my mask public key (stale or wrong round key?)")
    return {a: _bytes(pk, KEY_BYTES, f"roster[{a}]") for a, pk in peers.items()}


def masked_lanes(
    q: np.ndarray,
    me: str,
    mask_key: KeyPair,
    roster: Mapping[str, bytes],
    ctx: RoundContext,
    *,
    q_clip: int | None = None,
) -> np.ndarray:
    """``y = q + sum_v sign(me, v) * PRG(seed_v)  mod 2**24`` over the roster (int64 lanes in ``[0, 2**24)``).

    ``q`` is the quantised update (integers); ``roster`` maps every member that
    posted keys this round to its mask public key and may include ``me``.
    """
    q = np.asarray(q)
    if q.ndim != 1 or not np.issubdtype(q.dtype, np.integer):
        raise ValidationError(f"q: expected a 1-D integer array, got {q.dtype} with shape {q.shape}")
    q = q.astype(np.int64)
    limit = (1 << (Q_BITS - 1)) - 1 if q_clip is None else int(q_clip)
    if q.size and int(np.abs(q).max()) > limit:
        raise ValidationError(f"q: |q| must be at most {limit}, got {int(np.abs(q).max())}")
    y = q & Q_MASK
    for peer, pk in _peers(me, mask_key, roster).items():
        mask = prg_lanes(pair_seed(mask_key, pk, ctx, me, peer), q.size)
        y = y + mask if mask_sign(me, peer) > 0 else y - mask
    return y & Q_MASK


def _slot_table(slots: Mapping[str, int], group_size: int) -> dict[int, str]:
    """slot -> canonical address; slots must be distinct and in ``1..group_size``."""
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise ValidationError(f"group_size: expected a positive integer, got {group_size!r}")
    table: dict[int, str] = {}
    for address, slot in _norm_map(slots, "slots").items():
        if isinstance(slot, bool) or not isinstance(slot, int) or not 1 <= slot <= group_size:
            raise ValidationError(f"slots[{address}]: expected a slot in 1..{group_size}, got {slot!r}")
        if slot in table:
            raise ValidationError(f"slots: slot {slot} is given to {table[slot]} and {address}")
        table[slot] = address
    return table


def seed_commitments(
    me: str,
    mask_key: KeyPair,
    roster: Mapping[str, bytes],
    slots: Mapping[str, int],
    group_size: int,
    ctx: RoundContext,
) -> list[bytes]:
    """``keccak256(seed)`` for each roster peer, indexed by slot - 1; zero bytes for me and non-roster slots."""
    peers = _peers(me, mask_key, roster)
    table = _slot_table(slots, group_size)
    missing = sorted(set(peers) - set(table.values()))
    if missing:
        raise ValidationError(f"slots: roster members without a slot: {missing}")
    out = [ZERO_SEED] * group_size
    for slot, address in table.items():
        if address in peers:
            out[slot - 1] = seed_commitment(pair_seed(mask_key, peers[address], ctx, me, address))
    return out


# --------------------------------------------------------------------------- Shamir shares


def _check_threshold(threshold: int, n: int, what: str) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 2:
        # t = 1 would hand every member the whole mask key.
        raise ValidationError(f"threshold: expected an integer >= 2, got {threshold!r}")
    if threshold > n:
        raise ValidationError(f"threshold: {threshold} is more than the {n} {what}")


def split_mask_key(mask_key: KeyPair, slots: Iterable[int], threshold: int) -> dict[int, bytes]:
    """Shamir shares of the 32-byte mask secret key: slot -> 32 bytes (first half's share, then second half's)."""
    slots = list(slots)
    if len(set(slots)) != len(slots) or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in slots):
        raise ValidationError(f"slots: expected distinct positive integers, got {slots}")
    # The dealer counts towards the group: with t = group size (e.g. groups of
    # two) the others can never rebuild the key, and a group that loses a
    # member is invalid anyway (fewer than t submitted), as the contract says.
    _check_threshold(threshold, len(slots) + 1, "members of the group")
    n = max(max(slots), threshold)
    halves = [dict(Shamir.split(threshold, n, mask_key.private[i : i + 16])) for i in (0, 16)]
    return {s: halves[0][s] + halves[1][s] for s in slots}


def combine_mask_key(shares: Mapping[int, bytes], expected_public: bytes, threshold: int) -> KeyPair:
    """Rebuild a mask key from ``threshold`` or more shares (slot -> 32 bytes).

    Tries subsets of ``threshold`` shares (in slot order) until the rebuilt key's
    public key is ``expected_public``, so bad shares among enough good ones are
    skipped. Raises ValidationError if no subset matches.
    """
    expected_public = _bytes(expected_public, KEY_BYTES, "expected public key")
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise ValidationError(f"threshold: expected a positive integer, got {threshold!r}")
    good = sorted(
        (int(s), bytes(v))
        for s, v in shares.items()
        if isinstance(s, int) and not isinstance(s, bool) and s >= 1
        and isinstance(v, (bytes, bytearray)) and len(v) == SHARE_BYTES
    )
    if len(good) < threshold:
        raise ValidationError(
            f"combine_mask_key: {len(good)} well-formed shares, {threshold} needed to rebuild the mask key"
        )
    for subset in itertools.combinations(good, threshold):
        sk = b"".join(Shamir.combine([(s, v[i : i + 16]) for s, v in subset]) for i in (0, 16))
        key = KeyPair.from_private(sk)
        if secrets.compare_digest(key.public, expected_public):
            return key
    raise ValidationError(
        f"combine_mask_key: no {threshold} of the {len(good)} shares (slots {[s for s, _ in good]}) "
        "rebuild the posted mask key; too many shares are wrong"
    )


# --------------------------------------------------------------------------- share encryption


def _share_cipher(
    enc_key: KeyPair, peer_enc_pk: bytes, ctx: RoundContext, sender: str, receiver: str
) -> ChaCha20Poly1305:
    if _addr_bytes(sender, "sender") == _addr_bytes(receiver, "receiver"):
        raise ValidationError("share: sender and receiver are the same address")
    key = _hkdf(enc_key.exchange(peer_enc_pk), ctx.info(SHARE_LABEL, sender, receiver))
    return ChaCha20Poly1305(key)


def encrypt_share(
    enc_key: KeyPair, peer_enc_pk: bytes, ctx: RoundContext, sender: str, receiver: str, share: bytes
) -> bytes:
    """Encrypt ``sender``'s 32-byte share for ``receiver`` (``enc_key`` is the sender's): 48 bytes."""
    share = _bytes(share, SHARE_BYTES, "share")
    return _share_cipher(enc_key, peer_enc_pk, ctx, sender, receiver).encrypt(_NONCE, share, None)


def decrypt_share(
    enc_key: KeyPair, peer_enc_pk: bytes, ctx: RoundContext, sender: str, receiver: str, ciphertext: bytes
) -> bytes:
    """Decrypt a share ``sender`` encrypted for ``receiver`` (``enc_key`` is the receiver's)."""
    ciphertext = _bytes(ciphertext, CIPHERTEXT_BYTES, "encrypted share")
    try:
        return _share_cipher(enc_key, peer_enc_pk, ctx, sender, receiver).decrypt(_NONCE, ciphertext, None)
    except InvalidTag:
        raise ValidationError(
            f"encrypted share from {sender} to {receiver} in round {ctx.round} does not authenticate "
            "(wrong key, round, task or sender, or the blob was altered)"
        ) from None


def shares_blob(
    enc_key: KeyPair,
    me: str,
    mask_key: KeyPair,
    members: Mapping[str, int],
    enc_pks: Mapping[str, bytes],
    threshold: int,
    ctx: RoundContext,
) -> bytes:
    """The ``shares`` argument of ``post_keys``: 48 bytes per group slot, zeros at my slot.

    ``members`` maps every group member (``me`` included) to its 1-based slot;
    the slots must be exactly ``1..len(members)``. Each other member's share is
    encrypted to its ``enc_pks`` entry. Post it once per round: re-posting a
    fresh split would reuse the encryption keys and nonce.
    """
    table = _slot_table(members, len(members))
    me_n = _norm(me, "me")
    if me_n not in table.values():
        raise ValidationError("members: I am not a member of the group")
    pks = _norm_map(enc_pks, "enc_pks")
    others = {slot: a for slot, a in table.items() if a != me_n}
    missing = sorted(a for a in others.values() if a not in pks)
    if missing:
        raise ValidationError(f"enc_pks: no encryption key for {missing}")
    shares = split_mask_key(mask_key, sorted(others), threshold)
    entries = [bytes(CIPHERTEXT_BYTES)] * len(table)
    for slot, address in others.items():
        entries[slot - 1] = encrypt_share(enc_key, pks[address], ctx, me_n, address, shares[slot])
    return b"".join(entries)


def share_from_blob(blob: bytes, my_slot: int) -> bytes:
    """The 48-byte entry of ``my_slot`` (1-based) in a ``post_keys`` shares blob."""
    if not isinstance(blob, (bytes, bytearray)) or not blob or len(blob) % CIPHERTEXT_BYTES:
        raise ValidationError(f"shares blob: expected a non-empty multiple of {CIPHERTEXT_BYTES} bytes")
    size = len(blob) // CIPHERTEXT_BYTES
    if isinstance(my_slot, bool) or not isinstance(my_slot, int) or not 1 <= my_slot <= size:
        raise ValidationError(f"slot: expected 1..{size}, got {my_slot!r}")
    return bytes(blob[CIPHERTEXT_BYTES * (my_slot - 1) : CIPHERTEXT_BYTES * my_slot])


# --------------------------------------------------------------------------- dropout recovery


@dataclass(frozen=True)
class DropFacts:
    """What the chain says, this round, about a member whose share is asked for.

    ``same_group``: it is in my group. ``keyed``: it posted keys (is in the
    roster). ``submitted``: it submitted masked words. ``submit_closed``: the
    round's submit phase is over, so it can no longer submit.
    """

    dropped: str
    same_group: bool
    keyed: bool
    submitted: bool
    submit_closed: bool


def check_reveal(facts: DropFacts) -> None:
    """Raise ValidationError unless revealing my share of ``facts.dropped`` is safe.

    A share may be revealed only for a roster member of my group that did not
    submit, after the submit phase (a reverted transaction's calldata is public
    too, so never send one early).
    """
    who = facts.dropped
    if facts.submitted:
        raise ValidationError(f"refusing to reveal: {who} submitted this round; its mask key would unmask its update")
    if not facts.submit_closed:
        raise ValidationError(f"refusing to reveal: the submit phase is still open, {who} may still submit")
    if not facts.same_group:
        raise ValidationError(f"refusing to reveal: {who} is not in my group")
    if not facts.keyed:
        raise ValidationError(f"nothing to reveal: {who} posted no keys this round")


def share_to_reveal(
    facts: DropFacts,
    *,
    me: str,
    my_slot: int,
    my_enc_key: KeyPair,
    dropped_enc_pk: bytes,
    blob_from_dropped: bytes,
    ctx: RoundContext,
) -> bytes:
    """The plaintext 32-byte share of ``facts.dropped``'s mask key to pass to ``reveal_share``.

    Checks the chain's facts first (:func:`check_reveal`), then decrypts my
    entry of the dropped member's ``post_keys`` blob.
    """
    check_reveal(facts)
    entry = share_from_blob(blob_from_dropped, my_slot)
    return decrypt_share(my_enc_key, dropped_enc_pk, ctx, facts.dropped, me, entry)


def recovery_seeds(
    dropped_key: KeyPair,
    dropped: str,
    submitters: Mapping[str, bytes],
    slots: Mapping[str, int],
    group_size: int,
    ctx: RoundContext,
) -> list[bytes]:
    """The ``seeds`` of the contract's ``recover``: indexed by slot - 1, the pair seed of
    ``dropped`` with each submitter (``submitters`` maps address -> mask public key),
    zero bytes elsewhere. The contract checks each against the submitter's commitment."""
    subs = {a: _bytes(pk, KEY_BYTES, f"submitters[{a}]") for a, pk in _norm_map(submitters, "submitters").items()}
    d = _norm(dropped, "dropped")
    if d in subs:
        raise ValidationError(f"recovery_seeds: {dropped} is listed as a submitter")
    table = _slot_table(slots, group_size)
    missing = sorted(set(subs) - set(table.values()))
    if missing:
        raise ValidationError(f"slots: submitters without a slot: {missing}")
    out = [ZERO_SEED] * group_size
    for slot, address in table.items():
        if address in subs:
            out[slot - 1] = pair_seed(dropped_key, subs[address], ctx, d, address)
    return out


def unmask_correction(dropped: str, seeds_by_member: Mapping[str, bytes], n_params: int) -> np.ndarray:
    """Lanes (mod ``2**24``) to add to a group sum to cancel ``dropped``'s pair masks.

    Submitter ``v`` added ``sign(v, dropped) * PRG(seed)``, so the correction is
    ``sum_v sign(dropped, v) * PRG(seed_v)``: the contract adds ``PRG`` when
    ``dropped < v`` and ``2**24 - PRG`` (lane-wise, mod ``2**24``) otherwise.
    ``seeds_by_member`` maps each submitter to its seed with ``dropped``; zero
    seeds (non-submitter slots) are skipped.
    """
    total = np.zeros(int(n_params), dtype=np.int64)
    for member, seed in _norm_map(seeds_by_member, "seeds").items():
        seed = _bytes(seed, SEED_BYTES, f"seeds[{member}]")
        if seed == ZERO_SEED:
            continue
        mask = prg_lanes(seed, n_params)
        total += mask if mask_sign(dropped, member) > 0 else (Q_MOD - mask) & Q_MASK
    return total & Q_MASK


# --------------------------------------------------------------------------- key file


@dataclass
class KeyStore:
    """A member's secrets for one task: its long-lived encryption key, its mask
    key of each round, and the shares blob it posted each round (re-post the
    same blob after a restart, never a fresh split)."""

    chain_id: int
    task: str
    enc_key: KeyPair
    mask_keys: dict[int, KeyPair] = field(default_factory=dict)
    blobs: dict[int, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.task = _norm(self.task, "task")

    def mask_key(self, round: int) -> KeyPair:
        """This round's mask key, made fresh the first time it is asked for (save the store before posting it)."""
        if round not in self.mask_keys:
            self.mask_keys[round] = KeyPair.generate()
        return self.mask_keys[round]


def save_keys(path: str | os.PathLike, store: KeyStore) -> None:
    """Write ``store`` as JSON (hex) readable by the owner only (mode 0600), atomically."""
    path = Path(path)
    doc = {
        "version": _KEYFILE_VERSION,
        "chain_id": store.chain_id,
        "task": store.task,
        "enc_sk": store.enc_key.private.hex(),
        "mask_sk": {str(r): k.private.hex() for r, k in sorted(store.mask_keys.items())},
        "blobs": {str(r): b.hex() for r, b in sorted(store.blobs.items())},
    }
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)  # in case the umask or the filesystem widened it
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_keys(path: str | os.PathLike, *, chain_id: int | None = None, task: str | None = None) -> KeyStore:
    """Read a key file written by :func:`save_keys`; if given, ``chain_id`` and ``task`` must match it."""
    what = "key file"
    doc = read_json(path, what)
    if doc.get("version") != _KEYFILE_VERSION:
        raise ValidationError(f"{what}: {str(path)!r} has unknown version {doc.get('version')!r}")
    try:
        store = KeyStore(
            chain_id=int(doc["chain_id"]),
            task=str(doc["task"]),
            enc_key=KeyPair.from_private(bytes.fromhex(doc["enc_sk"])),
            mask_keys={int(r): KeyPair.from_private(bytes.fromhex(h)) for r, h in doc.get("mask_sk", {}).items()},
            blobs={int(r): bytes.fromhex(h) for r, h in doc.get("blobs", {}).items()},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValidationError(f"{what}: {str(path)!r} is malformed ({type(exc).__name__}: {exc})") from None
    if chain_id is not None and store.chain_id != chain_id:
        raise ValidationError(f"{what}: {str(path)!r} is for chain {store.chain_id}, not {chain_id}")
    if task is not None and store.task != _norm(task, "task"):
        raise ValidationError(f"{what}: {str(path)!r} is for task {store.task}, not {task}")
    return store
