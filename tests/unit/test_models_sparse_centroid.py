"""Sparse nearest centroid: lazy rescaling (sums), exact moving average, sparse distances, bounds."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from ledgerlearn.chain.local import LocalChain
from ledgerlearn.errors import TransactionReverted, ValidationError
from ledgerlearn.models import SCALE, SparseCentroid
from ledgerlearn.models.harness import deploy_harness
from ledgerlearn.models.sparse_centroid import MAX_TOKENS, SUM_MAX


@pytest.fixture(scope="module")
def chain():
    return LocalChain()


def exact_centroids(X, y, C, F):
    out = []
    for c in range(C):
        docs = [x for x, l in zip(X, y) if l == c]
        out.append([Fraction(sum(i in d for d in docs), len(docs)) if docs else Fraction(0) for i in range(F)])
    return out


def test_update_is_the_exact_moving_average(chain):
    rng = random.Random(1)
    F, C = 30, 3
    m = SparseCentroid(["a", "b", "c"], num_features=F)
    c = deploy_harness(chain, m).contract
    a = chain.accounts[0]
    X, y = [], []
    for _ in range(12):
        x = sorted(rng.sample(range(F), rng.randint(0, 8)))
        label = rng.randrange(C)
        c.transact("update", x, label, sender=a)
        m.update(x, label)
        X.append(x)
        y.append(label)
    back = SparseCentroid.from_contract(c)
    assert back == m
    for k, cent in enumerate(exact_centroids(X, y, C, F)):
        n = m.data_counts_[k]
        for i in range(F):
            assert Fraction(m.sums_[k].get(i, 0), SCALE) == cent[i] * n  # V = c * n exactly, no rounding


def test_distance_and_ties(chain):
    # centroids from a file: A = {0: 1, 1: 1} (n=2), B = {2: 0.5} (n=4), C empty
    m = SparseCentroid.from_centroids(["A", "B", "C"], [{0: SCALE, 1: SCALE}, {2: SCALE // 2}, {}], [2, 4, 0])
    c = deploy_harness(chain, m).contract
    # |A - x|^2 for x = {0}: 0 + 1 = 1; B: 1 + 0.25 = 1.25; C (origin): 1
    assert m.distances([0]) == [SCALE**2, SCALE**2 + SCALE**2 // 4, SCALE**2]
    assert c.call("predict", [0]) == 0 == m.predict([0])  # A and C tie: lower index
    assert c.call("predict", [2]) == 1  # B: 0.25; A: 3; C: 1
    assert c.call("predict", []) == 2  # the origin is nearest to the empty input
    assert c.call("predict", [0, 1]) == 0
    for x in ([5], [0, 2], [1, 2, 3], list(range(10))):
        assert c.call("predict", x) == m.predict(x)


def test_checks_and_overflow(chain):
    m = SparseCentroid(["a", "b"], [{3: SUM_MAX - SCALE + 1}, {}], [5, 0], num_features=10)
    c = deploy_harness(chain, m).contract
    a = chain.accounts[0]
    for x, reason in (([2, 1], "strictly increasing"), ([4, 4], "strictly increasing"), ([10], "out of range")):
        with pytest.raises(TransactionReverted, match=reason):
            c.call("predict", x)
        with pytest.raises(TransactionReverted, match=reason):
            c.transact("update", x, 0, sender=a)
        with pytest.raises(ValidationError, match=reason):
            m.predict(x)
    with pytest.raises(TransactionReverted, match="model: unknown class label"):
        c.transact("update", [1], 2, sender=a)
    with pytest.raises(TransactionReverted, match="model: centroid overflow"):
        c.transact("update", [1, 3], 0, sender=a)
    with pytest.raises(ValidationError, match="model: centroid overflow"):
        m.copy().update([1, 3], 0)
    c.transact("update", [1, 3], 1, sender=a)  # the other class's lane of the same word is fine
    m.update([1, 3], 1)
    assert SparseCentroid.from_contract(c) == m
    with pytest.raises(TransactionReverted):
        c.call("predict", list(range(MAX_TOKENS + 1)))
    with pytest.raises(ValidationError, match="dataCount"):
        SparseCentroid(["a"], [{1: SCALE}], [0])


def test_hashed_indices(chain):
    idx = [7, 2**31, 2**32 - 1]
    m = SparseCentroid(["a", "b"], [{i: SCALE for i in idx}, {7: 3 * SCALE}], [1, 3])
    c = deploy_harness(chain, m).contract
    keys = sorted({(i * 2 + k) // 5 for i in idx for k in range(2)})
    assert SparseCentroid.from_contract(c, keys=keys) == m
    for x in ([7], [2**31], [7, 2**31, 2**32 - 1], [8]):
        assert c.call("predict", x) == m.predict(x)


def test_gas_20_token_sample(chain):
    S20 = [1, 2, 3, 14, 15, 26, 37, 48, 59, 110, 111, 112, 213, 314, 515, 616, 717, 818, 919, 920]
    rng = random.Random(2)
    X = [sorted(rng.sample(range(1000), 120)) for _ in range(200)]
    m = SparseCentroid(["neg", "pos"], num_features=1000).fit(X, [rng.randrange(2) for _ in X])
    d = deploy_harness(chain, m)
    assert d.deploy_gas < 11_000_000  # reference: 58.1M in all
    c, a = d.contract, chain.accounts[0]
    assert chain.send(c.tx("predict", S20, sender=a)).gas_used < 95_000
    snap = chain.snapshot()
    assert c.transact("update", S20, 0, sender=a).gas_used < 140_000
    chain.revert(snap)
