"""An independent, deliberately naive model of the segmentation rules.

Per-character loops straight from the spec text, sharing nothing with the
segmenter's fast paths except the character tables: the properties compare
the two.
"""

from __future__ import annotations

from segmenter.tables import ESC, LOCKING, SINGLE


def gsm_costs(text: str, locking: int = 0, single: int = 0) -> list[int] | None:
    """Septets per character (1 locking table, 2 ESC + single shift), None if unencodable."""
    lock = {c for i, c in enumerate(LOCKING[locking]) if c != "\x00" and i != ESC}
    ext = {c for i, c in enumerate(SINGLE[single]) if c != "\x00" and i != ESC}
    costs = []
    for c in text:
        if c in lock:
            costs.append(1)
        elif c in ext:
            costs.append(2)
        else:
            return None
    return costs


def ucs2_costs(text: str) -> list[int]:
    return [2 if ord(c) > 0xFFFF else 1 for c in text]


def greedy(costs: list[int], single: int, multi: int) -> list[int]:
    """Characters per part: everything in one part if it fits, else fill each part."""
    if sum(costs) <= single:
        return [len(costs)]
    counts, used, n = [], 0, 0
    for cost in costs:
        if used + cost > multi:
            counts.append(n)
            used, n = 0, 0
        used += cost
        n += 1
    counts.append(n)
    return counts


def minimal_parts(costs: list[int], size: int) -> int:
    """The fewest parts of at most ``size`` units, by dynamic programming."""
    n = len(costs)
    best = [0] + [n + 1] * n
    for end in range(1, n + 1):
        used = 0
        for start in range(end - 1, -1, -1):
            used += costs[start]
            if used > size:
                break
            best[end] = min(best[end], best[start] + 1)
    return best[n]
