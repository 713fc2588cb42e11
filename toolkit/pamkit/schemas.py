"""JSON Schemas shipped with the package (export manifest, bench results) and checking documents against them."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from .errors import PamkitError


@cache
def packaged_schema(package: str, name: str) -> dict[str, Any]:
    """A schema file shipped inside a pamkit package."""
    return json.loads(resources.files(package).joinpath(name).read_text())


def check_schema(document: Any, schema: dict[str, Any], what: str) -> None:
    """Raise PamkitError naming the first place where ``document`` (a ``what``) breaks ``schema``."""
    import jsonschema

    try:
        jsonschema.validate(document, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise PamkitError(f"{what} does not follow its schema at {where}: {exc.message}") from None
