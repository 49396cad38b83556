"""Plaintext side of the training market: skewed split, features, deterministic local training, model bytes.

Synthetic data everywhere except the tests marked ``dataset`` (real MNIST).
Determinism is checked to the byte, also across processes, because replicas
of a subset are compared by the hash of their model bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ledgerlearn.errors import ValidationError
from ledgerlearn.markets.training import learning as L


def _labels(n=3000, n_classes=10, seed=0):
    return np.random.default_rng(seed).integers(0, n_classes, size=n)


def _features(n, d, seed=0):
    """Random features on the FeatureMap grid (multiples of 2**-12 in [0, 1/8)), constant last column.

    Small enough that ``lr = 1.5`` is stable (top eigenvalue of X^T X / N about d / 256).
    """
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 512, size=(n, d)) / (1 << L.FEATURE_BITS)
    X[:, -1] = 0.25
    return X


# --------------------------------------------------------------------------- split

@pytest.mark.parametrize("m", range(2, 11))
def test_skewed_split_is_skewed_disjoint_and_covering(m):
    y = _labels()
    for seed in range(5):
        subsets = L.skewed_split(y, m, seed=seed)
        assert len(subsets) == m
        L.check_skew(y, subsets, 10)
        for s in subsets:
            assert s.dtype == np.int64 and np.all(np.diff(s) > 0)  # sorted, no repeats
            counts = np.bincount(y[s], minlength=10)
            assert (counts == 0).any() and counts.max() <= len(s) / 2
        used = np.concatenate(subsets)
        assert len(np.unique(used)) == len(used)
        assert set(y[used]) == set(range(10))


def test_skewed_split_is_deterministic_from_seed():
    y = _labels()
    a, b, c = (L.skewed_split(y, 5, seed=s) for s in (7, 7, 8))
    assert all(np.array_equal(x, z) for x, z in zip(a, b, strict=True))
    assert not all(np.array_equal(x, z) for x, z in zip(a, c, strict=True))


def test_skewed_split_fixed_classes_per_subset():
    y = _labels()
    subsets = L.skewed_split(y, 4, seed=0, classes_per_subset=3)
    assert [len(set(y[s])) for s in subsets] == [3, 3, 3, 3]
    L.check_skew(y, subsets, 10)


@pytest.mark.parametrize("kwargs", [{"m": 1}, {"m": 3, "classes_per_subset": 10}, {"m": 3, "classes_per_subset": 1},
                                    {"m": 3, "classes_per_subset": 3}])
def test_skewed_split_rejects_impossible_requests(kwargs):
    with pytest.raises(ValidationError):
        L.skewed_split(_labels(), seed=0, **kwargs)


def test_check_skew_messages():
    y = np.repeat(np.arange(4), 10)  # 4 classes x 10 samples: indices 0-9 class 0, ...
    ok = [np.arange(0, 20), np.arange(20, 40)]
    L.check_skew(y, ok, 4)
    cases = {
        "empty": [np.arange(0, 20), np.array([], dtype=int), np.arange(20, 40)],
        "all 4 classes": [np.array([0, 10, 20, 30]), np.arange(21, 30)],
        "dominated by class 0": [np.concatenate([np.arange(0, 10), [10]]), np.arange(20, 40)],
        "reuses": [np.arange(0, 20), np.arange(19, 40)],
        r"classes \[3\] are in no subset": [np.r_[0:5, 10:15], np.r_[5:10, 20:25], np.r_[15:20, 25:30]],
        "outside": [np.arange(0, 20), np.array([20, 41])],
    }
    for message, subsets in cases.items():
        with pytest.raises(ValueError, match=message):
            L.check_skew(y, subsets, 4)


@pytest.mark.dataset
def test_skewed_split_on_mnist_labels():
    from ledgerlearn.datasets import load

    y = load("mnist", progress=False).y_train
    for m in range(2, 11):
        subsets = L.skewed_split(y, m, seed=m)
        L.check_skew(y, subsets, 10)
        assert sum(map(len, subsets)) >= len(y) // 3  # the equal-per-class rule wastes some, not most


# --------------------------------------------------------------------------- features and method

def test_feature_map_is_on_the_grid_and_deterministic():
    images = np.random.default_rng(0).integers(0, 256, size=(50, 28, 28), dtype=np.uint8)
    fm = L.FeatureMap(d=64, seed=3)
    F = fm(images)
    assert F.shape == (50, 64) and F.dtype == np.float64
    assert np.all(F[:, -1] == 0.25) and F.min() >= 0 and F.max() < 1
    assert np.array_equal(F * 4096, np.floor(F * 4096))
    assert np.array_equal(F, fm(images.reshape(50, -1).astype(np.int64)))
    assert not np.array_equal(F, L.FeatureMap(d=64, seed=4)(images))
    with pytest.raises(ValidationError):
        fm(images.astype(np.float64) + 0.5)


def test_training_method_json_and_str_are_canonical():
    m = L.TrainingMethod(steps=7, lr=0.25, ridge=1e-3, local_classes_only=False)
    text = m.to_json()
    assert text == '{"kind":"lsq-gd","local_classes_only":false,"lr":0.25,"ridge":0.001,"steps":7}'
    assert L.TrainingMethod.from_json(text) == m
    assert str(m) == "lsq-gd(steps=7,lr=0.25,ridge=0.001,local_classes_only=False)"
    for bad in ['{"kind":"sgd","steps":1,"lr":1,"ridge":0,"local_classes_only":true}', "{}", "nope",
                '{"kind":"lsq-gd","local_classes_only":true,"lr":1,"ridge":0,"steps":1.5}']:
        with pytest.raises(ValidationError):
            L.TrainingMethod.from_json(bad)
    for kwargs in [{"steps": 0}, {"lr": 0.0}, {"lr": float("nan")}, {"ridge": -1.0}, {"steps": True}]:
        with pytest.raises(ValidationError):
            L.TrainingMethod(**kwargs)


# --------------------------------------------------------------------------- local training

def _problem(n=400, d=32, n_classes=10, seed=0, missing=(3, 7)):
    X = _features(n, d, seed)
    y = np.random.default_rng(seed + 1).integers(0, n_classes, size=n)
    y[np.isin(y, missing)] = 0  # the subset lacks these classes
    W = np.random.default_rng(seed + 2).normal(size=(d, n_classes)) * 0.1
    return W, X, L.one_hot(y, n_classes), y


def test_local_train_is_the_least_squares_gd_formula():
    W, X, Y, y = _problem()
    method = L.TrainingMethod(steps=20, lr=0.5, ridge=0.01, local_classes_only=False)
    ref = W.copy()
    for _ in range(20):
        ref = ref - 0.5 * ((X.T @ X @ ref - X.T @ Y) / len(X) + 0.01 * ref)
    out = L.local_train(W, X, Y, method)
    assert np.abs(out - ref).max() < 1e-12
    assert np.array_equal(out, L.local_train(W, X, y, method))  # labels or one-hot


def test_local_classes_only_leaves_missing_classes_alone():
    W, X, Y, _ = _problem()
    out = L.local_train(W, X, Y, L.TrainingMethod(steps=5))
    assert np.array_equal(out[:, [3, 7]], W[:, [3, 7]])
    assert not np.isclose(out[:, [0, 1, 2, 4]], W[:, [0, 1, 2, 4]]).any()
    full = L.local_train(W, X, Y, L.TrainingMethod(steps=5, local_classes_only=False))
    assert np.array_equal(out[:, 0], full[:, 0])  # columns are trained independently, bit for bit
    assert not np.isclose(full[:, 3], W[:, 3]).all()


def test_local_train_bytes_are_deterministic():
    W, X, Y, _ = _problem()
    method = L.TrainingMethod(steps=30)
    a, b = (L.encode_model(L.local_train(W, X, Y, method)) for _ in range(2))
    assert a == b
    assert a != L.encode_model(L.local_train(W, X, Y, L.TrainingMethod(steps=31)))


_CHILD = """
import hashlib, sys
import numpy as np
from ledgerlearn.markets.training import learning as L
z = np.load(sys.argv[1])
method = L.TrainingMethod.from_json(str(z["method"]))
out = L.encode_model(L.local_train(z["W"], z["X"], z["Y"], method))
amap = L.affine_map(z["X"], z["Y"], method)
print(hashlib.sha256(out + amap.A.tobytes() + amap.b.tobytes()).hexdigest())
"""


def test_local_train_bytes_match_across_processes(tmp_path):
    W, X, Y, _ = _problem(n=1000, d=96)
    method = L.TrainingMethod(steps=13)
    np.savez(tmp_path / "in.npz", W=W, X=X, Y=Y, method=method.to_json())
    amap = L.affine_map(X, Y, method)
    model = L.encode_model(L.local_train(W, X, Y, method))
    here = hashlib.sha256(model + amap.A.tobytes() + amap.b.tobytes()).hexdigest()
    for threads in ("1", "2"):  # BLAS thread count must not matter
        env = {"OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        out = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path / "in.npz")], capture_output=True, text=True,
                             check=True, env={**os.environ, **env})
        assert out.stdout.strip() == here


def test_local_train_rejects_bad_inputs():
    W, X, Y, _ = _problem()
    method = L.TrainingMethod(steps=1)
    with pytest.raises(ValidationError, match="multiples"):
        L.local_train(W, X + 1e-9, Y, method)
    with pytest.raises(ValidationError, match="model must be"):
        L.local_train(W[:-1], X, Y, method)
    with pytest.raises(ValidationError, match="targets"):
        L.local_train(W, X, Y[:-1], method)


def test_affine_map_equals_local_train():
    W, X, Y, _ = _problem(d=48)
    for method in (L.TrainingMethod(steps=1), L.TrainingMethod(steps=37, ridge=0.01),
                   L.TrainingMethod(steps=64, local_classes_only=False)):
        amap = L.affine_map(X, Y, method)
        assert amap.A.shape == (48, 48) and amap.b.shape == (48, 10)
        assert np.abs(amap.apply(W) - L.local_train(W, X, Y, method)).max() < 1e-12
    assert list(L.affine_map(X, Y, L.TrainingMethod()).trained) == [c not in (3, 7) for c in range(10)]


def test_exact_order_matmul():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(30, 40)), rng.normal(size=(40, 7))
    c = L.exact_order_matmul(a, b)
    assert np.abs(c - a @ b).max() < 1e-12
    assert np.array_equal(c[:, 2:5], L.exact_order_matmul(a, b[:, 2:5]))


# --------------------------------------------------------------------------- model bytes, fedavg

def test_encode_decode_model():
    W = np.random.default_rng(0).normal(size=(5, 3))
    data = L.encode_model(W)
    assert data.startswith(L.MODEL_MAGIC)
    hlen = int.from_bytes(data[8:12], "little")
    assert json.loads(data[12:12 + hlen]) == {"dtype": "<f8", "shape": [5, 3]}
    assert data[12 + hlen:] == W.astype("<f8").tobytes()
    assert np.array_equal(L.decode_model(data), W)
    assert L.encode_model(W.astype(np.float32).astype(np.float64)) != data
    for bad in [b"", b"LLTRAINW", data[:-1], b"X" + data[1:], data + b"\0"]:
        with pytest.raises(ValidationError):
            L.decode_model(bad)


def test_fedavg():
    a, b = np.ones((2, 2)), np.full((2, 2), 4.0)
    assert np.array_equal(L.fedavg([a, b]), np.full((2, 2), 2.5))
    assert np.array_equal(L.fedavg([a, b], [3, 1]), np.full((2, 2), 1.75))
    for args in [([],), ([a, b], [1]), ([a, b], [0, 0]), ([a, np.ones(3)],)]:
        with pytest.raises(ValidationError):
            L.fedavg(*args)


def test_train_federated_learns_a_separable_problem():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, size=2000)
    X = np.zeros((2000, 9))
    X[np.arange(2000), y] = 0.5  # one indicator feature per class, plus noise and bias
    X[:, 4:8] = rng.integers(0, 1024, size=(2000, 4)) / 4096
    X[:, 8] = 0.25
    subsets = L.skewed_split(y, 4, seed=0)
    run = L.train_federated(X, y, subsets, [[0, 1], [2, 3], [0, 3]], L.TrainingMethod(steps=50), n_classes=4,
                            test=(X, y))
    assert len(run.accuracy) == 3 and run.accuracy[-1] > 0.95 and run.W.shape == (9, 4)


@pytest.mark.dataset
def test_federated_mnist_plaintext():
    """20,000 training images, 5 subsets, 3 rounds of 2 (about 3 s).

    Restricting local training to the subset's classes keeps what earlier rounds learnt:
    57.2 / 81.55 / 81.2% by round, against 57.2 / 73.55 / 56.0% for plain FedAvg.
    """
    from ledgerlearn.datasets import load

    ds = load("mnist", progress=False)
    fm = L.FeatureMap()
    X, y = fm(ds.x_train[:20000]), ds.y_train[:20000]
    test = (fm(ds.x_test[:2000]), ds.y_test[:2000])
    subsets = L.skewed_split(y, 5, seed=0)
    schedule = [[2, 4], [0, 3], [1, 4]]
    run = L.train_federated(X, y, subsets, schedule, L.TrainingMethod(), test=test)
    plain = L.train_federated(X, y, subsets, schedule, L.TrainingMethod(local_classes_only=False), test=test)
    assert run.accuracy[-1] > 0.8
    assert run.accuracy[-1] > plain.accuracy[-1] + 0.1
