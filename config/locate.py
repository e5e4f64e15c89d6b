"""A configuration error's key path -> the line of the TOML file it was written on.

msgspec reports where a value failed as a path (``$.carriers[0].port``); the
operator wants the file's line. TOML allows the same key to be written in many
shapes (tables, arrays of tables, dotted keys, inline tables), so this is a
best effort: ``None`` when the line cannot be found, never a wrong line on
purpose.
"""

from __future__ import annotations

import re

__all__ = ["PathT", "locate_key"]

PathT = tuple[str | int, ...]

_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*(?P<name>[^\[\]]+?)\s*\]\]")
_TABLE_HEADER = re.compile(r"^\s*\[\s*(?P<name>[^\[\]]+?)\s*\]")
_KEY_LINE = re.compile(r"^\s*(?P<key>[A-Za-z0-9_\-]+(?:\s*\.\s*[A-Za-z0-9_\-]+)*|\"[^\"]*\")\s*=")


def _split_dotted(name: str) -> list[str]:
    return [part.strip().strip('"') for part in name.split(".")]


def locate_key(text: str, path: PathT) -> int | None:
    """Best-effort 1-based line of ``path`` (e.g. ``("carriers", 0, "port")``) in TOML text.

    Tracks table headers, counting ``[[array]]`` tables, and returns the line
    whose key path is the longest prefix of ``path`` (a missing key points at
    its table's header). Inline tables and arrays resolve to the key holding them.
    """
    if not path:
        return None
    counts: dict[tuple[str | int, ...], int] = {}
    arrays: set[tuple[str, ...]] = set()
    table: PathT = ()
    best: tuple[int, int] | None = None  # (score, line)

    def resolve(keys: list[str], new_array: bool) -> PathT:
        out: list[str | int] = []
        plain: list[str] = []
        for n, key in enumerate(keys):
            out.append(key)
            plain.append(key)
            last = n == len(keys) - 1
            if new_array and last:
                counts[tuple(plain)] = counts.get(tuple(plain), -1) + 1
                arrays.add(tuple(plain))
            if tuple(plain) in arrays:
                out.append(counts[tuple(plain)])
        return tuple(out)

    for lineno, line in enumerate(text.splitlines(), start=1):
        candidate: PathT | None = None
        if m := _ARRAY_HEADER.match(line):
            table = resolve(_split_dotted(m.group("name")), new_array=True)
            candidate = table
        elif m := _TABLE_HEADER.match(line):
            table = resolve(_split_dotted(m.group("name")), new_array=False)
            candidate = table
        elif m := _KEY_LINE.match(line):
            candidate = table + tuple(_split_dotted(m.group("key")))
        if candidate is None or candidate != path[: len(candidate)]:
            continue
        score = len(candidate)
        if best is None or score > best[0]:
            best = (score, lineno)
    return best[1] if best else None
