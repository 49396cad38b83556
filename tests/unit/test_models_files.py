"""Model files in the reference JSON format: every type, every alias, errors naming the field."""

from __future__ import annotations

import json
import re

import pytest

from ledgerlearn.contracts.compiler import CONTRACTS_DIR
from ledgerlearn.errors import ValidationError
from ledgerlearn.models import (
    SCALE,
    DenseCentroid,
    DensePerceptron,
    NaiveBayes,
    SparseCentroid,
    SparsePerceptron,
    load_model,
    model_from_dict,
    model_to_dict,
    save_model,
)
from ledgerlearn.models import dense_centroid, dense_perceptron, naive_bayes, sparse_centroid, sparse_perceptron


def test_sparse_perceptron_file(tmp_path):
    d = {"type": "sparse perceptron", "classifications": ["Negative", "Positive"], "weights": [0.53, 4.01, 0, -2.5], "sparseWeights": {"1234": 0.7}, "intercept": 5, "learningRate": 0.5}
    m = model_from_dict(d)
    assert isinstance(m, SparsePerceptron)
    assert m.weights_ == {0: 530_000_000, 1: 4_010_000_000, 3: -2_500_000_000, 1234: 700_000_000}
    assert m.intercept_ == 5 * SCALE and m.learning_rate_ == SCALE // 2
    assert m.n_features_in_ == 2**32  # sparse weights: any 32-bit index
    p = tmp_path / "m.json"
    save_model(m, p)
    assert load_model(p) == m
    # dense only: the feature count is the number of weights; learningRate defaults to 1
    m = model_from_dict({"type": "sparse perceptron", "classifications": ["a", "b"], "weights": [1, 2, 3], "intercept": 0})
    assert m.n_features_in_ == 3 and m.learning_rate_ == SCALE
    assert model_from_dict(model_to_dict(m)) == m


def test_dense_perceptron_aliases():
    d = {"type": "perceptron", "classifications": ["A", "B"], "weights": [0.1, -0.2], "bias": 0.25, "featureIndices": [642, 813]}
    m = model_from_dict(d)
    assert isinstance(m, DensePerceptron)
    assert m.coef_ == [100_000_000, -200_000_000] and m.intercept_ == 250_000_000
    assert m.learning_rate_ == SCALE and m.feature_indices_ == [642, 813]
    assert m.select([0.0] * 642 + [7.0] + [0.0] * 170 + [9.0]) == [7.0, 9.0]
    out = model_to_dict(m)
    assert out["type"] == "dense perceptron" and out["intercept"] == 0.25 and out["featureIndices"] == [642, 813]
    assert model_from_dict(out) == m
    m2 = model_from_dict({"type": "dense perceptron", "classifications": ["A", "B"], "weights": [1.0], "intercept": 0, "learningRate": 0.5})
    assert m2.learning_rate_ == SCALE // 2 and m2.feature_indices_ is None


def test_naive_bayes_file():
    d = {"type": "naive bayes", "classifications": ["A", "B"], "classCounts": [2, 3], "featureCounts": [[[0, 2], [1, 1]], [[1, 3], [2, 2]]], "totalNumFeatures": 9, "smoothingFactor": 1.0}
    m = model_from_dict(d)
    assert isinstance(m, NaiveBayes)
    assert m.class_count_ == [2, 3] and m.feature_count_ == [{0: 2, 1: 1}, {1: 3, 2: 2}]
    assert m.total_count_ == [3, 5] and m.n_features_in_ == 9 and m.smoothing_ == SCALE
    assert model_from_dict(model_to_dict(m)) == m
    del d["smoothingFactor"]
    assert model_from_dict(d).smoothing_ == SCALE  # default 1


def test_centroid_files_and_aliases():
    d = {"type": "nearest centroid classifier", "centroids": {"AA": {"centroid": [-1, -1, 4.88], "dataCount": 2}, "BB": {"centroid": [0.5, 0, 0], "dataCount": 1}}}
    m = model_from_dict(d)
    assert isinstance(m, DenseCentroid)
    assert m.classes_ == ["AA", "BB"] and m.centroids_[0] == [-SCALE, -SCALE, 4_880_000_000] and m.data_counts_ == [2, 1]
    assert model_from_dict(model_to_dict(m)) == m
    alias = {"type": "dense nearest centroid classifier", "intents": d["centroids"]}
    assert model_from_dict(alias) == m
    s = {"type": "sparse nearest centroid classifier", "centroids": {"AA": {"centroid": {"0": 0, "1": 1, "7": 1.5}, "dataCount": 2}, "BB": {"centroid": {}, "dataCount": 0}}}
    sm = model_from_dict(s)
    assert isinstance(sm, SparseCentroid)
    assert sm.sums_ == [{1: 2 * SCALE, 7: 3 * SCALE}, {}] and sm.data_counts_ == [2, 0]
    assert sm.centroid(0) == {1: 1.0, 7: 1.5}
    assert model_from_dict(model_to_dict(sm)) == sm
    assert model_from_dict({**s, "type": "Sparse Nearest Centroid Classifier"}) == sm  # case-insensitive type


