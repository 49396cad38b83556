"""Initial perceptrons trained off chain with scikit-learn's SGD, as the reference did.

The reference simulation initialised its perceptron with
``SGDClassifier(loss="perceptron", learning_rate="optimal", penalty=None)``
and then called ``partial_fit`` for each contribution. With the "optimal"
schedule the step size is ``eta_t = 1 / (alpha * (t0 + t - 1))``, so after the
initial fit further updates are small next to the learned weights: that is
what kept its accuracy steady under attack. A contract perceptron has one fixed
learning rate, so :func:`sgd_perceptron` sets it to the step size the next
``partial_fit`` would use (``t0`` is scikit-learn's heuristic for this loss:
``t0 = 1 / (alpha * sqrt(1 / sqrt(alpha)))``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.linear_model import SGDClassifier

from ledgerlearn.errors import ValidationError
from ledgerlearn.models.dense_perceptron import DensePerceptron
from ledgerlearn.models.fixedpoint import SCALE
from ledgerlearn.models.sparse_perceptron import SparsePerceptron

DEFAULT_ALPHA = 1e-4


def index_matrix(X: Sequence[Sequence[int]], num_features: int) -> sparse.csr_matrix:
    """Binary CSR matrix (one row per sample) from lists of feature indices."""
    indptr = np.zeros(len(X) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in X], out=indptr[1:])
    indices = np.fromiter((i for x in X for i in x), dtype=np.int64, count=int(indptr[-1]))
    data = np.ones(len(indices), dtype=np.int64)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(X), num_features))


def optimal_eta(alpha: float, t: float) -> float:
    """Step size of scikit-learn's "optimal" schedule for the perceptron loss at step ``t``."""
    typw = math.sqrt(1.0 / math.sqrt(alpha))
    t0 = 1.0 / (typw * alpha)
    return 1.0 / (alpha * (t0 + t - 1))


def sgd_perceptron(
    X: Sequence[Sequence[int]],
    y: Sequence[int],
    *,
    classes: Sequence[str],
    num_features: int,
    dense: bool = False,
    alpha: float = DEFAULT_ALPHA,
    random_state: int = 0,
) -> SparsePerceptron | DensePerceptron:
    """A perceptron mirror trained like the reference's initial model.

    ``X`` are sparse index lists (``dense=False``) or fixed-point dense vectors.
    Weights and intercept are rounded to fixed point; the learning rate is the
    SGD step size after the fit (see the module docstring).
    """
    y = np.asarray(y, dtype=np.int64)
    if len(set(y.tolist())) != 2:
        raise ValidationError("y: the initial training data must hold both classes")
    M = np.asarray(X, dtype=np.float64) / SCALE if dense else index_matrix(X, num_features).astype(np.float64)
    sgd = SGDClassifier(loss="perceptron", learning_rate="optimal", penalty=None, alpha=alpha, tol=1e-3, random_state=random_state)
    sgd.fit(M, y)
    weights = [round(float(w) * SCALE) for w in sgd.coef_[0]]
    intercept = round(float(sgd.intercept_[0]) * SCALE)
    lr = round(optimal_eta(alpha, sgd.t_) * SCALE)
    if dense:
        return DensePerceptron(classes=classes, weights=weights, intercept=intercept, learning_rate=lr)
    return SparsePerceptron(
        classes=classes, num_features=num_features, weights={i: w for i, w in enumerate(weights) if w},
        intercept=intercept, learning_rate=lr,
    )
