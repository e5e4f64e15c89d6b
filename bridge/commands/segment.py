"""`smpp-bridge segment TEXT`: show how a text is split into SMS segments and what it costs."""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal, InvalidOperation


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", metavar="TEXT", help='the message text ("-" reads standard input)')
    parser.add_argument("--rate", metavar="MYR", help="price per segment, e.g. 0.0525")
    parser.add_argument(
        "--reference-bits", type=int, choices=(8, 16), default=8,
        help="concatenation reference size the carrier uses (default 8)",
    )
    parser.add_argument(
        "--shift-tables", metavar="CODES", default="",
        help="national language tables allowed, ISO 639-1, comma-separated (e.g. tr or tr,es)",
    )


def _rate(value: str) -> Decimal:
    try:
        rate = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"--rate {value!r} is not a decimal amount") from None
    if not rate.is_finite() or rate < 0:
        raise ValueError(f"--rate {value!r} must be a finite, non-negative amount")
    return rate


def run(args: argparse.Namespace) -> int:
    from segmenter import Encoding, ForbiddenCharacter, MessageTooLong, check_body, price, segment
    from segmenter.tables import LANGUAGES

    text = sys.stdin.read() if args.text == "-" else args.text
    tables = tuple(code.strip() for code in args.shift_tables.split(",") if code.strip())
    try:
        rate = _rate(args.rate) if args.rate is not None else None
        check_body(text)  # what enqueue refuses, refused here too (segmenter/body.py)
        seg = segment(text, reference_bits=args.reference_bits, shift_tables=tables)
    except MessageTooLong as exc:
        print(f"error: too long: {exc}", file=sys.stderr)
        return 2
    except ForbiddenCharacter as exc:
        print(f"error: the text has {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    unit = "septet" if seg.encoding is Encoding.GSM7 else "UTF-16 unit"
    names = {nli: code for code, nli in LANGUAGES.items()}
    print(f"encoding: {seg.encoding.value}")
    print(f"segments: {seg.segments}" + (
        f" ({seg.reference_bits}-bit concatenation reference)" if seg.segments > 1 else ""
    ))
    if seg.locking_shift or seg.single_shift:
        print(f"locking shift: {names.get(seg.locking_shift, 'default')}, "
              f"single shift: {names.get(seg.single_shift, 'default')}")
    width = len(str(seg.segments))
    for number, (part, units) in enumerate(zip(seg.parts, seg.units_per_part, strict=True), 1):
        plural = "" if units == 1 else "s"
        shown = json.dumps(part, ensure_ascii=False)
        print(f"part {number:>{width}}: {units:>3} {unit}{plural}  {shown}")
    if rate is not None:
        print(f"price: {price(seg, rate)} MYR ({seg.segments} x {rate})")
    return 0
