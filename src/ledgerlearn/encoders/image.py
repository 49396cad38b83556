"""Image encoders: a grey-scale image (e.g. 28x28 MNIST) to a model input.

An image is a 2-D array of pixel values in [0, 255] (``uint8``, or integers
or floats in that range), given as a numpy array, nested lists, an already
flattened 1-D vector, or the path of an image file (read with Pillow and
converted to grey-scale "L"). Pixels are flattened row by row.

- :class:`ImageDenseEncoder` (:data:`IMAGE_DENSE`), for dense models: scale to
  [0, 1] (divide by 255), scale to L2 norm 1, multiply by 1e9 and round;
  exactly :func:`ledgerlearn.encoders.dense.l2_normalize_fixed` of the scaled
  pixels (the batch path gives bit-identical results).
- :class:`ImageBinaryEncoder` (:data:`IMAGE_BINARY`), for sparse models and
  naive Bayes: the sorted indices of the pixels ``>= 128`` (the image
  binarised at 128: Bernoulli-style presence features, each index once).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ledgerlearn.encoders.dense import l2_normalize_fixed, l2_normalize_fixed_rows
from ledgerlearn.errors import ValidationError

IMAGE_DENSE = "Image: flatten, divide by 255, L2 norm 1, multiply by 1E9, round"
IMAGE_BINARY = "Image: flatten, indices of pixels >= 128"
#: Pixels at or above this value are "on" for :class:`ImageBinaryEncoder`.
THRESHOLD = 128


def _read_file(path: Path) -> np.ndarray:
    try:
        from PIL import Image  # Pillow comes with matplotlib, a dependency
    except ImportError:  # pragma: no cover - Pillow is always installed with matplotlib
        raise ValidationError("image: reading image files needs Pillow (pip install pillow)") from None
    if not path.is_file():
        raise ValidationError(f"image: no image file at {str(path)!r}")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L"))
    except (OSError, ValueError) as exc:
        raise ValidationError(f"image: {str(path)!r} is not a readable image ({exc})") from exc


def _as_array(raw, what: str) -> np.ndarray:
    if isinstance(raw, (str, os.PathLike)):
        return _read_file(Path(raw))
    try:
        arr = np.asarray(raw)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise ValidationError(f"{what}: not a rectangular array of pixels ({exc})") from None
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValidationError(f"{what}: pixels must be numbers in [0, 255], got {arr.dtype} values")
    return arr


def _checked_rows(rows: np.ndarray, what: str, batch: bool) -> np.ndarray:
    """``rows`` (n, d) as float64, every value a pixel in [0, 255]."""
    x = rows.astype(np.float64)
    bad = ~np.isfinite(x) | (x < 0) | (x > 255)
    if bad.any():
        i, j = (int(k) for k in np.argwhere(bad)[0])
        where = f"{what}[{i}]" if batch else what
        raise ValidationError(f"{where}: pixel {j} is {float(x[i, j]):g}, outside [0, 255]")
    return x


def image_pixels(raw, what: str = "image") -> np.ndarray:
    """``raw`` as a 1-D float64 array of pixel values in [0, 255], row by row."""
    arr = _as_array(raw, what)
    if arr.ndim not in (1, 2):
        raise ValidationError(f"{what}: expected a 2-D grey-scale image (or a flat pixel vector), got shape {arr.shape}")
    if arr.size == 0:
        raise ValidationError(f"{what}: the image has no pixels")
    return _checked_rows(arr.reshape(1, -1), what, batch=False)[0]


def image_batch(raws, what: str = "images") -> np.ndarray:
    """A batch of images -> a 2-D float64 array, one flattened image per row.

    ``raws``: an array ``(n, H, W)`` or ``(n, H*W)``, or a list of images
    (arrays, nested lists, paths) of one size.
    """
    if isinstance(raws, (str, os.PathLike)):
        raise ValidationError(f"{what}: expected a list of images, got one path (use encode)")
    if isinstance(raws, np.ndarray) and raws.ndim in (2, 3) and raws.dtype != object:
        if len(raws) == 0:
            return np.zeros((0, 0))
        return _checked_rows(_as_array(raws, what).reshape(len(raws), -1), what, batch=True)
    try:
        items = list(raws)
    except TypeError:
        raise ValidationError(f"{what}: expected a list of images, got {type(raws).__name__}") from None
    if not items:
        return np.zeros((0, 0))
    rows = [image_pixels(r, f"{what}[{i}]") for i, r in enumerate(items)]
    if len({r.size for r in rows}) > 1:
        raise ValidationError(f"{what}: the images differ in size")
    return np.stack(rows)


def _refuse(name: str, model_type: str | None, wanted: str, other: str) -> None:
    from ledgerlearn.encoders import input_kind

    if model_type is None and wanted == "dense":
        return  # no model named: the caller asked for this encoder's output as is
    kind = input_kind(model_type)
    if (kind == "dense") != (wanted == "dense"):
        raise ValidationError(f"encoder: {name!r} cannot feed a {model_type!r} model (use {other!r})")


class ImageDenseEncoder:
    """:data:`IMAGE_DENSE`: pixels / 255, L2 norm 1, fixed point (dense models)."""

    name = IMAGE_DENSE
    kind = "image"

    def encode(self, raw, model_type: str | None = "dense perceptron") -> list[int]:
        _refuse(self.name, model_type, "dense", IMAGE_BINARY)
        pixels = image_pixels(raw) / 255.0
        if not pixels.any():
            raise ValidationError("image: an all-black image cannot be normalised to L2 norm 1")
        return l2_normalize_fixed(pixels.tolist())

    def encode_array(self, raws, model_type: str | None = "dense perceptron") -> np.ndarray:
        """A batch -> an ``(n, H*W)`` int64 array, row ``i`` equal to ``encode(raws[i])``."""
        _refuse(self.name, model_type, "dense", IMAGE_BINARY)
        x = image_batch(raws) / 255.0
        if len(x) == 0:
            return np.zeros((0, 0), dtype=np.int64)
        black = ~x.any(axis=1)
        if black.any():
            raise ValidationError(f"images[{int(np.flatnonzero(black)[0])}]: an all-black image cannot be normalised to L2 norm 1")
        return l2_normalize_fixed_rows(x)

    def encode_many(self, raws, model_type: str | None = "dense perceptron") -> list[list[int]]:
        """``[encode(r) for r in raws]``, vectorised."""
        return self.encode_array(raws, model_type).tolist()

    def __repr__(self) -> str:
        return f"ImageDenseEncoder({self.name!r})"


class ImageBinaryEncoder:
    """:data:`IMAGE_BINARY`: indices of pixels ``>= 128`` (sparse models, naive Bayes)."""

    name = IMAGE_BINARY
    kind = "image"
    binary = True  # each index at most once, for naive Bayes too

    def encode(self, raw, model_type: str | None = None) -> list[int]:
        _refuse(self.name, model_type, "indices", IMAGE_DENSE)
        return np.flatnonzero(image_pixels(raw) >= THRESHOLD).tolist()

    def encode_many(self, raws, model_type: str | None = None) -> list[list[int]]:
        """``[encode(r) for r in raws]``, vectorised."""
        _refuse(self.name, model_type, "indices", IMAGE_DENSE)
        on = image_batch(raws) >= THRESHOLD
        return [np.flatnonzero(row).tolist() for row in on]

    def __repr__(self) -> str:
        return f"ImageBinaryEncoder({self.name!r})"
