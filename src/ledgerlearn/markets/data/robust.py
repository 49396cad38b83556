"""Pure-Python mirror of the data-market contract's ``finalize`` arithmetic.

Given the decoded sums of the valid groups (signed 24-bit lane sums, as
:func:`ledgerlearn.markets.data.packing.decode_sum` returns them) and each
group's number of submitters, this module computes exactly what
``contracts/markets/data_market.vy`` computes on chain (the formulas are in
``docs/data-market.md``, "Robust aggregation"):

* group weight ``c_g = 840 // n_g`` (840 = lcm(1..8)), so ``c_g * S_g`` is the
  group mean scaled by 840, an exact integer;
* squared distance ``D_ab = sum_l (c_a*S_a,l - c_b*S_b,l)**2`` (exact; the
  contract reaches the same integer through a Gram-matrix expansion);
* Multi-Krum with ``f`` byzantine groups: with ``V`` valid groups and
  ``V >= f + 3``, the score of ``a`` is the sum of its ``V - f - 2`` smallest
  distances to the other valid groups, and the ``V - f`` lowest scores are
  kept (ties: lower group index); ``f == 0`` keeps every valid group and
  ``V < f + 3`` keeps none;
* aggregate lane ``trunc(2**8 * sum_kept(c_g * S_g,l) / (840 * K))``
  (truncation toward zero), packed as int32 two's complement lanes.

Everything is Python integers: no float ever decides a selection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from eth_abi import encode
from eth_utils import keccak

from ledgerlearn.errors import ValidationError
from ledgerlearn.markets.data.packing import LANE_BITS, MAX_GROUP, MAX_GROUPS, MEAN_FRAC_BITS, n_words, pack_words

#: lcm(1..MAX_GROUP): ``MEAN_SCALE // n`` is exact for every group size.
MEAN_SCALE = 840


def group_weight(submitters: int) -> int:
    """``c_g = 840 // n_g``: the factor that turns a group sum into its mean times 840."""
    if not 1 <= submitters <= MAX_GROUP:
        raise ValidationError(f"submitters: expected 1..{MAX_GROUP}, got {submitters}")
    return MEAN_SCALE // submitters


def _lanes(sums: np.ndarray) -> list[int]:
    return [int(v) for v in np.asarray(sums, dtype=np.int64).ravel()]


def pairwise_distances(sums: Sequence[np.ndarray], counts: Sequence[int]) -> list[list[int]]:
    """Exact ``D[a][b] = sum_l (c_a*S_a,l - c_b*S_b,l)**2`` between the given groups.

    ``D`` is ``840**2`` times the squared Euclidean distance between the
    group means, so comparisons are those of the real distances.
    """
    if len(sums) != len(counts):
        raise ValidationError("sums, counts: expected one count per group sum")
    scaled = [[group_weight(n) * v for v in _lanes(s)] for s, n in zip(sums, counts)]
    if len({len(s) for s in scaled}) > 1:
        raise ValidationError("sums: every group sum needs the same number of lanes")
    v = len(scaled)
    dist = [[0] * v for _ in range(v)]
    for a in range(v):
        for b in range(a + 1, v):
            d = sum((x - y) * (x - y) for x, y in zip(scaled[a], scaled[b]))
            dist[a][b] = dist[b][a] = d
    return dist


def krum_scores(dist: Sequence[Sequence[int]], f: int) -> list[int]:
    """Multi-Krum score of each group: the sum of its ``V - f - 2`` smallest distances to the others."""
    v = len(dist)
    k = v - f - 2
    if k < 1:
        raise ValidationError(f"f: Multi-Krum needs at least f + 3 = {f + 3} groups, got {v}")
    return [sum(sorted(dist[a][b] for b in range(v) if b != a)[:k]) for a in range(v)]


def multi_krum(dist: Sequence[Sequence[int]], f: int) -> list[int]:
    """Indices (into ``dist``) of the kept groups, ascending.

    ``f == 0`` keeps everything; fewer than ``f + 3`` groups keeps nothing;
    otherwise the ``V - f`` lowest scores, ties broken by the lower index.
    """
    v = len(dist)
    if f == 0:
        return list(range(v))
    if v < f + 3:
        return []
    scores = krum_scores(dist, f)
    order = sorted(range(v), key=lambda a: (scores[a], a))
    return sorted(order[: v - f])


