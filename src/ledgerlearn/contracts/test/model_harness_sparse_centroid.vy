# pragma version ~=0.4.3
"""
@title Test harness for the sparse nearest centroid module (tests only)
"""

import setup
from models import sparse_centroid as model

initializes: setup
initializes: model[setup := setup]

exports: (setup.finalize, setup.owner, setup.finalized, model.__interface__)


@deploy
def __init__(classes: DynArray[String[64], model.MAX_CLASSES], num_features: uint256, data_counts: DynArray[uint256, model.MAX_CLASSES], sq_norms: DynArray[uint256, model.MAX_CLASSES]):
    setup._init(msg.sender)
    model._init(classes, num_features, data_counts, sq_norms)


@external
@view
def predict(x: DynArray[uint256, model.MAX_TOKENS]) -> uint256:
    return model._predict(x)


@external
def update(x: DynArray[uint256, model.MAX_TOKENS], label: uint256):
    model._update(x, label)


@external
@view
def num_classes() -> uint256:
    return model._num_classes()


@external
@view
def class_name(i: uint256) -> String[64]:
    return model._class_name(i)
