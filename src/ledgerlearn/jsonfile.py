"""Read a JSON file a user named, with errors that say which file and what is wrong."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ledgerlearn.errors import NotFoundError, ValidationError


def read_json(path: str | os.PathLike, what: str, expect: type = dict) -> Any:
    """The JSON value in ``path``, which must be an ``expect`` (``dict`` or ``list``).

    Raises NotFoundError when there is no such file and ValidationError (both
    prefixed with ``what``) when it is not JSON or not the expected kind.
    """
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"{what}: no file at {str(path)!r}")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValidationError(f"{what}: {str(path)!r} is not JSON ({exc})") from None
    if not isinstance(value, expect):
        raise ValidationError(f"{what}: {str(path)!r} must hold a JSON {'object' if expect is dict else 'list'}")
    return value
