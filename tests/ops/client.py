"""A plain HTTP GET for the tests (urllib in a thread: the endpoint runs in the test's trio loop)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import trio
from prometheus_client.parser import text_string_to_metric_families


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.headers.get("content-type", ""), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("content-type", ""), exc.read()


async def get(url: str) -> tuple[int, str, bytes]:
    return await trio.to_thread.run_sync(_get, url)


async def get_json(url: str) -> tuple[int, Any]:
    status, _, body = await get(url)
    return status, json.loads(body)


async def scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """/metrics parsed by prometheus_client's own parser: sample name -> labels -> value."""
    status, ctype, body = await get(url)
    assert status == 200 and ctype.startswith("text/plain")
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def value(metrics: dict[str, dict[tuple[tuple[str, str], ...], float]], name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for k, v in metrics.get(name, {}).items() if want <= set(k))
