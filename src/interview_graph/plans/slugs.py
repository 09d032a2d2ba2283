r"""Identifiers a model wrote loosely, made into the plan's identifiers before validation.

Plan ids are slugs (``^[a-z0-9][a-z0-9_\-]*$``).  A server that ignores JSON Schema
``pattern`` lets a model write ``"Cache Design"`` or ``"Q1: Caching"``, and validation then
failed the whole draft (``id: String should match pattern``).  :func:`slugged` gives a model a
twin that slugifies every identifier field of the raw data first — ids and the references to
them alike, with one function, so references still point at what they named.  Strings that
already are slugs are left alone.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, model_validator

from .models import Ident

M = TypeVar("M", bound=BaseModel)

_META: tuple[Any, ...] = getattr(Ident, "__metadata__", ())
PATTERN: str = next(m.pattern for m in _META if getattr(m, "pattern", None))
_SLUG = re.compile(PATTERN)
_MAX: int = next(m.max_length for m in _META if getattr(m, "max_length", None))


def slugify(text: str) -> str:
    """``"Cache Design (LRU)"`` → ``"cache_design_lru"``; a slug comes back unchanged."""
    if _SLUG.match(text) and len(text) <= _MAX:
        return text
    ascii_ = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9_\-]+", "_", ascii_.lower()).strip("_-")
    slug = re.sub(r"_{2,}", "_", slug)[:_MAX].rstrip("_-")
    return slug or "x"


def normalise_ids(data: Any, schema: dict[str, Any]) -> Any:
    """``data`` with every string at an identifier position of ``schema`` slugified."""
    return _walk(data, schema, schema.get("$defs", {}))


def _resolve(node: Any, defs: dict[str, Any]) -> dict[str, Any]:
    while isinstance(node, dict) and "$ref" in node:
        node = defs.get(str(node["$ref"]).rsplit("/", 1)[-1], {})
    return node if isinstance(node, dict) else {}


def _branch(node: dict[str, Any], defs: dict[str, Any], value: Any) -> dict[str, Any]:
    """The ``anyOf``/``oneOf`` branch (if any) that describes ``value``'s JSON type."""
    branches = [_resolve(b, defs) for b in node.get("anyOf", node.get("oneOf", []))]
    if not branches:
        return node
    kinds: dict[type, str] = {str: "string", list: "array", dict: "object"}
    want = kinds.get(type(value))
    for branch in branches:
        kind = branch.get("type") or ("object" if "properties" in branch else None)
        if kind == want:
            return branch
    return node


def _walk(value: Any, node: Any, defs: dict[str, Any]) -> Any:
    node = _branch(_resolve(node, defs), defs, value)
    if isinstance(value, str):
        return slugify(value) if node.get("pattern") == PATTERN else value
    if isinstance(value, list):
        return [_walk(v, node.get("items", {}), defs) for v in value]
    if isinstance(value, dict):
        props = node.get("properties", {})
        extra = node.get("additionalProperties", {})
        keys = _resolve(node.get("propertyNames", {}), defs).get("pattern") == PATTERN
        return {
            (slugify(k) if keys else k): _walk(v, props.get(k, extra), defs)
            for k, v in value.items()
        }
    return value


@cache
def slugged(model: type[M]) -> type[M]:
    """A subclass of ``model`` (same name, same JSON schema) that slugifies identifiers first.

    The name is kept so the request a model sees is the same as for ``model`` itself.
    """
    schema = model.model_json_schema()

    def _slug_ids(cls: type[BaseModel], data: Any) -> Any:
        return normalise_ids(data, schema)

    namespace = {
        "__module__": model.__module__,
        "__doc__": model.__doc__,
        "_slug_ids": model_validator(mode="before")(_slug_ids),
    }
    return type(model.__name__, (model,), namespace)
