"""Read a shared model back from the chain, e.g. to save it as a model file and deploy it elsewhere.

    from ledgerlearn.shared_models.export import read_model
    mirror = read_model(SharedModel(chain, address))
    save_model(mirror, "trained.json")          # the reference's model file format

Dense models and sparse models with up to 2**20 stored values are read in
full. Sparse models over hashed features (MurmurHash3: 2**32 features) cannot
be enumerated, so the features to read are those of every contribution
(``DataAdded`` events) plus ``known_features`` (e.g. the original model file's);
naive Bayes and sparse centroid check the result against their stored totals.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledgerlearn.chain.contract import Contract, ContractABI
from ledgerlearn.contracts import registry
from ledgerlearn.errors import ValidationError
from ledgerlearn.models import DenseCentroid, DensePerceptron, ModelMirror, NaiveBayes, SparseCentroid, SparsePerceptron
from ledgerlearn.models import naive_bayes, sparse_centroid, sparse_perceptron
from ledgerlearn.models.files import TYPES, load_model

#: stored values a full read may enumerate
FULL_READ_LIMIT = 2**20
_LANES = {SparsePerceptron: sparse_perceptron.LANES, NaiveBayes: naive_bayes.LANES, SparseCentroid: sparse_centroid.LANES}


def model_contract(model) -> Contract:
    """The entry contract with its full ABI (model getters included)."""
    cls = TYPES[model.model_type]
    return Contract(model.chain, model.address, ContractABI(registry.entry_artifact(cls.kind, model.info().incentive).abi))


def read_model(model, *, known_features: Iterable[int] = ()) -> ModelMirror:
    """The model's current state as a mirror (``model`` is a :class:`SharedModel`)."""
    cls = TYPES[model.model_type]
    c = model_contract(model)
    if cls is DensePerceptron:
        return DensePerceptron.from_contract(c, feature_indices=model.feature_indices)
    if cls is DenseCentroid:
        return DenseCentroid.from_contract(c)
    nf = c.call("num_features")
    per_feature = 1 if cls is SparsePerceptron else c.call("num_classes")
    if nf * per_feature <= FULL_READ_LIMIT:
        return cls.from_contract(c)
    features = {int(i) for i in known_features}
    for ev in model.contract.events("DataAdded", from_block=model.from_block):
        features.update(int(i) for i in ev["x"])
    lanes = _LANES[cls]
    keys = sorted({(f * per_feature + k) // lanes for f in features for k in range(per_feature)})
    return cls.from_contract(c, keys=keys)


def features_of(path) -> set[int]:
    """Feature indices a model file mentions (to read a hashed sparse model back completely)."""
    m = load_model(path)
    if isinstance(m, SparsePerceptron):
        return set(m.weights_)
    if isinstance(m, NaiveBayes):
        return {f for d in m.feature_count_ for f in d}
    if isinstance(m, SparseCentroid):
        return {f for d in m.sums_ for f in d}
    raise ValidationError("features-from: only sparse model files list feature indices")
