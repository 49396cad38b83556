"""Encrypted local training: the CO trains a CKKS-encrypted linear model it cannot read.

The model owner (MO) holds the keys (:class:`HEKeys`), publishes a *public
context* (encryption parameters and two Galois keys, no secret key, no public
key) and sends each round's global model encrypted (:meth:`HEKeys.encrypt_model`).
A cloud owner (CO) runs :func:`encrypted_local_train` and returns an encrypted
model that only the MO can decrypt (:meth:`HEKeys.decrypt_model`).

How: least-squares gradient descent is affine in the weights, so ``K`` local
steps are ``W' = A W + b`` with ``A = M^K`` and ``b`` computed in plaintext
from the CO's own data (:func:`~.learning.affine_map`). The CO applies it
homomorphically with one ciphertext-plaintext matrix product (one
multiplicative level) and one plaintext add:

* all ``C`` columns of ``W`` (``d x C``) are packed column after column in one
  ciphertext (``C * d <= slots``); the map is block diagonal, one ``d x d``
  block per column (``A``, or the identity for a column the CO leaves alone);
* the product uses the ``2d - 1`` generalised diagonals of the block-diagonal
  matrix (Halevi-Shoup; no wrap-around is needed because diagonals are masked
  per block) with baby-step/giant-step: ``b = ceil(sqrt(2d - 1))`` baby
  rotations by 1 and about as many giant rotations by ``b`` (Horner), so the
  public context needs Galois keys for the steps 1 and ``b`` only. The result
  lands cyclically shifted by ``d - 1`` slots; the ciphertext's header records
  the offset.

Parameters (:class:`HEParams`): CKKS, ring degree 8192 (4096 slots),
coefficient modulus 60 + 40 + 60 bits (160 bits, below the 218-bit bound of
the Homomorphic Encryption Standard for 128-bit security at this degree; SEAL
checks it, ``sec_level tc128``), scale ``2**40``. The result keeps about 19
bits for the weights' integer part; decryption matches plaintext
:func:`~.learning.local_train` to about ``1e-6`` (weights of order 1).

Deterministic bytes: equal inputs give byte-identical output, in any process,
because the CO side uses no randomness at all. It never encrypts (the constant
``b`` is added as a plaintext); it only encodes plaintexts and runs SEAL's
``multiply_plain``, ``rotate_vector`` (with the published Galois keys),
``add``, ``add_plain`` and ``rescale_to_next``, which are deterministic
integer arithmetic, and the plaintext map ``(A, b)`` is bit-exact on any
machine (see :mod:`.learning`). TenSEAL's ``CKKSVector.mm`` is *not* usable
for this: its output differs from run to run (and it is wrong beyond half the
slots). Only the MO's encryption and key generation are random. Across
machines the bytes also depend on the TenSEAL (SEAL) build and on libm: CKKS
encoding uses floating-point FFT roots from ``sin``/``cos``; replicas should
run the pinned versions (any process and thread count on one image is fine).

Security: the CO sees ciphertexts only (no public key either: it never
needs to encrypt). The MO should not hand decrypted CO outputs verbatim to
others: CKKS decryptions carry noise that leaks key information (Li &
Micciancio, Eurocrypt 2021).

Sizes and speed (d = 384, 10 classes, 100 steps, measured on a 2-core VM):
public context 0.73 MB, encrypted model 0.12 MB (seeded), trained encrypted
model 0.13 MB; :func:`encrypted_local_train` 1.3-2.7 s for 2,000-14,000
samples, about half of it the plaintext map (``log2 K`` products of 384 x 384
matrices), a third encoding the 767 diagonals, and 54 rotations.
"""

from __future__ import annotations

import json
import math
import struct
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import tenseal.sealapi as seal

from ledgerlearn.errors import ValidationError
from ledgerlearn.markets.training.learning import TrainingMethod, affine_map

__all__ = ["HEKeys", "HEParams", "encrypted_local_train"]

CONTEXT_MAGIC = b"LLHECTX1"
MODEL_MAGIC = b"LLHECTW1"


@dataclass(frozen=True)
class HEParams:
    """CKKS parameters: ring degree, coefficient modulus bit sizes (last one: the key-switching prime), scale."""

    poly_modulus_degree: int = 8192
    coeff_bits: tuple[int, ...] = (60, 40, 60)
    scale_bits: int = 40

    @property
    def slots(self) -> int:
        return self.poly_modulus_degree // 2