@pytest.mark.parametrize(
    "d, field",
    [
        ([], "model file"),
        ({"classifications": ["a", "b"]}, "type"),
        ({"type": "random forest"}, "type"),
        ({"type": "sparse perceptron", "weights": [1]}, "classifications"),
        ({"type": "sparse perceptron", "classifications": ["a", "b", "c"], "weights": [1]}, "classifications"),
        ({"type": "sparse perceptron", "classifications": ["a", "b"], "weights": [1, "x"]}, r"weights\[1\]"),
        ({"type": "sparse perceptron", "classifications": ["a", "b"], "weights": [1], "sparseWeights": {"k": 1}}, "sparseWeights"),
        ({"type": "sparse perceptron", "classifications": ["a", "b"], "weights": [1], "learningRate": float("nan")}, "learningRate"),
        ({"type": "sparse perceptron", "classifications": ["a", "b"], "weights": [1e6]}, "weights"),
        ({"type": "dense perceptron", "classifications": ["a", "b"]}, "weights"),
        ({"type": "dense perceptron", "classifications": ["a", "b"], "weights": [1, 2], "featureIndices": [1]}, "featureIndices"),
        ({"type": "naive bayes", "classifications": ["a"], "classCounts": [1], "featureCounts": [[[0, 1]]]}, "totalNumFeatures"),
        ({"type": "naive bayes", "classifications": ["a"], "classCounts": [1], "featureCounts": [[[0]]], "totalNumFeatures": 3}, r"featureCounts\[0\]\[0\]"),
        ({"type": "naive bayes", "classifications": ["a"], "classCounts": [1.5], "featureCounts": [[]], "totalNumFeatures": 3}, r"classCounts\[0\]"),
        ({"type": "naive bayes", "classifications": ["a", "b"], "classCounts": [1], "featureCounts": [[], []], "totalNumFeatures": 3}, "classCounts"),
        ({"type": "naive bayes", "classifications": ["a"], "classCounts": [1], "featureCounts": [[[5, 1]]], "totalNumFeatures": 3}, "featureCounts"),
        ({"type": "nearest centroid classifier"}, "centroids"),
        ({"type": "nearest centroid classifier", "centroids": {"A": {"dataCount": 1}}}, r"centroids\.A\.centroid"),
        ({"type": "nearest centroid classifier", "centroids": {"A": {"centroid": [1], "dataCount": "x"}}}, r"centroids\.A\.dataCount"),
        ({"type": "nearest centroid classifier", "centroids": {"A": {"centroid": [1], "dataCount": 1}, "B": {"centroid": [1, 2], "dataCount": 1}}}, "centroids"),
        ({"type": "nearest centroid classifier", "centroids": {"A": {"centroid": [100.0], "dataCount": 1}}}, "centroids"),
        ({"type": "sparse nearest centroid classifier", "centroids": {"A": {"centroid": [1], "dataCount": 1}}}, r"centroids\.A\.centroid"),
        ({"type": "sparse nearest centroid classifier", "centroids": {"A": {"centroid": {"1": 1}, "dataCount": 0}}}, r"centroids\.A\.dataCount"),
    ],
)
def test_malformed_files_name_the_field(d, field):
    with pytest.raises(ValidationError, match=field):
        model_from_dict(d)


def test_bad_json(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text("{not json")
    with pytest.raises(ValidationError, match="model file"):
        load_model(p)
    p.write_text(json.dumps({"type": "naive bayes"}))
    with pytest.raises(ValidationError, match="classifications"):
        load_model(p)


@pytest.mark.parametrize(
    "module, source, names",
    [
        (sparse_perceptron, "models/sparse_perceptron.vy", ["MAX_TOKENS", "LANES", "LANE_BITS"]),
        (dense_perceptron, "models/dense_perceptron.vy", ["MAX_DIM", "LANES", "LANE_BITS", "WORDS"]),
        (naive_bayes, "models/naive_bayes.vy", ["MAX_TOKENS", "MAX_CLASSES", "LANES"]),
        (dense_centroid, "models/dense_centroid.vy", ["MAX_DIM", "MAX_CLASSES", "LANES", "LANE_BITS", "WORDS"]),
        (sparse_centroid, "models/sparse_centroid.vy", ["MAX_TOKENS", "MAX_CLASSES", "LANES", "LANE_BITS"]),
    ],
)
def test_mirror_constants_match_the_contracts(module, source, names):
    src = (CONTRACTS_DIR / source).read_text()
    for name in names:
        m = re.search(rf"^{name}: constant\(uint256\) = (.+)$", src, re.M)
        assert m, name
        assert eval(m.group(1), {}) == getattr(module, name), name  # noqa: S307 - literal arithmetic
