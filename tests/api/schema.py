"""A small JSON Schema checker for the answers, over the API's own OpenAPI document.

Enough of JSON Schema for the document we generate ($ref, type, properties,
required, enum, anyOf, allOf, items), stricter in one way: an object may not
carry a property the schema does not list (answers are exactly as documented).
"""

from __future__ import annotations

from typing import Any

import httpx
import msgspec

_TYPES: dict[str, Any] = {
    "string": str, "integer": int, "number": (int, float), "boolean": bool,
    "object": dict, "array": list, "null": type(None),
}  # fmt: skip


def errors(value: Any, schema: dict[str, Any], doc: dict[str, Any], path: str = "$") -> list[str]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return errors(value, doc["components"]["schemas"][name], doc, path)
    found: list[str] = []
    if "allOf" in schema:
        for part in schema["allOf"]:
            found += errors(value, part, doc, path)
    if "anyOf" in schema and all(errors(value, s, doc, path) for s in schema["anyOf"]):
        found.append(f"{path}: matches none of anyOf")
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} not in {schema['enum']}")
    kind = schema.get("type")
    if kind is not None:
        ok = isinstance(value, _TYPES[kind]) and not (kind in ("integer", "number") and isinstance(value, bool))
        if not ok:
            return [*found, f"{path}: {value!r} is not {kind}"]
    if isinstance(value, dict) and "properties" in schema:
        for name in schema.get("required", ()):
            if name not in value:
                found.append(f"{path}: missing {name}")
        for name, item in value.items():
            if name not in schema["properties"]:
                if kind == "object":  # a whole object's schema, not an allOf refinement
                    found.append(f"{path}: undocumented property {name}")
            else:
                found += errors(item, schema["properties"][name], doc, f"{path}.{name}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += errors(item, schema["items"], doc, f"{path}[{i}]")
    return found


def check_answer(doc: dict[str, Any], path: str, method: str, answer: httpx.Response) -> None:
    """The answer's status is documented for the operation and its body matches."""
    responses = doc["paths"][path][method]["responses"]
    assert str(answer.status_code) in responses, (answer.status_code, answer.text)
    documented = responses[str(answer.status_code)]
    assert answer.headers["content-type"] == "application/json"
    body = msgspec.json.decode(answer.content)
    problems = errors(body, documented["content"]["application/json"]["schema"], doc)
    assert not problems, (problems, answer.text)
    for header in documented.get("headers", {}):
        assert answer.headers.get(header, "").isdigit(), (header, answer.headers)
