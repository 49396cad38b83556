"""Property: every model contract equals its Python mirror, bit for bit.

For random models and random sequences of inputs (well-formed and not), the
contract's ``predict`` equals the mirror's, ``update`` leaves the same state
(read back from the contract), and a malformed input or label reverts with
the reason the mirror raises. One embedded chain (pyrevm: state-exact), one
snapshot per example.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledgerlearn.chain.fast import FastLocalChain
from ledgerlearn.errors import TransactionReverted, ValidationError
from ledgerlearn.models import SCALE, DenseCentroid, DensePerceptron, NaiveBayes, SparseCentroid, SparsePerceptron, normalize
from ledgerlearn.models import dense_centroid as dc_mod
from ledgerlearn.models import dense_perceptron as dp_mod
from ledgerlearn.models import naive_bayes as nb_mod
from ledgerlearn.models import sparse_centroid as sc_mod
from ledgerlearn.models import sparse_perceptron as sp_mod
from ledgerlearn.models.harness import deploy_harness

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_CHAIN = None


def chain():
    global _CHAIN
    if _CHAIN is None:
        _CHAIN = FastLocalChain()
    return _CHAIN


def names(n):
    return [f"class {i}" for i in range(n)]


def check_sequence(model, ops, read_back):
    """Deploy ``model``, then for each (x, label): compare predict, apply update, compare reverts."""
    ch = chain()
    snap = ch.snapshot()
    try:
        c = deploy_harness(ch, model).contract
        sender = ch.accounts[0]
        for x, label in ops:
            try:
                expected = model.predict(x)
            except ValidationError as exc:
                with pytest.raises(TransactionReverted) as info:
                    c.call("predict", x)
                assert info.value.reason == str(exc) or "at most" in str(exc)
                expected = None
            if expected is not None:
                assert c.call("predict", x) == expected
            before = model.copy()
            try:
                model.update(x, label)
                error = None
            except ValidationError as exc:
                error = str(exc)
                model = before
            if error is None:
                c.transact("update", x, label, sender=sender)
            else:
                with pytest.raises(TransactionReverted) as info:
                    c.transact("update", x, label, sender=sender)
                assert info.value.reason == error or "at most" in error
        assert read_back(c) == model
    finally:
        ch.revert(snap)


# -- strategies -------------------------------------------------------------------

def sparse_inputs(nf, max_len, *, malformed=True):
    good = st.lists(st.integers(0, nf - 1), max_size=max_len, unique=True).map(sorted)
    if not malformed:
        return good
    bad = st.lists(st.integers(0, nf + 2), max_size=8)  # maybe unsorted, repeated, out of range
    return st.one_of(good, good, good, bad)


weights48 = st.one_of(st.integers(-5 * SCALE, 5 * SCALE), st.integers(sp_mod.WEIGHT_MIN, sp_mod.WEIGHT_MAX), st.just(0))


@st.composite
def sparse_perceptron_case(draw):
    nf = draw(st.integers(1, 40))
    w = draw(st.dictionaries(st.integers(0, nf - 1), weights48, max_size=nf))
    m = SparsePerceptron(names(2), nf, w, draw(st.integers(-10 * SCALE, 10 * SCALE)), draw(st.integers(0, 3 * SCALE)))
    ops = draw(st.lists(st.tuples(sparse_inputs(nf, 12), st.integers(0, 2)), min_size=1, max_size=6))
    return m, ops


@given(sparse_perceptron_case())
@SETTINGS
def test_sparse_perceptron_mirror(case):
    m, ops = case
    check_sequence(m, ops, SparsePerceptron.from_contract)


@st.composite
def unit_vector(draw, d):
    v = draw(st.lists(st.floats(-1, 1, allow_nan=False, allow_infinity=False), min_size=d, max_size=d))
    if np.linalg.norm(v) < 1e-3:
        v = [1.0] + [0.0] * (d - 1)
    return normalize(v)


@st.composite
def dense_input(draw, d):
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.lists(st.integers(-2 * SCALE, 2 * SCALE), min_size=d, max_size=d))  # norm almost never 1
    if kind == 1:
        return draw(unit_vector(d)) + [0]  # wrong dimension
    return draw(unit_vector(d))


@st.composite
def dense_perceptron_case(draw):
    d = draw(st.integers(1, 12))
    w = draw(st.lists(st.one_of(st.integers(-3 * SCALE, 3 * SCALE), st.integers(dp_mod.WEIGHT_MIN, dp_mod.WEIGHT_MAX)), min_size=d, max_size=d))
    m = DensePerceptron(names(2), w, draw(st.integers(-SCALE, SCALE)), draw(st.integers(0, 3 * SCALE)))
    ops = draw(st.lists(st.tuples(dense_input(d), st.integers(0, 2)), min_size=1, max_size=5))
    return m, ops


@given(dense_perceptron_case())
@SETTINGS
def test_dense_perceptron_mirror(case):
    m, ops = case
    check_sequence(m, ops, DensePerceptron.from_contract)


@st.composite
def naive_bayes_case(draw):
    nf = draw(st.integers(1, 30))
    C = draw(st.integers(1, 4))
    counts = st.one_of(st.integers(0, 50), st.just(nb_mod.COUNT_MAX), st.integers(0, nb_mod.COUNT_MAX))
    fc = [draw(st.dictionaries(st.integers(0, nf - 1), counts, max_size=nf)) for _ in range(C)]
    cc = draw(st.lists(st.one_of(st.integers(0, 20), st.integers(0, 2**40)), min_size=C, max_size=C))
    a = draw(st.one_of(st.just(SCALE), st.integers(1, 3 * SCALE)))
    m = NaiveBayes(names(C), nf, a, cc, fc)
    tokens = st.one_of(st.lists(st.integers(0, nf - 1), max_size=120), st.lists(st.integers(0, nf + 1), max_size=6))
    ops = draw(st.lists(st.tuples(tokens, st.integers(0, C)), min_size=1, max_size=5))
    return m, ops


@given(naive_bayes_case())
@SETTINGS
def test_naive_bayes_mirror(case):
    m, ops = case
    check_sequence(m, ops, NaiveBayes.from_contract)


@st.composite
def dense_centroid_case(draw):
    d = draw(st.integers(1, 16))
    C = draw(st.integers(1, 4))
    coord = st.one_of(st.integers(-SCALE, SCALE), st.integers(dc_mod.COORD_MIN, dc_mod.COORD_MAX))
    cents = [draw(st.lists(coord, min_size=d, max_size=d)) for _ in range(C)]
    counts = draw(st.lists(st.one_of(st.integers(0, 10), st.integers(0, 2**63)), min_size=C, max_size=C))
    m = DenseCentroid(names(C), cents, counts)
    ops = draw(st.lists(st.tuples(dense_input(d), st.integers(0, C)), min_size=1, max_size=5))
    return m, ops


@given(dense_centroid_case())
@SETTINGS
def test_dense_centroid_mirror(case):
    m, ops = case
    check_sequence(m, ops, DenseCentroid.from_contract)


@st.composite
def sparse_centroid_case(draw):
    nf = draw(st.integers(1, 30))
    C = draw(st.integers(1, 4))
    counts = draw(st.lists(st.one_of(st.integers(0, 10), st.integers(1, 2**40)), min_size=C, max_size=C))
    sums = []
    for n in counts:
        if n == 0:
            sums.append({})
        else:
            lim = min(n * SCALE, sc_mod.SUM_MAX)
            v = st.one_of(st.integers(-lim, lim), st.integers(sc_mod.SUM_MAX - 3 * SCALE, sc_mod.SUM_MAX))
            sums.append(draw(st.dictionaries(st.integers(0, nf - 1), v, max_size=nf)))
    m = SparseCentroid(names(C), sums, counts, num_features=nf)
    ops = draw(st.lists(st.tuples(sparse_inputs(nf, 12), st.integers(0, C)), min_size=1, max_size=5))
    return m, ops


@given(sparse_centroid_case())
@SETTINGS
def test_sparse_centroid_mirror(case):
    m, ops = case
    check_sequence(m, ops, SparseCentroid.from_contract)
