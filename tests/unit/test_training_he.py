"""Encrypted local training (CKKS): correctness against plaintext, byte determinism, and MNIST accuracy.

Most tests use small keys (d = 64, a fraction of a second per call); the
``dataset`` test runs the real configuration (d = 384) on MNIST.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest

from ledgerlearn.errors import ValidationError
from ledgerlearn.markets.training import he
from ledgerlearn.markets.training import learning as L

D = 64


@pytest.fixture(scope="module")
def keys():
    return he.HEKeys.generate(d=D)


@pytest.fixture(scope="module")
def public(keys):
    return keys.public_context()


def _problem(n=500, d=D, seed=0, missing=(3, 7)):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 512, size=(n, d)) / 4096  # on the FeatureMap grid, lr = 1.5 is stable
    X[:, -1] = 0.25
    y = rng.integers(0, 10, size=n)
    y[np.isin(y, missing)] = 0
    W = rng.normal(size=(d, 10)) * 0.3
    return W, X, L.one_hot(y, 10)


def test_encrypt_decrypt_round_trip(keys):
    W = np.random.default_rng(1).normal(size=(D, 10))
    data = keys.encrypt_model(W)
    assert np.abs(keys.decrypt_model(data) - W).max() < 1e-6
    assert keys.encrypt_model(W) != data  # encryption is randomised; only the CO side is deterministic
    with pytest.raises(ValidationError):
        keys.encrypt_model(W[:-1])


def test_public_context_is_small_and_names_its_layout(public):
    header, parts = he._unframe(he.CONTEXT_MAGIC, public, 2, "ctx")
    assert header == {"classes": 10, "coeff_bits": [60, 40, 60], "d": D, "poly_modulus_degree": 8192,
                      "scale_bits": 40, "steps": [1, he.baby_step(D)]}
    assert len(public) < 1_000_000  # two seeded Galois keys, no public key, no relinearisation keys


@pytest.mark.parametrize("method", [L.TrainingMethod(), L.TrainingMethod(steps=1, local_classes_only=False),
                                    L.TrainingMethod(steps=300, lr=1.0, ridge=0.01)])
def test_encrypted_training_matches_plaintext(keys, public, method):
    W, X, Y = _problem()
    out = keys.decrypt_model(he.encrypted_local_train(public, keys.encrypt_model(W), X, Y, method))
    ref = L.local_train(W, X, Y, method)
    assert np.abs(out - ref).max() < 1e-5
    if method.local_classes_only:
        assert np.abs(out[:, [3, 7]] - W[:, [3, 7]]).max() < 1e-5


def test_trained_ciphertext_is_shifted_and_spent(keys, public):
    """The result lands d - 1 slots to the left and has used the one level: the MO must decrypt it."""
    W, X, Y = _problem()
    method = L.TrainingMethod(steps=3)
    once = he.encrypted_local_train(public, keys.encrypt_model(W), X, Y, method)
    header, (ct,) = he._unframe(he.MODEL_MAGIC, once, 1, "model")
    assert header["offset"] == 4096 - (D - 1)
    with pytest.raises(ValidationError, match="top level"):  # one multiplicative level only
        he.encrypted_local_train(public, once, X, Y, method)


_CHILD = """
import hashlib, sys
from pathlib import Path
import numpy as np
from ledgerlearn.markets.training import he, learning as L
d = Path(sys.argv[1])
z = np.load(d / "xy.npz")
out = he.encrypted_local_train((d / "ctx").read_bytes(), (d / "model").read_bytes(), z["X"], z["Y"],
                               L.TrainingMethod.from_json(str(z["method"])))
print(hashlib.sha256(out).hexdigest())
"""


def test_encrypted_training_bytes_are_deterministic_across_processes(keys, public, tmp_path):
    W, X, Y = _problem(n=800, seed=5)
    method = L.TrainingMethod(steps=20)
    model = keys.encrypt_model(W)
    (tmp_path / "ctx").write_bytes(public)
    (tmp_path / "model").write_bytes(model)
    np.savez(tmp_path / "xy.npz", X=X, Y=Y, method=method.to_json())
    here = hashlib.sha256(he.encrypted_local_train(public, model, X, Y, method)).hexdigest()
    assert hashlib.sha256(he.encrypted_local_train(public, model, X, Y, method)).hexdigest() == here
    children = [subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
                for _ in range(2)]
    assert [c.communicate(timeout=120)[0].strip() for c in children] == [here, here]
    other = he.encrypted_local_train(public, model, X[1:], Y[1:], method)
    assert hashlib.sha256(other).hexdigest() != here


def test_encrypted_training_rejects_mismatches(keys, public):
    W, X, Y = _problem()
    method = L.TrainingMethod(steps=1)
    model = keys.encrypt_model(W)
    with pytest.raises(ValidationError, match="columns"):
        he.encrypted_local_train(public, model, X[:, :-1], Y, method)
    other = he.HEKeys.generate(d=D + 1)
    with pytest.raises(ValidationError, match="expected"):
        he.encrypted_local_train(public, other.encrypt_model(np.zeros((D + 1, 10))), X, Y, method)
    for bad_ctx in (b"", public[:-10], b"LLHECTX1" + public[8:100]):
        with pytest.raises(ValidationError):
            he.encrypted_local_train(bad_ctx, model, X, Y, method)
    with pytest.raises(ValidationError):
        he.encrypted_local_train(public, model[:-5], X, Y, method)
    with pytest.raises(ValidationError):
        he.HEKeys.generate(d=410)  # 4100 > 4096 slots


@pytest.mark.dataset
def test_encrypted_federated_mnist_matches_plaintext():
    """Acceptance: 20,000 MNIST training images, 5 skewed subsets, 3 rounds of 2, d = 384 (about 15 s).

    Measured: plaintext 57.2 / 81.55 / 81.2% test accuracy by round (first 2,000
    test images), encrypted exactly the same; largest weight difference 1.2e-6;
    1.8-2.2 s per encrypted_local_train.
    """
    from ledgerlearn.datasets import load

    ds = load("mnist", progress=False)
    fm = L.FeatureMap()
    X, y = fm(ds.x_train[:20000]), ds.y_train[:20000]
    test = (fm(ds.x_test[:2000]), ds.y_test[:2000])
    subsets = L.skewed_split(y, 5, seed=0)
    schedule = [[2, 4], [0, 3], [1, 4]]
    method = L.TrainingMethod()
    keys = he.HEKeys.generate(d=fm.d)
    public = keys.public_context()

    def encrypted(W, Xs, Ys, m):
        return keys.decrypt_model(he.encrypted_local_train(public, keys.encrypt_model(W), Xs, Ys, m))

    plain = L.train_federated(X, y, subsets, schedule, method, test=test)
    enc = L.train_federated(X, y, subsets, schedule, method, test=test, trainer=encrypted)
    assert np.abs(enc.W - plain.W).max() < 1e-4
    assert all(abs(a - b) <= 0.02 for a, b in zip(enc.accuracy, plain.accuracy, strict=True))
    assert enc.accuracy[-1] > 0.75
