"""A model trained through contributions can be saved as a model file and deployed elsewhere."""

import json

import pytest

from ledgerlearn.chain.fast import FastLocalChain
from ledgerlearn.models import NaiveBayes, SparseCentroid, SparsePerceptron, load_model, save_model
from ledgerlearn.shared_models.client import SharedModel
from ledgerlearn.shared_models.deploy import deploy_shared_model
from ledgerlearn.shared_models.export import features_of, read_model

TRAIN = [("a great movie", 1), ("awful acting and a bad plot", 0), ("great fun", 1), ("bad bad bad", 0),
         ("what a wonderful story", 1), ("boring and awful", 0)]
PROBES = ["great story", "awful", "bad movie", "wonderful fun", "plot", "nothing known here"]


def _deploy(chain, mirror, encoder):
    owner = chain.accounts[0]
    res = deploy_shared_model(chain, mirror, incentive="points", name="m", encoder=encoder, owner=owner)
    return SharedModel(chain, res.address)


@pytest.mark.parametrize("mirror_cls", [SparsePerceptron, NaiveBayes, SparseCentroid])
def test_export_and_redeploy_hashed_text_model(tmp_path, mirror_cls):
    chain = FastLocalChain()
    start = mirror_cls(classes=("Negative", "Positive"))  # 2**32 hashed features
    m = _deploy(chain, start, "MurmurHash3")
    m.contribute("bad movie", 0, sender=chain.accounts[1])  # initial contributions as well as later ones
    for text, label in TRAIN:
        m.contribute(text, label, sender=chain.accounts[1])
    trained = read_model(m)
    # The export is the on-chain state: equal to a mirror that saw the same updates.
    expected = start.copy()
    for text, label in [("bad movie", 0)] + TRAIN:
        expected.update(m.encode(text), label)
    assert trained == expected and trained != start
    path = tmp_path / "trained.json"
    save_model(trained, path)
    assert json.loads(path.read_text())["type"] == trained.model_type

    other = FastLocalChain()
    m2 = _deploy(other, load_model(path), "MurmurHash3")
    assert [m2.predict(p) for p in PROBES] == [m.predict(p) for p in PROBES]
    again = read_model(m2, known_features=features_of(path))
    if mirror_cls is SparseCentroid:
        # The file stores centroid = sum / count as a real number (the reference's format), rounded to 1e-9.
        assert again.data_counts_ == trained.data_counts_
        for a, b in zip(again.sums_, trained.sums_):
            assert a.keys() == b.keys() and all(abs(a[k] - b[k]) <= trained.data_counts_[0] + trained.data_counts_[1] for k in a)
    else:
        assert again == trained


def test_features_of_and_known_features(tmp_path):
    chain = FastLocalChain()
    start = SparsePerceptron(classes=("n", "p"), weights={7: 3 * 10**9, 2**31 + 5: -10**9})
    path = tmp_path / "start.json"
    save_model(start, path)
    assert features_of(path) == {7, 2**31 + 5}
    m = _deploy(chain, start, "none")
    m.contribute([1, 9], 1, sender=chain.accounts[1])
    # Without the original file the initial weights of a hashed model are not enumerable ...
    assert read_model(m).weights_.get(2**31 + 5) is None
    # ... with it they are.
    full = read_model(m, known_features=features_of(path))
    assert full.weights_[2**31 + 5] == -10**9 and full.weights_[7] == 3 * 10**9