def baby_step(d: int) -> int:
    """The baby-step count ``ceil(sqrt(2d - 1))`` (also the giant step) for ``d``-dimensional blocks."""
    return math.isqrt(2 * d - 2) + 1


def _galois_elt(step: int, degree: int) -> int:
    """SEAL's Galois element for a left rotation by ``step`` slots (``GaloisTool::get_elt_from_step``)."""
    step = degree // 2 + step if step < 0 else step
    return pow(3, step, 2 * degree)


# --------------------------------------------------------------------------- framing and SEAL (de)serialisation

def _frame(magic: bytes, header: dict, *parts: bytes) -> bytes:
    head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    out = [magic, struct.pack("<I", len(head)), head]
    for p in parts:
        out += [struct.pack("<Q", len(p)), p]
    return b"".join(out)


def _unframe(magic: bytes, data: bytes, n_parts: int, what: str) -> tuple[dict, list[bytes]]:
    data = bytes(data)
    try:
        if data[:len(magic)] != magic:
            raise ValueError("bad magic")
        pos = len(magic)
        (hlen,) = struct.unpack_from("<I", data, pos)
        header = json.loads(data[pos + 4:pos + 4 + hlen])
        pos += 4 + hlen
        parts = []
        for _ in range(n_parts):
            (n,) = struct.unpack_from("<Q", data, pos)
            parts.append(data[pos + 8:pos + 8 + n])
            if len(parts[-1]) != n:
                raise ValueError("truncated")
            pos += 8 + n
        if pos != len(data) or not isinstance(header, dict):
            raise ValueError("trailing bytes")
    except (ValueError, struct.error) as e:
        raise ValidationError(f"not {what}: {e}") from None
    return header, parts


