"""Naive Bayes: log-domain scores (no collapse on long inputs), sklearn agreement, update, bounds."""

from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np
import pytest
from sklearn.naive_bayes import MultinomialNB

from ledgerlearn.chain.contract import deploy
from ledgerlearn.chain.local import LocalChain
from ledgerlearn.contracts.compiler import compile_source
from ledgerlearn.errors import TransactionReverted, ValidationError
from ledgerlearn.models import SCALE, NaiveBayes
from ledgerlearn.models.fixedpoint import WAD, ln_wad
from ledgerlearn.models.harness import deploy_harness
from ledgerlearn.models.naive_bayes import COUNT_MAX, MAX_TOKENS


@pytest.fixture(scope="module")
def chain():
    return LocalChain()


def corpus(seed: int, n_docs: int, F: int, C: int, lo: int, hi: int):
    """Documents whose token distribution depends on the class."""
    rng = random.Random(seed)
    profiles = [[rng.random() ** 3 for _ in range(F)] for _ in range(C)]
    X, y = [], []
    for _ in range(n_docs):
        c = rng.randrange(C)
        X.append(rng.choices(range(F), weights=profiles[c], k=rng.randint(lo, hi)))
        y.append(c)
    return X, y


def counts_matrix(X, F):
    M = np.zeros((len(X), F))
    for r, x in enumerate(X):
        for t, k in Counter(x).items():
            M[r, t] = k
    return M


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_agrees_with_sklearn_on_long_inputs(chain, alpha):
    F, C = 40, 3
    X, y = corpus(1, 120, F, C, 20, 200)
    T, _ = corpus(2, 60, F, C, 100, MAX_TOKENS)  # 100+ tokens each
    m = NaiveBayes(["a", "b", "c"], F, smoothing=round(alpha * SCALE)).fit(X, y)
    sk = MultinomialNB(alpha=alpha).fit(counts_matrix(X, F), y)
    jll = sk.predict_joint_log_proba(counts_matrix(T, F)) if hasattr(sk, "predict_joint_log_proba") else sk._joint_log_likelihood(counts_matrix(T, F))
    log_n = math.log(sum(m.class_count_))
    agree = 0
    for x, row in zip(T, jll):
        ours = m.joint_log_scores(x)
        # our scores are sklearn's joint log likelihood + ln(sum of docs), to float precision
        for s, ref in zip(ours, row):
            assert abs(s / WAD - log_n - ref) < 1e-9 * max(1.0, abs(ref))
        top = sorted(row)[-2:]
        if top[1] - top[0] > 1e-9:  # not a near-tie
            assert m.predict(x) == int(np.argmax(row))
            agree += 1
    assert agree >= 55
    # and the contract agrees with the mirror (long inputs, 100..512 tokens)
    if alpha == 1.0:
        c = deploy_harness(chain, m).contract
        for x in T[:6]:
            assert c.call("predict", x) == m.predict(x)


