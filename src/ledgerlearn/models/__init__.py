"""Off-chain mirrors of the model contracts (bit-exact), and model files.

One module per model kind (the contract module of the same name in
``ledgerlearn/contracts/models``): :class:`SparsePerceptron`,
:class:`DensePerceptron`, :class:`NaiveBayes`, :class:`DenseCentroid`,
:class:`SparseCentroid`; :mod:`ledgerlearn.models.files` reads and writes the
reference JSON model files.
"""

from ledgerlearn.models.base import ModelMirror, normalize
from ledgerlearn.models.dense_centroid import DenseCentroid
from ledgerlearn.models.dense_perceptron import DensePerceptron
from ledgerlearn.models.files import KINDS, TYPES, load_model, model_from_dict, model_to_dict, save_model
from ledgerlearn.models.fixedpoint import SCALE
from ledgerlearn.models.naive_bayes import NaiveBayes
from ledgerlearn.models.sparse_centroid import SparseCentroid
from ledgerlearn.models.sparse_perceptron import SparsePerceptron

__all__ = [
    "SCALE",
    "KINDS",
    "TYPES",
    "ModelMirror",
    "SparsePerceptron",
    "DensePerceptron",
    "NaiveBayes",
    "DenseCentroid",
    "SparseCentroid",
    "load_model",
    "save_model",
    "model_from_dict",
    "model_to_dict",
    "normalize",
]
