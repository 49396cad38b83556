"""Dense nearest centroid: moving average with truncation, ties, norm checks, bounds, gas."""

from __future__ import annotations

import numpy as np
import pytest

from ledgerlearn.chain.local import LocalChain
from ledgerlearn.errors import TransactionReverted, ValidationError
from ledgerlearn.models import SCALE, DenseCentroid, normalize
from ledgerlearn.models.dense_centroid import COORD_MAX, MAX_DIM
from ledgerlearn.models.fixedpoint import tdiv
from ledgerlearn.models.harness import deploy_harness


@pytest.fixture(scope="module")
def chain():
    return LocalChain()


def test_moving_average_with_truncation(chain):
    m = DenseCentroid(["A", "B", "C"], [[SCALE, 0, 0], [0, SCALE, 0], [0, 0, -SCALE]], [3, 1, 0])
    c = deploy_harness(chain, m).contract
    a = chain.accounts[0]
    x = normalize([-0.3, 0.7, 0.2])
    c.transact("update", x, 0, sender=a)
    expected = [tdiv(v * 3 + xi, 4) for v, xi in zip([SCALE, 0, 0], x)]
    m.update(x, 0)
    assert m.centroids_[0] == expected and m.data_counts_[0] == 4
    assert any((v * 3 + xi) % 4 for v, xi in zip([SCALE, 0, 0], x)) and any(v < 0 for v in x)
    assert DenseCentroid.from_contract(c) == m
    # n = 0: the centroid becomes x
    c.transact("update", x, 2, sender=a)
    m.update(x, 2)
    assert m.centroids_[2] == x and DenseCentroid.from_contract(c) == m


def test_predict_nearest_with_ties_to_lower_index(chain):
    m = DenseCentroid(["A", "B", "C"], [[0, SCALE], [SCALE, 0], [SCALE, 0]], [1, 1, 1])
    c = deploy_harness(chain, m).contract
    assert c.call("predict", [SCALE, 0]) == 1  # B and C tie: lower index
    assert c.call("predict", [0, SCALE]) == 0
    assert c.call("predict", [0, -SCALE]) == 1  # all three at distance 2 or more: A=4, B=C=2
    m2 = DenseCentroid(["A", "B"], [[SCALE, 0], [-SCALE, 0]], [1, 1])
    c2 = deploy_harness(chain, m2).contract
    assert c2.call("predict", [0, SCALE]) == 0 == m2.predict([0, SCALE])  # exact tie
    rng = np.random.default_rng(3)
    for _ in range(8):
        x = normalize(rng.normal(size=2))
        assert c.call("predict", x) == m.predict(x)


def test_checks(chain):
    m = DenseCentroid(["A", "B"], [[1, 2, 3], [3, 2, 1]], [1, 1])
    c = deploy_harness(chain, m).contract
    a = chain.accounts[0]
    good = normalize([1, 1, 1])
    for x, reason in (
        (good[:2], "model: wrong input dimension"),
        ([2**63] + good[1:], "model: input value out of range"),
        ([SCALE, SCALE, 0], "model: input norm is not 1"),
        ([0, 0, 0], "model: input norm is not 1"),
    ):
        with pytest.raises(TransactionReverted, match=reason):
            c.call("predict", x)
        with pytest.raises(TransactionReverted, match=reason):
            c.transact("update", x, 0, sender=a)
        with pytest.raises(ValidationError, match=reason):
            m.predict(x)
    with pytest.raises(TransactionReverted, match="model: unknown class label"):
        c.transact("update", good, 2, sender=a)
    assert DenseCentroid.from_contract(c) == m  # failed updates changed nothing


def test_coordinate_bound_and_loaders(chain):
    with pytest.raises(ValidationError, match="outside"):
        DenseCentroid(["A"], [[COORD_MAX + 1]], [1])
    # the bound itself loads; updates stay inside (moving average of bounded values)
    m = DenseCentroid(["A", "B"], [[COORD_MAX, -COORD_MAX - 1], [0, 0]], [1, 0])
    c = deploy_harness(chain, m).contract
    c.transact("update", [SCALE, 0], 0, sender=chain.accounts[0])
    m.update([SCALE, 0], 0)
    assert DenseCentroid.from_contract(c) == m
    d = deploy_harness(chain, m, finalize=False)
    a = chain.accounts[0]
    with pytest.raises(TransactionReverted, match="model: class index out of range"):
        d.contract.transact("load_centroid", 2, 0, [1], sender=a)
    with pytest.raises(TransactionReverted, match="model: centroid words out of range"):
        d.contract.transact("load_centroid", 0, 112, [1], sender=a)
    with pytest.raises(TransactionReverted, match="setup: only the owner"):
        d.contract.transact("load_centroid", 0, 0, [1], sender=chain.accounts[1])


def test_dimensions_and_tail_words(chain):
    rng = np.random.default_rng(4)
    a = chain.accounts[0]
    for d in (1, 6, 7, 8, 15, MAX_DIM):
        X = [normalize(rng.normal(size=d)) for _ in range(6)]
        m = DenseCentroid(["A", "B", "C"], num_features=d).fit(X, [0, 1, 2, 0, 1, 2])
        c = deploy_harness(chain, m).contract
        for _ in range(2):
            x = normalize(rng.normal(size=d))
            assert c.call("predict", x) == m.predict(x)
            label = int(rng.integers(3))
            c.transact("update", x, label, sender=a)
            m.update(x, label)
        assert DenseCentroid.from_contract(c) == m


def test_gas_512_dims(chain):
    rng = np.random.default_rng(5)
    X = [normalize(rng.normal(size=512)) for _ in range(10)]
    m = DenseCentroid(["A", "B"], num_features=512).fit(X, [0, 1] * 5)
    d = deploy_harness(chain, m)
    assert d.deploy_gas < 5_500_000  # reference: 14.4M in all
    c, a = d.contract, chain.accounts[0]
    x = normalize(rng.normal(size=512))
    assert chain.send(c.tx("predict", x, sender=a)).gas_used < 700_000
    snap = chain.snapshot()
    assert c.transact("update", x, 0, sender=a).gas_used < 700_000
    chain.revert(snap)
