"""Dense perceptron: update rule with truncating division, norm checks, bounds, gas."""

from __future__ import annotations

import numpy as np
import pytest

from ledgerlearn.chain.local import LocalChain
from ledgerlearn.errors import TransactionReverted, ValidationError
from ledgerlearn.models import SCALE, DensePerceptron, normalize
from ledgerlearn.models.dense_perceptron import MAX_DIM, WEIGHT_MAX
from ledgerlearn.models.fixedpoint import tdiv
from ledgerlearn.models.harness import deploy_harness


@pytest.fixture(scope="module")
def chain():
    return LocalChain()


def test_predict_is_the_exact_score(chain):
    m = DensePerceptron(["no", "yes"], [2 * SCALE, -SCALE, 0], intercept=SCALE // 10)
    c = deploy_harness(chain, m).contract
    rng = np.random.default_rng(0)
    for _ in range(10):
        x = normalize(rng.normal(size=3))
        assert c.call("predict", x) == m.predict(x)
    # score exactly 0 -> class 0: intercept 0.1, w . x = -0.1
    m0 = DensePerceptron(["no", "yes"], [-SCALE // 10, 0], intercept=SCALE // 10)
    c0 = deploy_harness(chain, m0).contract
    assert m0.decision_function([SCALE, 0]) == 0
    assert c0.call("predict", [SCALE, 0]) == 0 == m0.predict([SCALE, 0])


def test_update_truncates_toward_zero(chain):
    lr = 333_333_333  # 0.333... so lr * x / 1e9 is not an integer
    m = DensePerceptron(["no", "yes"], [0, 0, 0, 0, 0, 0, 0], intercept=-1, learning_rate=lr)
    c = deploy_harness(chain, m).contract
    a = chain.accounts[0]
    x = normalize([0.3, -0.4, 0.5, -0.1, 0.2, -0.6, 0.25])
    assert c.call("predict", x) == 0
    c.transact("update", x, 1, sender=a)  # mistake: w += trunc(lr * x / 1e9)
    expected = [tdiv(lr * v, SCALE) for v in x]
    assert DensePerceptron.from_contract(c).coef_ == expected
    assert any(lr * v % SCALE for v in x) and any(v < 0 for v in x)  # the case is not trivial
    m.update(x, 1)
    assert m.coef_ == expected
    # now it predicts 1; label 0 is a mistake: w -= trunc(lr * x / 1e9) back to zero exactly
    assert c.call("predict", x) == 1
    c.transact("update", x, 0, sender=a)
    m.update(x, 0)
    assert DensePerceptron.from_contract(c) == m and m.coef_ == [0] * 7
    c.transact("update", x, 0, sender=a)  # correct now: no change
    assert DensePerceptron.from_contract(c) == m


@pytest.mark.parametrize(
    "v, ok",
    [
        (SCALE, True),
        (SCALE + 49, True),  # (1e9 + 49)^2 = 1e18 + 9.8e10 + 2401
        (SCALE + 50, False),  # 1e18 + 1e11 + 2500: just outside
        (SCALE - 50, True),  # 1e18 - 1e11 + 2500
        (SCALE - 51, False),
        (-SCALE, True),
        (0, False),
    ],
)
def test_norm_tolerance_is_relative_1e7(chain, v, ok):
    m = DensePerceptron(["no", "yes"], [SCALE])
    c = deploy_harness(chain, m).contract
    if ok:
        assert c.call("predict", [v]) == m.predict([v])
    else:
        with pytest.raises(TransactionReverted, match="model: input norm is not 1"):
            c.call("predict", [v])
        with pytest.raises(TransactionReverted, match="model: input norm is not 1"):
            c.transact("update", [v], 0, sender=chain.accounts[0])
        with pytest.raises(ValidationError, match="model: input norm is not 1"):
            m.predict([v])


def test_malformed_inputs(chain):
    m = DensePerceptron(["no", "yes"], [1, 2, 3, 4, 5, 6])
    c = deploy_harness(chain, m).contract
    a = chain.accounts[0]
    good = normalize([1, 2, 3, 4, 5, 6])
    cases = [
        (good[:5], "model: wrong input dimension"),
        (good + [0], "model: wrong input dimension"),
        ([2**62] + good[1:], "model: input value out of range"),
        ([-(2**62) - 1] + good[1:], "model: input value out of range"),
        ([-(2**255)] + good[1:], "model: input value out of range"),
        # huge values whose squares would wrap around: caught by the range check
        ([2**128, 2**128] + good[2:], "model: input value out of range"),
    ]
    for x, reason in cases:
        with pytest.raises(TransactionReverted, match=reason):
            c.call("predict", x)
        with pytest.raises(TransactionReverted, match=reason):
            c.transact("update", x, 1, sender=a)
        with pytest.raises(ValidationError, match=reason):
            m.predict(x)
    with pytest.raises(TransactionReverted, match="model: unknown class label"):
        c.transact("update", good, 2, sender=a)
    # the extreme allowed value is accepted by the range check (then fails the norm)
    with pytest.raises(TransactionReverted, match="model: input norm is not 1"):
        c.call("predict", [-(2**62)] + good[1:])


def test_weight_overflow(chain):
    lr = SCALE
    m = DensePerceptron(["no", "yes"], [WEIGHT_MAX - lr // 2, 0], intercept=-(2**100), learning_rate=lr)
    c = deploy_harness(chain, m).contract
    with pytest.raises(TransactionReverted, match="model: weight overflow"):
        c.transact("update", [SCALE, 0], 1, sender=chain.accounts[0])
    with pytest.raises(ValidationError, match="model: weight overflow"):
        m.copy().update([SCALE, 0], 1)
    assert DensePerceptron.from_contract(c) == m


def test_dimensions_and_tail_words(chain):
    """Dimensions that are and are not multiples of the five lanes per word."""
    rng = np.random.default_rng(1)
    a = chain.accounts[0]
    for d in (1, 4, 5, 6, 11, MAX_DIM):
        m = DensePerceptron(["no", "yes"], [int(v) for v in rng.integers(-3 * SCALE, 3 * SCALE, size=d)], learning_rate=SCALE // 3)
        c = deploy_harness(chain, m).contract
        for _ in range(3):
            x = normalize(rng.normal(size=d))
            assert c.call("predict", x) == m.predict(x)
            label = 1 - m.predict(x)
            c.transact("update", x, label, sender=a)
            m.update(x, label)
        assert DensePerceptron.from_contract(c) == m


def test_loader_bounds(chain):
    m = DensePerceptron(["no", "yes"], [1, 2, 3])
    d = deploy_harness(chain, m, finalize=False)
    a = chain.accounts[0]
    with pytest.raises(TransactionReverted, match="model: weight words out of range"):
        d.contract.transact("load_weights", 157, [1], sender=a)
    with pytest.raises(TransactionReverted, match="model: bad weight word"):
        d.contract.transact("load_weights", 0, [2**255], sender=a)
    with pytest.raises(ValidationError, match="featureIndices"):
        DensePerceptron(["no", "yes"], [1, 2, 3], feature_indices=[4, 5])


def test_gas_400_dims(chain):
    rng = np.random.default_rng(2)
    m = DensePerceptron(["no", "yes"], [int(v) for v in rng.integers(-2 * SCALE, 2 * SCALE, size=400)])
    d = deploy_harness(chain, m)
    assert d.deploy_gas < 3_500_000
    c, a = d.contract, chain.accounts[0]
    x = normalize(rng.normal(size=400))
    p = m.predict(x)
    assert chain.send(c.tx("predict", x, sender=a)).gas_used < 450_000
    snap = chain.snapshot()
    assert c.transact("update", x, 1 - p, sender=a).gas_used < 760_000
    chain.revert(snap)
