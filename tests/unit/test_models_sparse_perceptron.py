"""Sparse perceptron: contract module vs mirror, update rule, input checks, bounds, gas."""

from __future__ import annotations

import random

import pytest

from ledgerlearn.chain.local import LocalChain
from ledgerlearn.errors import TransactionReverted, ValidationError
from ledgerlearn.models import SCALE, SparsePerceptron
from ledgerlearn.models.harness import deploy_harness, harness_artifact
from ledgerlearn.chain.contract import deploy
from ledgerlearn.models.sparse_perceptron import MAX_TOKENS, WEIGHT_MAX, WEIGHT_MIN

S20 = [1, 2, 3, 14, 15, 26, 37, 48, 59, 110, 111, 112, 213, 314, 515, 616, 717, 818, 919, 920]


@pytest.fixture(scope="module")
def chain():
    return LocalChain()


def small_model(**kw) -> SparsePerceptron:
    args = dict(classes=["Negative", "Positive"], num_features=12, weights=[3, -2, 5, 0, 0, 7, -9, 1, 0, 4, -4, 2], intercept=-1, learning_rate=SCALE // 2)
    args.update(kw)
    return SparsePerceptron(**args)


def test_predict_matches_the_score_rule(chain):
    m = small_model(weights=[SCALE, -2 * SCALE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3])
    c = deploy_harness(chain, m).contract
    assert c.call("predict", [0]) == 1  # -1e-9 + 1 > 0
    assert c.call("predict", [0, 1]) == 0
    assert c.call("predict", []) == 0  # intercept -1 (fixed point)
    assert c.call("predict", [11]) == 1  # 3 - 1 = 2 > 0
    assert c.call("predict", [10]) == 0  # exactly 0 - 1 < 0
    for x in ([0], [0, 1], [], [11], [10], [0, 11]):
        assert c.call("predict", x) == m.predict(x)


def test_update_is_mistake_driven(chain):
    m = small_model()
    c = deploy_harness(chain, m).contract
    a = chain.accounts[0]
    x = [0, 2, 5, 9]  # score = -1 + 3 + 5 + 7 + 4 > 0: predicts 1
    assert c.call("predict", x) == 1
    c.transact("update", x, 1, sender=a)  # correct: nothing changes
    assert SparsePerceptron.from_contract(c) == m
    c.transact("update", x, 0, sender=a)  # mistake: each present weight -= lr
    m2 = small_model()
    for i in x:
        m2.weights_[i] = m2.weight(i) - SCALE // 2
    m.update(x, 0)
    assert m == m2
    back = SparsePerceptron.from_contract(c)
    assert back == m
    assert back.intercept_ == -1  # the intercept does not move
    # label 1 on a mistake adds lr
    x = [1, 6]
    assert c.call("predict", x) == 0
    c.transact("update", x, 1, sender=a)
    m.update(x, 1)
    assert SparsePerceptron.from_contract(c) == m
    assert m.weight(1) == -2 + SCALE // 2 and m.weight(6) == -9 + SCALE // 2


@pytest.mark.parametrize(
    "x, reason",
    [
        ([3, 2], "model: indices must be strictly increasing"),
        ([2, 2], "model: indices must be strictly increasing"),
        ([0, 12], "model: feature index out of range"),
        ([2**40], "model: feature index out of range"),
    ],
)
def test_malformed_inputs_revert_with_reasons(chain, x, reason):
    m = small_model()
    c = deploy_harness(chain, m).contract
    with pytest.raises(TransactionReverted, match=reason):
        c.call("predict", x)
    with pytest.raises(TransactionReverted, match=reason):
        c.transact("update", x, 1, sender=chain.accounts[0])
    with pytest.raises(ValidationError, match=reason):
        m.predict(x)


def test_unknown_label_and_oversized_input(chain):
    m = small_model()
    c = deploy_harness(chain, m).contract
    with pytest.raises(TransactionReverted, match="model: unknown class label"):
        c.transact("update", [1], 2, sender=chain.accounts[0])
    with pytest.raises(ValidationError, match="model: unknown class label"):
        m.update([1], 2)
    big = list(range(MAX_TOKENS + 1))
    with pytest.raises(TransactionReverted):  # the ABI decoder refuses it
        c.call("predict", big)
    with pytest.raises(ValidationError, match="at most"):
        m.predict(big)
    # the largest input within bounds is fine
    m2 = small_model(num_features=1000, weights={})
    c2 = deploy_harness(chain, m2).contract
    assert c2.call("predict", list(range(MAX_TOKENS))) == m2.predict(list(range(MAX_TOKENS)))


def test_weight_bound(chain):
    """Weights are int48: reaching the bound is fine, passing it reverts and changes nothing."""
    a = chain.accounts[0]
    lr = 5
    # [0, 1]: score = (MAX - lr) + (MIN + 2) = -lr + 1 < 0 -> predicts 0; label 1 adds lr: w[0] hits MAX exactly
    m = small_model(weights={0: WEIGHT_MAX - lr, 1: WEIGHT_MIN + 2}, learning_rate=lr, intercept=0)
    c = deploy_harness(chain, m).contract
    assert c.call("predict", [0, 1]) == 0
    c.transact("update", [0, 1], 1, sender=a)
    m.update([0, 1], 1)
    assert m.weight(0) == WEIGHT_MAX
    assert SparsePerceptron.from_contract(c) == m
    # one more unit would overflow
    m = small_model(weights={0: WEIGHT_MAX - lr + 1, 1: WEIGHT_MIN + 2}, learning_rate=lr, intercept=-(2**60))
    c = deploy_harness(chain, m).contract
    with pytest.raises(TransactionReverted, match="model: weight overflow"):
        c.transact("update", [0, 1], 1, sender=a)
    with pytest.raises(ValidationError, match="model: weight overflow"):
        m.copy().update([0, 1], 1)
    assert SparsePerceptron.from_contract(c) == m  # a reverted update changes nothing
    # and downwards: a positive intercept makes [1] a mistake for label 0
    m = small_model(weights={1: WEIGHT_MIN + lr - 1}, learning_rate=lr, intercept=2**60)
    c = deploy_harness(chain, m).contract
    assert c.call("predict", [1]) == 1
    with pytest.raises(TransactionReverted, match="model: weight overflow"):
        c.transact("update", [1], 0, sender=a)
    m = small_model(weights={1: WEIGHT_MIN + lr}, learning_rate=lr, intercept=2**60)
    c = deploy_harness(chain, m).contract
    c.transact("update", [1], 0, sender=a)
    m.update([1], 0)
    assert m.weight(1) == WEIGHT_MIN and SparsePerceptron.from_contract(c) == m


def test_mirror_rejects_out_of_bound_weights():
    with pytest.raises(ValidationError, match="weights"):
        small_model(weights={0: WEIGHT_MAX + 1})
    with pytest.raises(ValidationError, match="learningRate"):
        small_model(learning_rate=-1)


def test_hashed_indices_up_to_2_32(chain):
    idx = [5, 123_456_789, 4_000_000_000, 2**32 - 1]
    m = SparsePerceptron(["a", "b"], 2**32, {i: (k + 1) * SCALE for k, i in enumerate(idx)}, intercept=-10 * SCALE)
    c = deploy_harness(chain, m).contract
    keys = sorted({i // 5 for i in idx})
    assert SparsePerceptron.from_contract(c, keys=keys) == m
    for x in ([5], [5, 2**32 - 1], [4_000_000_000, 2**32 - 1], [7, 123_456_789, 4_000_000_000]):
        assert c.call("predict", x) == m.predict(x)
    with pytest.raises(TransactionReverted, match="out of range"):
        c.call("predict", [2**32])
    c.transact("update", [5, 4_000_000_000], 0, sender=chain.accounts[0])  # 1 + 3 - 10 < 0: correct, no change
    c.transact("update", [123_456_789, 2**32 - 1], 0, sender=chain.accounts[0])  # 2 + 4 - 10 < 0: no change
    c.transact("update", [1, 123_456_789], 1, sender=chain.accounts[0])  # mistake
    m.update([1, 123_456_789], 1)
    assert SparsePerceptron.from_contract(c, keys=sorted({*keys, 0})) == m


def test_constructor_and_loader_guards(chain):
    art = harness_artifact("sparse_perceptron")
    a, b = chain.accounts[0], chain.accounts[1]
    with pytest.raises(TransactionReverted, match="model: a perceptron has 2 classes"):
        deploy(chain, art.abi, art.bytecode, ["a", "b", "c"], 10, 0, SCALE, sender=a)
    with pytest.raises(TransactionReverted, match="model: intercept out of range"):
        deploy(chain, art.abi, art.bytecode, ["a", "b"], 10, 2**127, SCALE, sender=a)
    with pytest.raises(TransactionReverted, match="model: learning rate out of range"):
        deploy(chain, art.abi, art.bytecode, ["a", "b"], 10, 0, -1, sender=a)
    with pytest.raises(TransactionReverted, match="model: bad feature count"):
        deploy(chain, art.abi, art.bytecode, ["a", "b"], 2**32 + 1, 0, 1, sender=a)
    d = deploy_harness(chain, small_model(), finalize=False)
    c = d.contract
    with pytest.raises(TransactionReverted, match="setup: only the owner"):
        c.transact("load_weights", 0, [1], sender=b)
    with pytest.raises(TransactionReverted, match="model: bad weight word"):
        c.transact("load_weights", 0, [2**240], sender=a)
    with pytest.raises(TransactionReverted, match="model: keys and words differ"):
        c.transact("load_weights_at", [1, 2], [1], sender=a)
    c.transact("finalize", sender=a)
    with pytest.raises(TransactionReverted, match="setup: already finalized"):
        c.transact("load_weights", 0, [1], sender=a)
    assert c.call("class_name", 1) == "Positive"
    with pytest.raises(TransactionReverted, match="model: class index out of range"):
        c.call("class_name", 2)
    assert c.call("num_classes") == 2 and c.call("num_features") == 12


def test_setup_calls_chunk_and_skip_zero_words():
    w = {i: 1 for i in range(0, 5000, 3)}
    w.update({10**6: 2, 10**9: 3})
    m = SparsePerceptron(["a", "b"], 2**32, w)
    calls = m.setup_calls()
    assert {fn for fn, _ in calls} == {"load_weights", "load_weights_at"}
    assert all(len(args[-1]) <= 400 for _, args in calls)
    loaded = {}
    for fn, args in calls:
        if fn == "load_weights":
            loaded.update({args[0] + j: wd for j, wd in enumerate(args[1])})
        else:
            loaded.update(dict(zip(args[0], args[1])))
    assert loaded == m.words() and 0 not in loaded.values()


def test_gas_of_the_reference_sample(chain):
    """The IMDB 1000-weight model with the REFERENCE 20-token sample (harness, no incentive)."""
    rng = random.Random(3)
    m = SparsePerceptron(["Negative", "Positive"], 1000, [rng.randint(-3 * SCALE, 3 * SCALE) for _ in range(1000)])
    d = deploy_harness(chain, m)
    c, a = d.contract, chain.accounts[0]
    assert d.deploy_gas < 6_000_000  # reference: 30.26M for model + incentive + entry
    p = m.predict(S20)
    r = chain.send(c.tx("predict", S20, sender=a))
    assert r.gas_used < 72_000
    snap = chain.snapshot()
    assert c.transact("update", S20, p, sender=a).gas_used < 72_000
    chain.revert(snap)
    snap = chain.snapshot()
    r = c.transact("update", S20, 1 - p, sender=a)
    assert r.gas_used < 130_000
    m.update(S20, 1 - p)
    assert SparsePerceptron.from_contract(c) == m
    chain.revert(snap)
