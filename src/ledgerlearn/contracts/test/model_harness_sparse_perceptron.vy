# pragma version ~=0.4.3
"""
@title Test harness for the sparse perceptron module (tests only)
@notice Composes `setup` and the model, exposes predict/update unguarded.
"""

import setup
from models import sparse_perceptron as model

initializes: setup
initializes: model[setup := setup]

exports: (setup.finalize, setup.owner, setup.finalized, model.__interface__)


@deploy
def __init__(classes: DynArray[String[64], model.MAX_CLASSES], num_features: uint256, intercept: int256, learning_rate: int256):
    setup._init(msg.sender)
    model._init(classes, num_features, intercept, learning_rate)


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
