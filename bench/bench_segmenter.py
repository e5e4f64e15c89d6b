"""Segmenting a seeded corpus of mixed messages, parts included, against smpplib.

The corpus mixes what an SMS API sees: short GSM texts (OTPs, alerts), texts
with extension characters, accented GSM texts, long multipart texts, and
UCS-2 texts with emoji. Both sides produce the parts of every message:
``segmenter.segment`` (text of each part, units) and smpplib's
``smpplib.gsm.make_parts`` (encoded parts with UDH).
"""

from __future__ import annotations

import random
import warnings
from typing import Any

from bench.common import measure, ratio, target

DESCRIPTION = "segment() on 100,000 mixed messages vs smpplib.gsm.make_parts"

SEED = 20261122
_ASCII_GSM = (
    "abcdefghijklmnopqrstuvwxyz" * 3 + "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + " " * 12 + ".,:;!?-+*/()'\"#%&<=>@$_"
)
_EXTENSION = "€[]{}^~|\\"
_ACCENTED = "éèùìòÇØøÅåÄÖÑÜäöñüàßÉΔΦΓΛΩΠΨΣΘΞ£¥§¿¡"
_UCS2 = "你好世界привет日本語ąęłńśźżçğış"
_EMOJI = "😀🎉👍🚀❤✅🙂💬"


def _text(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choices(alphabet, k=length))


def corpus(count: int, seed: int = SEED) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.45:  # short GSM: OTPs, alerts
            texts.append(_text(rng, _ASCII_GSM, rng.randint(10, 160)))
        elif kind < 0.60:  # GSM with extension characters, some long
            body = _text(rng, _ASCII_GSM, rng.randint(20, 400))
            pos = sorted(rng.sample(range(len(body)), k=min(4, len(body))))
            texts.append("".join(body[a:b] + rng.choice(_EXTENSION) for a, b in zip([0, *pos], pos, strict=False)) + body[pos[-1]:])
        elif kind < 0.70:  # accented GSM
            texts.append(_text(rng, _ASCII_GSM * 4 + _ACCENTED, rng.randint(20, 300)))
        elif kind < 0.85:  # long GSM multipart
            texts.append(_text(rng, _ASCII_GSM, rng.randint(161, 1200)))
        else:  # UCS-2, emoji, some long
            texts.append(_text(rng, _ASCII_GSM + _UCS2 + _EMOJI, rng.randint(5, 300)))
    return texts


def run(quick: bool) -> dict[str, Any]:
    import segmenter

    count = 10_000 if quick else 100_000
    texts = corpus(count)
    segment = segmenter.segment

    def ours() -> object:
        return [segment(t) for t in texts]

    figures = [measure("segmenter.segment", ours, count, repeats=5, unit="messages/s")]
    ratios: dict[str, float] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from smpplib.gsm import make_parts
    except ImportError:
        make_parts = None
    if make_parts is not None:

        def theirs() -> object:
            return [make_parts(t) for t in texts]

        peer = measure("smpplib.gsm.make_parts", theirs, count, repeats=3, unit="messages/s")
        figures.append(peer)
        ratios["segmenter / smpplib"] = ratio(figures[0], peer)
    segments = sum(s.segments for s in ours())  # type: ignore[attr-defined]
    result: dict[str, Any] = {
        "figures": [f.as_dict() for f in figures],
        "ratios": ratios,
        "targets": {"messages/s": target(200_000, figures[0].median)},
        "corpus": {"messages": count, "segments": segments, "seed": SEED},
    }
    if ratios:
        result["targets"]["x smpplib"] = target(2.0, ratios["segmenter / smpplib"])
    return result