def aggregate_lanes(sums: Sequence[np.ndarray], counts: Sequence[int]) -> np.ndarray:
    """Mean of the given (kept) groups' means with ``MEAN_FRAC_BITS`` fraction bits.

    Lane ``l`` = ``trunc(2**8 * sum_g(c_g * S_g,l) / (840 * K))``, truncated
    toward zero like the EVM's signed division.
    """
    if not sums:
        raise ValidationError("sums: at least one kept group")
    k = len(sums)
    den = MEAN_SCALE * k
    total = np.zeros(len(_lanes(sums[0])), dtype=object)
    for s, n in zip(sums, counts):
        total = total + np.array(_lanes(s), dtype=object) * group_weight(n)
    out = []
    for t in total:
        num = int(t) << MEAN_FRAC_BITS
        q = abs(num) // den
        out.append(-q if num < 0 else q)
    return np.array(out, dtype=np.int64)


def pack_aggregate(lanes: np.ndarray, n_params: int) -> list[int]:
    """Signed aggregate lanes -> int32 two's complement lanes packed 8 per word."""
    v = np.asarray(lanes, dtype=np.int64)
    if v.size != n_params:
        raise ValidationError(f"lanes: expected {n_params}, got {v.size}")
    if v.size and (v.min() < -(1 << (LANE_BITS - 1)) or v.max() >= 1 << (LANE_BITS - 1)):
        raise ValidationError("lanes: values must fit int32")
    return pack_words(v & ((1 << LANE_BITS) - 1))


def aggregate_hash(words: Sequence[int]) -> bytes:
    """What the contract stores as ``aggregate_hash(round)``: ``keccak256(abi.encode(uint256[] words))``."""
    return keccak(encode(["uint256[]"], [list(words)]))


@dataclass(frozen=True)
class RoundOutcome:
    """The contract's decision for one round.

    ``valid``/``kept`` are group bitmasks (bit ``g`` = group ``g``) as in the
    ``RoundFinalized`` event; ``scores`` maps each valid group to its
    Multi-Krum score (empty when Multi-Krum did not run); ``lanes`` is the
    signed aggregate (``MEAN_FRAC_BITS`` fraction bits), ``words`` its packed
    form and ``hash`` its ``aggregate_hash``.
    """

    valid: int
    kept: int
    scores: dict[int, int]
    lanes: np.ndarray
    words: list[int]
    hash: bytes

    @property
    def kept_groups(self) -> list[int]:
        return [g for g in range(MAX_GROUPS) if self.kept >> g & 1]

    @property
    def valid_groups(self) -> list[int]:
        return [g for g in range(MAX_GROUPS) if self.valid >> g & 1]


def finalize_round(sums: Mapping[int, np.ndarray], counts: Mapping[int, int], f: int, n_params: int) -> RoundOutcome:
    """Mirror of ``finalize``'s selection and aggregate.

    Args:
        sums: decoded group sum (``n_params`` signed lanes) of every VALID
            group, keyed by group index (validity: settled and at least
            ``threshold`` submitters, decided by the caller).
        counts: submitters of each valid group.
        f: the task's ``byzantine_groups``.
        n_params: lanes of the public part.
    """
    groups = sorted(sums)
    if set(groups) != set(counts):
        raise ValidationError("sums, counts: expected the same groups")
    if any(not 0 <= g < MAX_GROUPS for g in groups):
        raise ValidationError(f"sums: group indices must be 0..{MAX_GROUPS - 1}")
    arrays = [np.asarray(sums[g], dtype=np.int64) for g in groups]
    ns = [int(counts[g]) for g in groups]
    valid = sum(1 << g for g in groups)
    scores: dict[int, int] = {}
    if f == 0:
        keep = list(range(len(groups)))
    elif len(groups) < f + 3:
        keep = []
    else:
        dist = pairwise_distances(arrays, ns)
        scores = dict(zip(groups, krum_scores(dist, f)))
        keep = multi_krum(dist, f)
    kept = sum(1 << groups[a] for a in keep)
    if keep:
        lanes = aggregate_lanes([arrays[a] for a in keep], [ns[a] for a in keep])
    else:
        lanes = np.zeros(n_params, dtype=np.int64)
    words = pack_aggregate(lanes, n_params)
    if len(words) != n_words(n_params):
        raise ValidationError("n_params: does not match the group sums")
    return RoundOutcome(valid=valid, kept=kept, scores=scores, lanes=lanes, words=words, hash=aggregate_hash(words))
