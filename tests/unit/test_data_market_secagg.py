"""Client-side secure aggregation of the data market (no chain).

Pair seeds, share encryption and Shamir recovery are checked directly; a group
is then simulated in pure Python, summing packed words as the contract does
(plain integer additions), with and without dropouts; and the statistical
guarantee of the masks (uniform modulo 2**24, independent of the update) is
tested with chi-square, Kolmogorov-Smirnov and correlation tests. All keys come
from seeded random bytes, so every run sees the same numbers.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import stat

import numpy as np
import pytest
from eth_utils import keccak
from scipy import stats

from ledgerlearn.errors import NotFoundError, ValidationError
from ledgerlearn.markets.data import packing
from ledgerlearn.markets.data.secagg import (
    CIPHERTEXT_BYTES,
    MASK_LABEL,
    ZERO_SEED,
    DropFacts,
    KeyPair,
    KeyStore,
    RoundContext,
    check_reveal,
    combine_mask_key,
    decrypt_share,
    encrypt_share,
    load_keys,
    mask_sign,
    masked_lanes,
    pair_seed,
    recovery_seeds,
    seed_commitment,
    seed_commitments,
    share_from_blob,
    share_to_reveal,
    shares_blob,
    split_mask_key,
    unmask_correction,
    save_keys,
)

TASK = "0x" + "ab" * 20
CTX = RoundContext(chain_id=31337, task=TASK, round=3)
Q_CLIP = packing.MAX_Q_CLIP


def keypair(rng: np.random.Generator) -> KeyPair:
    return KeyPair.from_private(rng.bytes(32))


def address(rng: np.random.Generator) -> str:
    return "0x" + rng.bytes(20).hex()


class Group:
    """``n`` members with deterministic keys, slots 1..n in address order."""

    def __init__(self, n: int, seed: int, n_params: int = 300, threshold: int = 3, ctx: RoundContext = CTX):
        rng = np.random.default_rng(seed)
        self.addrs = sorted((address(rng) for _ in range(n)), key=lambda a: int(a, 16))
        self.enc = {a: keypair(rng) for a in self.addrs}
        self.mask = {a: keypair(rng) for a in self.addrs}
        self.slots = {a: i + 1 for i, a in enumerate(self.addrs)}
        self.q = {a: rng.integers(-Q_CLIP, Q_CLIP + 1, n_params) for a in self.addrs}
        self.n, self.n_params, self.t, self.ctx = n, n_params, threshold, ctx

    @property
    def enc_pks(self) -> dict[str, bytes]:
        return {a: k.public for a, k in self.enc.items()}

    def run(self, dropped: set[str]) -> tuple[np.ndarray, np.ndarray]:
        """One round where every member posts keys and ``dropped`` do not submit;
        returns (decoded group sum after recovery, true sum of the submitters)."""
        ctx, n_words = self.ctx, packing.n_words(self.n_params)
        roster = {a: self.mask[a].public for a in self.addrs}
        blobs = {
            a: shares_blob(self.enc[a], a, self.mask[a], self.slots, self.enc_pks, self.t, ctx) for a in self.addrs
        }
        for a, blob in blobs.items():
            assert len(blob) == CIPHERTEXT_BYTES * self.n
            assert share_from_blob(blob, self.slots[a]) == bytes(CIPHERTEXT_BYTES)
        subs = [a for a in self.addrs if a not in dropped]
        acc = [0] * n_words
        commits = {}
        for a in subs:
            y = masked_lanes(self.q[a], a, self.mask[a], roster, ctx, q_clip=Q_CLIP)
            assert y.min() >= 0 and y.max() < packing.Q_MOD
            acc = [s + w for s, w in zip(acc, packing.pack_words(y))]
            commits[a] = seed_commitments(a, self.mask[a], roster, self.slots, self.n, ctx)
        for d in sorted(dropped):
            facts = DropFacts(d, same_group=True, keyed=True, submitted=False, submit_closed=True)
            shares = {
                self.slots[s]: share_to_reveal(
                    facts,
                    me=s,
                    my_slot=self.slots[s],
                    my_enc_key=self.enc[s],
                    dropped_enc_pk=self.enc[d].public,
                    blob_from_dropped=blobs[d],
                    ctx=ctx,
                )
                for s in subs
            }
            key = combine_mask_key(shares, self.mask[d].public, self.t)
            assert key == self.mask[d]
            seeds = recovery_seeds(key, d, {s: self.mask[s].public for s in subs}, self.slots, self.n, ctx)
            for slot, seed in enumerate(seeds, start=1):
                member = self.addrs[slot - 1]
                if member in subs:  # what the contract checks in recover()
                    assert seed_commitment(seed) == commits[member][self.slots[d] - 1]
                else:
                    assert seed == ZERO_SEED
            correction = unmask_correction(d, {self.addrs[i]: s for i, s in enumerate(seeds)}, self.n_params)
            acc = [s + w for s, w in zip(acc, packing.pack_words(correction))]
        assert all(0 <= w < 1 << 256 for w in acc)
        return packing.decode_sum(acc, self.n_params), sum(self.q[a] for a in subs)


# --------------------------------------------------------------------------- seeds


def test_info_layout_and_hkdf_match_the_document():
    a, b = "0x" + "01" * 20, "0x" + "ff" * 20
    info = CTX.info(MASK_LABEL, a, b)
    assert info == (
        MASK_LABEL + (31337).to_bytes(32, "big") + bytes.fromhex("ab" * 20) + (3).to_bytes(32, "big")
        + bytes.fromhex("01" * 20) + bytes.fromhex("ff" * 20)
    )
    rng = np.random.default_rng(1)
    ka, kb = keypair(rng), keypair(rng)
    # RFC 5869 by hand: salt None = 32 zero bytes; one block of output.
    prk = hmac.new(bytes(32), ka.exchange(kb.public), hashlib.sha256).digest()
    expected = hmac.new(prk, info + b"\x01", hashlib.sha256).digest()
    # lo/hi sorted as integers whichever side computes it
    assert pair_seed(ka, kb.public, CTX, b, a) == expected
    assert pair_seed(kb, ka.public, CTX, a, b) == expected


def test_pair_seeds_agree_and_are_bound_to_the_round():
    rng = np.random.default_rng(2)
    ka, kb = keypair(rng), keypair(rng)
    a, b = address(rng), address(rng)
    seed = pair_seed(ka, kb.public, CTX, a, b)
    assert len(seed) == 32 and seed == pair_seed(kb, ka.public, CTX, b, a)
    others = [
        RoundContext(CTX.chain_id, CTX.task, CTX.round + 1),
        RoundContext(CTX.chain_id, "0x" + "ac" * 20, CTX.round),
        RoundContext(1, CTX.task, CTX.round),
    ]
    seeds = {seed} | {pair_seed(ka, kb.public, ctx, a, b) for ctx in others}
    seeds.add(pair_seed(ka, kb.public, CTX, a, address(rng)))
    assert len(seeds) == 5
    assert seed_commitment(seed) == keccak(seed)
    with pytest.raises(ValidationError):
        pair_seed(ka, kb.public, CTX, a, a.upper().replace("0X", "0x"))


def test_mask_sign_compares_addresses_as_integers():
    lo, hi = "0x" + "00" * 19 + "ff", "0x01" + "00" * 19
    assert mask_sign(lo, hi) == 1 and mask_sign(hi, lo) == -1
    assert mask_sign(lo.upper().replace("0X", "0x"), hi) == 1
    with pytest.raises(ValidationError):
        mask_sign(lo, lo)


def test_keypair_hides_its_private_key_and_survives_low_order_peers():
    key = keypair(np.random.default_rng(3))
    assert key.private.hex() not in repr(key)
    assert KeyPair.from_private(key.private) == key
    assert KeyPair.generate() != KeyPair.generate()
    # RFC 7748: a low-order point gives the zero secret; refusing would let one member block a group.
    assert key.exchange(bytes(32)) == bytes(32)
    with pytest.raises(ValidationError):
        KeyPair.from_private(bytes(31))
    with pytest.raises(ValidationError):
        RoundContext(1, "0x1234", 1)


def test_seed_commitments_by_slot():
    g = Group(4, seed=4)
    roster = {a: g.mask[a].public for a in g.addrs[:3]}  # the last member posted no keys
    me = g.addrs[1]
    commits = seed_commitments(me, g.mask[me], roster, g.slots, 5, CTX)
    assert len(commits) == 5
    assert commits[1] == ZERO_SEED and commits[3] == ZERO_SEED and commits[4] == ZERO_SEED
    for peer in g.addrs[0], g.addrs[2]:
        assert commits[g.slots[peer] - 1] == keccak(pair_seed(g.mask[peer], g.mask[me].public, CTX, peer, me))


# --------------------------------------------------------------------------- share encryption


def test_share_encryption_round_trip_and_binding():
    rng = np.random.default_rng(5)
    ka, kb, kc = keypair(rng), keypair(rng), keypair(rng)
    a, b, c = address(rng), address(rng), address(rng)
    share = rng.bytes(32)
    ct = encrypt_share(ka, kb.public, CTX, a, b, share)
    assert len(ct) == 48
    assert decrypt_share(kb, ka.public, CTX, a, b, ct) == share
    bad = [
        lambda: decrypt_share(kc, ka.public, CTX, a, b, ct),  # wrong receiver key
        lambda: decrypt_share(kb, kc.public, CTX, a, b, ct),  # wrong sender key
        lambda: decrypt_share(kb, ka.public, RoundContext(CTX.chain_id, CTX.task, 4), a, b, ct),
        lambda: decrypt_share(kb, ka.public, RoundContext(CTX.chain_id, "0x" + "cd" * 20, 3), a, b, ct),
        lambda: decrypt_share(kb, ka.public, CTX, c, b, ct),  # wrong sender address
        lambda: decrypt_share(kb, ka.public, CTX, b, a, ct),  # direction swapped
        lambda: decrypt_share(kb, ka.public, CTX, a, b, ct[:-1] + bytes([ct[-1] ^ 1])),
        lambda: decrypt_share(kb, ka.public, CTX, a, b, ct[:47]),
    ]
    for call in bad:
        with pytest.raises(ValidationError):
            call()


# --------------------------------------------------------------------------- Shamir


def test_shamir_threshold():
    key = keypair(np.random.default_rng(6))
    shares = split_mask_key(key, [1, 2, 3, 4, 5], 3)
    assert sorted(shares) == [1, 2, 3, 4, 5] and all(len(s) == 32 for s in shares.values())
    for subset in itertools.combinations(shares, 3):
        assert combine_mask_key({s: shares[s] for s in subset}, key.public, 3) == key
    for subset in itertools.combinations(shares, 2):
        part = {s: shares[s] for s in subset}
        with pytest.raises(ValidationError, match="needed"):
            combine_mask_key(part, key.public, 3)
        with pytest.raises(ValidationError, match="rebuild"):  # two shares give a wrong key
            combine_mask_key(part, key.public, 2)
    # Corrupted shares among more than t are skipped, as long as t good ones remain.
    bad = dict(shares)
    bad[2] = bytes(b ^ 0x55 for b in shares[2])
    bad[4] = os.urandom(32)
    assert combine_mask_key(bad, key.public, 3) == key
    bad[5] = shares[1]
    with pytest.raises(ValidationError, match="rebuild"):
        combine_mask_key(bad, key.public, 3)
    with pytest.raises(ValidationError):
        split_mask_key(key, [1, 2, 3], 1)  # t = 1 would give everybody the key
    with pytest.raises(ValidationError):
        split_mask_key(key, [1, 2], 4)  # more than the dealer and its two share holders
    # t = group size (groups of two): allowed, though the others can never rebuild the key.
    assert sorted(split_mask_key(key, [2], 2)) == [2]


# --------------------------------------------------------------------------- a group without a chain


def test_group_sum_without_dropouts_is_exact():
    g = Group(5, seed=7)
    got, want = g.run(set())
    np.testing.assert_array_equal(got, want)


def test_member_without_keys_is_left_out_of_the_masks():
    g = Group(4, seed=8)
    roster = {a: g.mask[a].public for a in g.addrs[:3]}
    acc = sum(masked_lanes(g.q[a], a, g.mask[a], roster, CTX) for a in g.addrs[:3])
    np.testing.assert_array_equal(packing.to_signed(acc & packing.Q_MASK), sum(g.q[a] for a in g.addrs[:3]))


@pytest.mark.parametrize("n_dropped", [1, 2])
def test_dropouts_are_recovered_exactly(n_dropped):
    g = Group(5, seed=10 + n_dropped, threshold=3)
    dropped = set(g.addrs[1 : 1 + n_dropped]) if n_dropped == 1 else {g.addrs[0], g.addrs[3]}
    got, want = g.run(dropped)
    np.testing.assert_array_equal(got, want)
    # without the correction the sum is garbage
    roster = {a: g.mask[a].public for a in g.addrs}
    raw = sum(masked_lanes(g.q[a], a, g.mask[a], roster, CTX) for a in g.addrs if a not in dropped)
    assert not np.array_equal(packing.to_signed(raw & packing.Q_MASK), want)


def test_fewer_than_threshold_survivors_cannot_recover():
    g = Group(5, seed=13, threshold=3)
    with pytest.raises(ValidationError, match="needed"):
        g.run(set(g.addrs[:3]))


def test_shares_blob_requires_every_encryption_key():
    g = Group(3, seed=14, threshold=2)
    me = g.addrs[0]
    pks = {a: pk for a, pk in g.enc_pks.items() if a != g.addrs[2]}
    with pytest.raises(ValidationError, match="no encryption key"):
        shares_blob(g.enc[me], me, g.mask[me], g.slots, pks, 2, CTX)
    with pytest.raises(ValidationError):
        shares_blob(g.enc[me], me, g.mask[me], g.slots, g.enc_pks, 4, CTX)  # more than the group of 3


def test_masked_lanes_checks_its_inputs():
    g = Group(3, seed=15)
    me = g.addrs[0]
    roster = {a: g.mask[a].public for a in g.addrs}
    with pytest.raises(ValidationError, match="at most"):
        masked_lanes(np.full(4, Q_CLIP + 1), me, g.mask[me], roster, CTX, q_clip=Q_CLIP)
    with pytest.raises(ValidationError, match="integer"):
        masked_lanes(np.zeros(4), me, g.mask[me], roster, CTX)
    with pytest.raises(ValidationError, match="my entry"):
        masked_lanes(np.zeros(4, dtype=int), me, g.mask[g.addrs[1]], roster, CTX)
    # a peer posting a low-order key does not stop me (its pair mask is public, the others still hide q)
    masked_lanes(np.zeros(4, dtype=int), me, g.mask[me], {**roster, g.addrs[1]: bytes(32)}, CTX)


# --------------------------------------------------------------------------- reveal guard


def test_share_to_reveal_refuses_to_unmask_a_submitter():
    g = Group(3, seed=16, threshold=2)
    me, dropped = g.addrs[0], g.addrs[1]
    blob = shares_blob(g.enc[dropped], dropped, g.mask[dropped], g.slots, g.enc_pks, 2, CTX)
    kwargs = dict(
        me=me, my_slot=g.slots[me], my_enc_key=g.enc[me], dropped_enc_pk=g.enc[dropped].public,
        blob_from_dropped=blob, ctx=CTX,
    )
    ok = DropFacts(dropped, same_group=True, keyed=True, submitted=False, submit_closed=True)
    share = share_to_reveal(ok, **kwargs)
    assert len(share) == 32
    for facts, match in [
        (DropFacts(dropped, True, True, submitted=True, submit_closed=True), "submitted"),
        (DropFacts(dropped, True, True, submitted=False, submit_closed=False), "still open"),
        (DropFacts(dropped, False, True, submitted=False, submit_closed=True), "not in my group"),
        (DropFacts(dropped, True, False, submitted=False, submit_closed=True), "no keys"),
    ]:
        with pytest.raises(ValidationError, match=match):
            share_to_reveal(facts, **kwargs)
        with pytest.raises(ValidationError, match=match):
            check_reveal(facts)
    with pytest.raises(ValidationError):  # another round's blob does not decrypt
        share_to_reveal(ok, **{**kwargs, "ctx": RoundContext(CTX.chain_id, CTX.task, CTX.round + 1)})


# --------------------------------------------------------------------------- key file


def test_key_file_round_trip(tmp_path):
    rng = np.random.default_rng(17)
    store = KeyStore(chain_id=31337, task=TASK.upper().replace("0X", "0x"), enc_key=keypair(rng))
    store.mask_keys[1] = keypair(rng)
    fresh = store.mask_key(2)
    assert store.mask_key(2) is fresh and fresh != store.mask_keys[1]
    store.blobs[2] = rng.bytes(96)
    path = tmp_path / "keys.json"
    save_keys(path, store)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.enc_key.private.hex() in path.read_text()
    loaded = load_keys(path, chain_id=31337, task=TASK)
    assert loaded == store
    save_keys(path, loaded)  # overwrite keeps the mode and leaves no temporary file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and os.listdir(tmp_path) == ["keys.json"]
    with pytest.raises(ValidationError, match="chain"):
        load_keys(path, chain_id=1)
    with pytest.raises(ValidationError, match="task"):
        load_keys(path, task="0x" + "cd" * 20)
    with pytest.raises(NotFoundError):
        load_keys(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"version": 1, "chain_id": 1, "task": "0x12", "enc_sk": "zz"}')
    with pytest.raises(ValidationError):
        load_keys(tmp_path / "bad.json")


# --------------------------------------------------------------------------- the masks' statistical guarantee


def member_view(seed: int, q: np.ndarray, n_peers: int = 3) -> np.ndarray:
    """Masked lanes of one member (fresh deterministic keys from ``seed``) for update ``q``."""
    rng = np.random.default_rng(seed)
    me, key = address(rng), keypair(rng)
    roster = {me: key.public} | {address(rng): keypair(rng).public for _ in range(n_peers)}
    return masked_lanes(q, me, key, roster, CTX)


N_STAT = 20_000


def test_masked_lanes_are_uniform():
    y = member_view(100, np.zeros(N_STAT, dtype=np.int64))
    counts = np.bincount(y >> (packing.Q_BITS - 6), minlength=64)
    assert stats.chisquare(counts).pvalue > 0.001
    assert stats.kstest(y / packing.Q_MOD, "uniform").pvalue > 0.001


def test_masked_lanes_do_not_depend_on_the_update():
    i = np.arange(N_STAT)
    updates = {
        "zeros": np.zeros(N_STAT, dtype=np.int64),
        "+clip": np.full(N_STAT, Q_CLIP, dtype=np.int64),
        "-clip": np.full(N_STAT, -Q_CLIP, dtype=np.int64),
        "ramp": (i % (2 * Q_CLIP + 1)) - Q_CLIP,
        "sine": np.rint(Q_CLIP * np.sin(i / 50)).astype(np.int64),
    }
    views = {name: member_view(200 + k, q) for k, (name, q) in enumerate(updates.items())}
    for (a, ya), (b, yb) in itertools.combinations(views.items(), 2):
        assert stats.ks_2samp(ya, yb).pvalue > 0.001, (a, b)
    for name, y in views.items():
        counts = np.bincount(y >> (packing.Q_BITS - 6), minlength=64)
        assert stats.chisquare(counts).pvalue > 0.001, name


def test_masked_lanes_are_uncorrelated_with_the_update():
    rng = np.random.default_rng(300)
    qs, ys = [], []
    for k in range(10):  # fresh key sets, as every round has
        q = rng.integers(-Q_CLIP, Q_CLIP + 1, 2_000)
        qs.append(q)
        ys.append(member_view(400 + k, q))
    q, y = np.concatenate(qs), np.concatenate(ys)
    assert abs(stats.pearsonr(q, y).statistic) < 0.05
    assert abs(stats.pearsonr(q, packing.to_signed(y)).statistic) < 0.05


def test_one_honest_peer_is_enough_to_hide_the_update():
    """Colluders who know every mask key but one honest peer's still see uniform noise."""
    rng = np.random.default_rng(500)
    me, key = address(rng), keypair(rng)
    honest = address(rng), keypair(rng)
    colluders = [(address(rng), keypair(rng)) for _ in range(3)]
    roster = {me: key.public, honest[0]: honest[1].public} | {a: k.public for a, k in colluders}
    q = np.full(N_STAT, Q_CLIP, dtype=np.int64)
    y = masked_lanes(q, me, key, roster, CTX)
    for a, k in colluders:  # remove what the colluders can compute
        mask = packing.prg_lanes(pair_seed(k, key.public, CTX, a, me), N_STAT)
        y = y - mask_sign(me, a) * mask
    residual = y & packing.Q_MASK
    counts = np.bincount(residual >> (packing.Q_BITS - 6), minlength=64)
    assert stats.chisquare(counts).pvalue > 0.001
    # and with the honest peer's mask too, the update appears
    mask = packing.prg_lanes(pair_seed(honest[1], key.public, CTX, honest[0], me), N_STAT)
    np.testing.assert_array_equal(packing.to_signed(residual - mask_sign(me, honest[0]) * mask), q)