def test_no_collapse_on_long_inputs(chain):
    """The reference multiplied probabilities in integers and always answered 0 after ~12 tokens."""
    m = NaiveBayes(["neg", "pos"], 10, class_count=[50, 50], feature_count=[{0: 100, 1: 10}, {0: 10, 1: 100}])
    c = deploy_harness(chain, m).contract
    for n in (12, 150, MAX_TOKENS):
        assert c.call("predict", [1] * n) == 1 == m.predict([1] * n)
        assert c.call("predict", [0] * n) == 0 == m.predict([0] * n)
        mixed = [1] * (n // 2 + 1) + [0] * (n // 2 - 1)  # one more 1 than 0s: class 1
        tie = [1] * (n // 2) + [0] * (n // 2)
        assert c.call("predict", tie) == m.predict(tie)
        assert c.call("predict", mixed) == 1
    # many different tokens, long and shuffled
    rng = random.Random(5)
    x = [rng.choice([1, 1, 1, 0, 2, 3]) for _ in range(MAX_TOKENS)]
    assert c.call("predict", x) == m.predict(x) == 1


def test_prior_ties_and_empty_classes(chain):
    # equal everything: tie -> lower index
    m = NaiveBayes(["a", "b"], 3, class_count=[1, 1], feature_count=[{0: 1}, {0: 1}])
    c = deploy_harness(chain, m).contract
    assert c.call("predict", [0, 1, 2]) == 0 == m.predict([0, 1, 2])
    # a class without documents is never predicted
    m = NaiveBayes(["a", "b", "c"], 3, class_count=[0, 1, 5], feature_count=[{}, {0: 9}, {1: 1}])
    c = deploy_harness(chain, m).contract
    assert m.joint_log_scores([0])[0] is None
    for x in ([], [0], [0, 0, 0, 0], [1], [2]):
        assert c.call("predict", x) == m.predict(x) != 0
    # no documents at all: class 0, and malformed inputs are still refused
    m = NaiveBayes(["a", "b"], 3)
    c = deploy_harness(chain, m).contract
    assert c.call("predict", [0, 1]) == 0
    with pytest.raises(TransactionReverted, match="model: feature index out of range"):
        c.call("predict", [3])


def test_update_adds_counts(chain):
    m = NaiveBayes(["a", "b", "c"], 20, class_count=[1, 2, 3], feature_count=[{1: 2}, {5: 1, 19: 4}, {}])
    c = deploy_harness(chain, m).contract
    a = chain.accounts[0]
    for x, label in (([5, 5, 19, 0], 1), ([19, 3, 2, 19, 19], 2), ([], 0), ([7] * 40, 0)):
        c.transact("update", x, label, sender=a)
        m.update(x, label)
        back = NaiveBayes.from_contract(c)
        assert back == m
    assert m.class_count_ == [3, 3, 4]
    assert m.feature_count_[1] == {5: 3, 19: 5, 0: 1}
    assert m.total_count_ == [42, 9, 5]
    assert [c.call("class_stats", k) for k in range(3)] == [(3, 42), (3, 9), (4, 5)]


def test_bad_inputs_and_count_overflow(chain):
    m = NaiveBayes(["a", "b", "c"], 20, class_count=[1, 1, 1], feature_count=[{4: COUNT_MAX}, {}, {}])
    c = deploy_harness(chain, m).contract
    a = chain.accounts[0]
    with pytest.raises(TransactionReverted, match="model: feature index out of range"):
        c.call("predict", [1, 20])
    with pytest.raises(ValidationError, match="model: feature index out of range"):
        m.predict([1, 20])
    with pytest.raises(TransactionReverted, match="model: unknown class label"):
        c.transact("update", [1], 3, sender=a)
    with pytest.raises(TransactionReverted, match="model: count overflow"):
        c.transact("update", [1, 4], 0, sender=a)
    with pytest.raises(ValidationError, match="model: count overflow"):
        m.copy().update([1, 4], 0)
    c.transact("update", [4], 1, sender=a)  # the neighbour lane of another class is fine
    m.update([4], 1)
    assert NaiveBayes.from_contract(c) == m
    with pytest.raises(TransactionReverted):  # ABI bound: more than MAX_TOKENS
        c.call("predict", [0] * (MAX_TOKENS + 1))


def test_init_checks(chain):
    from ledgerlearn.models.harness import harness_artifact

    art = harness_artifact("naive_bayes")
    a = chain.accounts[0]
    with pytest.raises(TransactionReverted, match="model: smoothing out of range"):
        deploy(chain, art.abi, art.bytecode, ["a", "b"], 10, 0, [1, 1], [0, 0], sender=a)
    with pytest.raises(TransactionReverted, match="model: one count and one total per class"):
        deploy(chain, art.abi, art.bytecode, ["a", "b"], 10, SCALE, [1], [0, 0], sender=a)
    with pytest.raises(ValidationError, match="smoothingFactor"):
        NaiveBayes(["a"], 3, smoothing=0)


def test_fixed_point_ln_on_chain_equals_mirror(chain):
    src = """# pragma version ~=0.4.3
from lib import fixed_math
@external
@pure
def ln(x: uint256, e: uint256) -> int256:
    return fixed_math._ln(x, e)
"""
    art = compile_source(src, "ln_probe")
    c, _ = deploy(chain, art.abi, art.bytecode, sender=chain.accounts[0])
    rng = random.Random(9)
    xs = [1, 2, 3, 7, 10**9, 2**96, 2**97 - 1, 2**127, 2**255, 2**256 - 1] + [rng.randrange(1, 2 ** rng.randrange(1, 256)) for _ in range(25)]
    for x in xs:
        e = rng.choice([0, 64, 6400])
        got = c.call("ln", x, e)
        assert got == ln_wad(x, e)
        assert abs(got / WAD - (math.log(x) + e * math.log(2))) <= 1e-15 * max(1, math.log(x) + e)
    with pytest.raises(TransactionReverted, match="math: ln of zero"):
        c.call("ln", 0, 0)


def test_gas_20_token_sample(chain):
    S20 = [1, 2, 3, 14, 15, 26, 37, 48, 59, 110, 111, 112, 213, 314, 515, 616, 717, 818, 919, 920]
    X, y = corpus(4, 300, 1000, 2, 50, 200)
    m = NaiveBayes(["neg", "pos"], 1000).fit(X, y)
    d = deploy_harness(chain, m)
    assert d.deploy_gas < 8_000_000  # reference: 56.8M in all
    c, a = d.contract, chain.accounts[0]
    assert chain.send(c.tx("predict", S20, sender=a)).gas_used < 95_000
    snap = chain.snapshot()
    assert c.transact("update", S20, 1, sender=a).gas_used < 127_000
    chain.revert(snap)
