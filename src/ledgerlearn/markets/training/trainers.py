"""What the model owner and the cloud owners do with a model, by training mode.

A model's record on chain names its type and a :class:`ModelSpec` (JSON):
the public feature map, the training method (least-squares gradient descent,
:mod:`.learning`) and the mode:

* ``plain``: the round's model travels as :func:`~.learning.encode_model`
  bytes (encrypted to the couple's cloud owners in transit);
* ``ckks``: the model owner encrypts the weights with CKKS (:mod:`.he`);
  cloud owners train without seeing them and return ciphertexts.

Either way a cloud owner's result is :func:`wrap_result` bytes (its sample
count, then the trained model or ciphertext). Training is deterministic, so
honest replicas of a subset return identical bytes and the contract can take
the majority by hash.
"""

from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass, field

import numpy as np

from ledgerlearn.errors import ValidationError
from ledgerlearn.markets.training import learning

__all__ = ["CloudTrainer", "ModelSpec", "OwnerTrainer", "unwrap_result", "wrap_result"]

MODEL_TYPE = "linear-lsq"
MODES = ("plain", "ckks")
_RESULT_MAGIC = b"LLTR"


@dataclass(frozen=True)
class ModelSpec:
    """Everything a cloud owner needs to train the model: recorded on chain as the model's method."""

    mode: str = "plain"
    features: learning.FeatureMap = field(default_factory=learning.FeatureMap)
    method: learning.TrainingMethod = field(default_factory=learning.TrainingMethod)
    n_classes: int = 10

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValidationError(f"mode: expected one of {', '.join(MODES)}, got {self.mode!r}")

    def to_json(self) -> str:
        return json.dumps({"mode": self.mode, "features": asdict(self.features),
                           "method": json.loads(self.method.to_json()), "classes": self.n_classes},
                          sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "ModelSpec":
        try:
            obj = json.loads(text)
            return cls(mode=obj["mode"], features=learning.FeatureMap(**obj["features"]),
                       method=learning.TrainingMethod.from_json(json.dumps(obj["method"])),
                       n_classes=int(obj["classes"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValidationError(f"model method: not a training-market model spec ({exc})") from None

    def initial_weights(self) -> np.ndarray:
        return np.zeros((self.features.d, self.n_classes))


def wrap_result(n_samples: int, payload: bytes) -> bytes:
    return _RESULT_MAGIC + struct.pack(">I", n_samples) + bytes(payload)


def unwrap_result(data: bytes) -> tuple[int, bytes]:
    if data[:4] != _RESULT_MAGIC or len(data) < 8:
        raise ValidationError("result: not a training result")
    return struct.unpack(">I", data[4:8])[0], bytes(data[8:])


class CloudTrainer:
    """A cloud owner's side: trains the round's model (plain bytes or CKKS ciphertext) on its subset."""

    def __init__(self, spec: ModelSpec, public_context: bytes | None = None):
        if spec.mode == "ckks" and public_context is None:
            raise ValidationError("ckks training needs the model owner's public context")
        self.spec = spec
        self.public_context = public_context

    def train(self, round_model: bytes, images: np.ndarray, labels: np.ndarray) -> bytes:
        X = self.spec.features(images)
        Y = learning.one_hot(labels, self.spec.n_classes)
        if self.spec.mode == "plain":
            W = learning.local_train(learning.decode_model(round_model), X, Y, self.spec.method)
            out = learning.encode_model(W)
        else:
            from ledgerlearn.markets.training import he

            out = he.encrypted_local_train(self.public_context, round_model, X, Y, self.spec.method)
        return wrap_result(len(labels), out)


class OwnerTrainer:
    """The model owner's side: the round's model bytes, reading results, FedAvg and evaluation."""

    def __init__(self, spec: ModelSpec, test: tuple[np.ndarray, np.ndarray] | None = None):
        self.spec = spec
        self.weights = spec.initial_weights()
        self._test = None if test is None else (spec.features(test[0]), np.asarray(test[1]))
        self._keys = None
        if spec.mode == "ckks":
            from ledgerlearn.markets.training import he

            self._keys = he.HEKeys.generate(d=spec.features.d, n_classes=spec.n_classes)

    def public_context(self) -> bytes | None:
        """What cloud owners need to compute on ciphertexts (ckks mode), without the secret key."""
        return None if self._keys is None else self._keys.public_context()

    def round_model(self) -> bytes:
        """The current global model as sent to the round's cloud owners."""
        if self._keys is None:
            return learning.encode_model(self.weights)
        return self._keys.encrypt_model(self.weights)

    def read_result(self, result: bytes) -> tuple[int, np.ndarray]:
        n, payload = unwrap_result(result)
        W = learning.decode_model(payload) if self._keys is None else self._keys.decrypt_model(payload)
        if W.shape != self.weights.shape:
            raise ValidationError(f"result: model shape {W.shape}, expected {self.weights.shape}")
        return n, W

    def aggregate(self, results: list[tuple[int, np.ndarray]]) -> None:
        """FedAvg of the round's subset models, weighted by their sample counts."""
        if results:
            self.weights = learning.fedavg([W for _, W in results], [n for n, _ in results])

    def accuracy(self) -> float | None:
        return None if self._test is None else learning.accuracy(self.weights, *self._test)