def _dump(obj) -> bytes:
    """SEAL objects (and their seeded ``Serializable``) only save to a path."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "obj"
        obj.save(str(path))
        return path.read_bytes()


def _load(obj, context, data: bytes, what: str):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "obj"
        path.write_bytes(data)
        try:
            if context is None:
                obj.load(str(path))
            else:
                obj.load(context, str(path))  # SEAL checks the object is valid for the context
        except Exception as e:  # SEAL raises ValueError/RuntimeError/IOError variants
            raise ValidationError(f"invalid {what}: {e}") from None
    return obj


def _seal_context(params_bytes: bytes):
    parms = _load(seal.EncryptionParameters(seal.SCHEME_TYPE.CKKS), None, params_bytes, "encryption parameters")
    ctx = seal.SEALContext(parms, True, seal.SEC_LEVEL_TYPE.TC128)
    if not ctx.parameters_set():
        raise ValidationError(f"encryption parameters rejected: {ctx.parameters_error_message()}")
    return ctx


def _slots_vector(W: np.ndarray, offset: int, slots: int) -> np.ndarray:
    """``W`` (d x C) column after column, starting at slot ``offset`` (cyclically)."""
    v = np.zeros(slots)
    v[:W.size] = np.asarray(W, dtype=np.float64).T.ravel()
    return np.roll(v, offset)


# --------------------------------------------------------------------------- MO side

class HEKeys:
    """The MO's CKKS keys for ``d x n_classes`` linear models (secret key included: never publish this object)."""

    def __init__(self, params: HEParams, d: int, n_classes: int, params_bytes: bytes, context, secret_key,
                 galois_bytes: bytes):
        self.params, self.d, self.n_classes = params, d, n_classes
        self._params_bytes, self._context, self._galois_bytes = params_bytes, context, galois_bytes
        self._encoder = seal.CKKSEncoder(context)
        self._encryptor = seal.Encryptor(context, secret_key)
        self._decryptor = seal.Decryptor(context, secret_key)

    @classmethod
    def generate(cls, d: int = 384, n_classes: int = 10, params: HEParams = HEParams()) -> HEKeys:
        """Fresh keys (random) for models of ``d`` features and ``n_classes`` classes."""
        if d < 2 or n_classes < 1 or d * n_classes > params.slots:
            raise ValidationError(f"d * n_classes = {d * n_classes} must be at most {params.slots} slots")
        parms = seal.EncryptionParameters(seal.SCHEME_TYPE.CKKS)
        parms.set_poly_modulus_degree(params.poly_modulus_degree)
        parms.set_coeff_modulus(seal.CoeffModulus.Create(params.poly_modulus_degree, list(params.coeff_bits)))
        params_bytes = _dump(parms)
        context = _seal_context(params_bytes)
        keygen = seal.KeyGenerator(context)
        steps = [1, baby_step(d)]
        # the seeded Serializable halves the keys' size
        galois = keygen.create_galois_keys([_galois_elt(s, params.poly_modulus_degree) for s in steps])
        return cls(params, d, n_classes, params_bytes, context, keygen.secret_key(), _dump(galois))

    def public_context(self) -> bytes:
        """What a CO needs: parameters, layout and Galois keys for the steps 1 and ``baby_step(d)``; no secret."""
        header = {
            "classes": self.n_classes, "coeff_bits": list(self.params.coeff_bits), "d": self.d,
            "poly_modulus_degree": self.params.poly_modulus_degree, "scale_bits": self.params.scale_bits,
            "steps": [1, baby_step(self.d)],
        }
        return _frame(CONTEXT_MAGIC, header, self._params_bytes, self._galois_bytes)

    def encrypt_model(self, W) -> bytes:
        """``W`` (``d x n_classes``) encrypted (symmetric, seeded: half the size of a public-key encryption)."""
        W = np.asarray(W, dtype=np.float64)
        if W.shape != (self.d, self.n_classes) or not np.isfinite(W).all():
            raise ValidationError(f"model must be a finite {(self.d, self.n_classes)} array, got {W.shape}")
        pt = seal.Plaintext()
        self._encoder.encode(_slots_vector(W, 0, self.params.slots).tolist(), 2.0 ** self.params.scale_bits, pt)
        ct = self._encryptor.encrypt_symmetric(pt)
        return _frame(MODEL_MAGIC, {"classes": self.n_classes, "d": self.d, "offset": 0}, _dump(ct))

    def decrypt_model(self, data: bytes) -> np.ndarray:
        """The ``d x n_classes`` float64 model in an encrypted model (fresh or trained)."""
        ct, offset = _read_model(self._context, data, self.d, self.n_classes)
        pt = seal.Plaintext()
        self._decryptor.decrypt(ct, pt)
        v = np.roll(np.asarray(self._encoder.decode_double(pt)), -offset)
        return v[:self.d * self.n_classes].reshape(self.n_classes, self.d).T.copy()


