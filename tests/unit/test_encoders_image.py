"""Image encoders: dense L2-normalised pixels and binarised pixel indices."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ledgerlearn.encoders import (
    ENCODER_NAMES,
    IMAGE_BINARY,
    IMAGE_DENSE,
    SCALE,
    ImageBinaryEncoder,
    ImageDenseEncoder,
    fixed_norm_error,
    get_encoder,
    l2_normalize_fixed,
    l2_normalize_fixed_rows,
    validate_input,
)
from ledgerlearn.errors import ValidationError


def _images(n=5, seed=0):
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    imgs[imgs < 90] = 0  # MNIST-like: mostly black
    return imgs


def test_names_are_registered():
    assert IMAGE_DENSE in ENCODER_NAMES and IMAGE_BINARY in ENCODER_NAMES
    assert isinstance(get_encoder(IMAGE_DENSE), ImageDenseEncoder)
    assert isinstance(get_encoder(IMAGE_BINARY), ImageBinaryEncoder)


def test_dense_image_has_l2_norm_one():
    enc = get_encoder(IMAGE_DENSE)
    img = _images(1)[0]
    x = enc.encode(img, "dense perceptron")
    assert len(x) == 28 * 28 and all(isinstance(v, int) for v in x)
    assert fixed_norm_error(x) < 1e-7
    assert validate_input(x, "dense perceptron") == x
    assert validate_input(enc.encode(img, "nearest centroid classifier"), "nearest centroid classifier")
    # exactly the dense normaliser applied to the pixels scaled to [0, 1], row by row
    assert x == l2_normalize_fixed((img.reshape(-1) / 255).tolist())
    assert x[0] == 0 or img[0, 0] > 0
    # the same image as nested lists, as a flat vector, or as floats
    assert enc.encode(img.tolist()) == x
    assert enc.encode(img.reshape(-1)) == x
    assert enc.encode(img.astype(np.float32)) == x
    # one bright pixel is the unit vector
    one = np.zeros((3, 4), dtype=np.uint8)
    one[1, 2] = 200
    assert enc.encode(one) == [0] * 6 + [SCALE] + [0] * 5


def test_dense_batch_is_bit_identical():
    enc = ImageDenseEncoder()
    imgs = _images(20, seed=1)
    arr = enc.encode_array(imgs)
    assert arr.shape == (20, 784) and arr.dtype == np.int64
    single = [enc.encode(im) for im in imgs]
    assert arr.tolist() == single == enc.encode_many(list(imgs))
    assert enc.encode_many(imgs.reshape(20, -1)) == single  # already flattened
    assert enc.encode_many([]) == []
    # the vectorised normaliser agrees with the list one on awkward floats too
    rng = np.random.default_rng(7)
    rows = rng.normal(size=(50, 97)) * 10.0 ** rng.integers(-5, 5, size=(50, 1))
    assert l2_normalize_fixed_rows(rows).tolist() == [l2_normalize_fixed(r.tolist()) for r in rows]
    with pytest.raises(ValidationError, match=r"rows\[1\]"):
        l2_normalize_fixed_rows([[1.0, 0.0], [0.0, 0.0]])


def test_binarised_indices():
    enc = get_encoder(IMAGE_BINARY)
    img = np.zeros((4, 5), dtype=np.uint8)
    img[0, 1] = 128  # on (the threshold is inclusive)
    img[2, 0] = 127  # off
    img[3, 4] = 255
    img[1, 3] = 200
    assert enc.encode(img, "sparse perceptron") == [1, 8, 19]
    # naive Bayes gets the same unique indices (Bernoulli-style presence features)
    assert enc.encode(img, "naive bayes") == [1, 8, 19]
    assert enc.encode(img, "sparse nearest centroid classifier") == [1, 8, 19]
    assert enc.binary is True
    assert validate_input(enc.encode(img), "sparse perceptron") == [1, 8, 19]
    assert enc.encode(np.zeros((2, 2), dtype=np.uint8)) == []
    imgs = _images(10, seed=2)
    assert enc.encode_many(imgs, "naive bayes") == [np.flatnonzero(im.reshape(-1) >= 128).tolist() for im in imgs]
    assert enc.encode_many([im.tolist() for im in imgs]) == enc.encode_many(imgs)


def test_image_files(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    img = _images(1, seed=3)[0]
    p = tmp_path / "digit.png"
    Image.fromarray(img, mode="L").save(p)
    assert get_encoder(IMAGE_DENSE).encode(str(p)) == get_encoder(IMAGE_DENSE).encode(img)
    assert get_encoder(IMAGE_BINARY).encode(p) == get_encoder(IMAGE_BINARY).encode(img)
    # colour files are converted to grey-scale
    rgb = tmp_path / "rgb.png"
    Image.fromarray(np.stack([img] * 3, axis=-1), mode="RGB").save(rgb)
    assert get_encoder(IMAGE_BINARY).encode(rgb) == get_encoder(IMAGE_BINARY).encode(img)
    with pytest.raises(ValidationError, match="image.*no image file"):
        get_encoder(IMAGE_DENSE).encode(tmp_path / "missing.png")
    bad = tmp_path / "bad.png"
    bad.write_text("not a picture")
    with pytest.raises(ValidationError, match="image"):
        get_encoder(IMAGE_BINARY).encode(bad)


def test_image_errors():
    dense, binary = ImageDenseEncoder(), ImageBinaryEncoder()
    with pytest.raises(ValidationError, match="all-black"):
        dense.encode(np.zeros((28, 28), dtype=np.uint8))
    with pytest.raises(ValidationError, match=r"images\[1\].*all-black"):
        dense.encode_many([np.ones((2, 2)), np.zeros((2, 2))])
    with pytest.raises(ValidationError, match="image: pixel 1 is 256"):
        dense.encode([[0, 256], [0, 0]])
    with pytest.raises(ValidationError, match="image: pixel 0"):
        binary.encode([[-1, 0]])
    with pytest.raises(ValidationError, match="image: pixel 0"):
        binary.encode([[math.nan]])
    with pytest.raises(ValidationError, match=r"images\[2\]: pixel 3"):
        binary.encode_many(np.array([[0, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 300]]))
    with pytest.raises(ValidationError, match="shape"):
        binary.encode(np.zeros((2, 2, 3)))
    with pytest.raises(ValidationError, match="rectangular"):
        binary.encode([[1, 2], [3]])
    with pytest.raises(ValidationError, match="no pixels"):
        binary.encode([])
    with pytest.raises(ValidationError, match="numbers"):
        binary.encode([["a", "b"]])
    with pytest.raises(ValidationError, match="numbers"):
        binary.encode(np.ones((2, 2), dtype=bool))
    with pytest.raises(ValidationError, match="differ in size"):
        binary.encode_many([np.ones((2, 2)), np.ones((3, 3))])
    with pytest.raises(ValidationError, match="images"):
        binary.encode_many("digit.png")
    # each variant refuses the other kind of model
    with pytest.raises(ValidationError, match="encoder"):
        dense.encode(np.ones((2, 2)), "sparse perceptron")
    with pytest.raises(ValidationError, match="encoder"):
        binary.encode(np.ones((2, 2)), "dense perceptron")
    with pytest.raises(ValidationError, match="encoder"):
        binary.encode_many([np.ones((2, 2))], "nearest centroid classifier")
    with pytest.raises(ValidationError, match="model_type"):
        binary.encode(np.ones((2, 2)), "random forest")