def _read_model(context, data: bytes, d: int, n_classes: int):
    header, (ct_bytes,) = _unframe(MODEL_MAGIC, data, 1, "an encrypted model")
    if header.get("d") != d or header.get("classes") != n_classes or not isinstance(header.get("offset"), int):
        raise ValidationError(
            f"encrypted model is for {header.get('d')} x {header.get('classes')}, expected {d} x {n_classes}")
    ct = _load(seal.Ciphertext(), context, ct_bytes, "encrypted model")
    return ct, header["offset"] % (context.first_context_data().parms().poly_modulus_degree() // 2)


# --------------------------------------------------------------------------- CO side

@dataclass(frozen=True)
class _Public:
    d: int
    n_classes: int
    scale: float
    slots: int
    context: object
    galois: object
    evaluator: object
    encoder: object


@lru_cache(maxsize=4)
def _public(data: bytes) -> _Public:
    """The parsed public context (cached: building SEAL's context takes tens of ms)."""
    header, (params_bytes, galois_bytes) = _unframe(CONTEXT_MAGIC, data, 2, "a public context")
    d, n_classes, scale_bits = (header.get(k) for k in ("d", "classes", "scale_bits"))
    if not all(isinstance(v, int) for v in (d, n_classes, scale_bits)) or d < 2 or n_classes < 1:
        raise ValidationError("public context header lacks d, classes or scale_bits")
    context = _seal_context(params_bytes)
    galois = _load(seal.GaloisKeys(), context, galois_bytes, "Galois keys")
    degree = context.key_context_data().parms().poly_modulus_degree()
    for step in (1, baby_step(d)):
        if not galois.has_key(_galois_elt(step, degree)):
            raise ValidationError(f"public context lacks the Galois key for rotations by {step}")
    if d * n_classes > degree // 2 or not 20 <= scale_bits <= 60:
        raise ValidationError("public context layout does not fit its parameters")
    return _Public(d, n_classes, 2.0 ** scale_bits, degree // 2, context, galois, seal.Evaluator(context),
                   seal.CKKSEncoder(context))


def _diagonals(amap, d: int, n_classes: int) -> np.ndarray:
    """``(2d - 1, C*d)``: row ``k + d - 1`` is diagonal ``k`` of the block-diagonal map.

    ``D[u] = blk_c[i, i+k]`` for ``u = c*d + i`` (zero where ``i + k`` leaves
    the block), with ``blk_c`` = ``A`` for trained columns, else the identity.
    """
    D = np.zeros((2 * d - 1, n_classes * d))
    for k in range(-(d - 1), d):
        diag = np.diagonal(amap.A, offset=k)  # A[i, i+k] for i in [max(0, -k), min(d, d - k))
        lo = max(0, -k)
        for c in range(n_classes):
            if amap.trained[c]:
                D[k + d - 1, c * d + lo:c * d + lo + len(diag)] = diag
            elif k == 0:
                D[d - 1, c * d:(c + 1) * d] = 1.0
    return D


def encrypted_local_train(public_context: bytes, encrypted_model: bytes, X, Y, method: TrainingMethod) -> bytes:
    """The CO's job: ``method`` run on the encrypted model with its features ``X`` and targets ``Y``.

    Returns the trained model, still encrypted for the MO. Equal arguments
    give byte-identical results (module docstring). 1.3-2.7 s at d = 384.
    """
    pub = _public(bytes(public_context))
    d, n_classes, slots, scale = pub.d, pub.n_classes, pub.slots, pub.scale
    ct, offset = _read_model(pub.context, encrypted_model, d, n_classes)
    if ct.size() != 2 or ct.parms_id() != pub.context.first_parms_id() or ct.scale != scale:
        raise ValidationError("encrypted model must be a fresh ciphertext at the top level and the context's scale")
    amap = affine_map(X, Y, method, n_classes)
    if amap.A.shape != (d, d):
        raise ValidationError(f"features have {amap.A.shape[0]} columns, the model {d} rows")
    ev, enc = pub.evaluator, pub.encoder
    D = _diagonals(amap, d, n_classes)
    b = baby_step(d)
    k0 = -(d - 1)  # diagonal index of row 0 of D
    giants = -(-(2 * d - 1) // b)
    baby = [ct]  # baby[j] = x rotated left by j
    for _ in range(1, b):
        nxt = seal.Ciphertext()
        ev.rotate_vector(baby[-1], 1, pub.galois, nxt)
        baby.append(nxt)
    acc = None
    pt = seal.Plaintext()
    pad = np.zeros(slots)
    for g in reversed(range(giants)):  # Horner: acc = rot(acc, b) + inner_g
        if acc is not None:
            ev.rotate_vector_inplace(acc, b, pub.galois)
        for j in range(b):
            m = g * b + j
            if m >= 2 * d - 1:
                break
            pad[:n_classes * d] = D[m]
            pad[n_classes * d:] = 0.0
            # y[u] sits at slot offset + k0 + u; inner_g is rotated by g*b afterwards
            enc.encode(np.roll(pad, offset + k0 + g * b).tolist(), ct.parms_id(), scale, pt)
            if pt.is_zero():  # SEAL refuses products that are exactly zero ("transparent")
                continue
            term = seal.Ciphertext()
            ev.multiply_plain(baby[j], pt, term)
            if acc is None:
                acc = term
            else:
                ev.add_inplace(acc, term)
    if acc is None:
        raise ValidationError("the training map is zero; nothing to encrypt without a fresh encryption")
    ev.rescale_to_next_inplace(acc)
    out_offset = (offset + k0) % slots
    enc.encode(_slots_vector(amap.b, out_offset, slots).tolist(), acc.parms_id(), acc.scale, pt)
    if not pt.is_zero():
        ev.add_plain_inplace(acc, pt)
    return _frame(MODEL_MAGIC, {"classes": n_classes, "d": d, "offset": out_offset}, _dump(acc))
