"""submit_sm built from a claimed part (no I/O)."""

from __future__ import annotations

import msgspec
import pytest

import segmenter
from bridge.dispatch.parts import ClaimedPart
from bridge.dispatch.submit import PayloadCache, build_submit_sm, relative_validity
from config.load import parse_config
from config.schema import Carrier

CARRIER = parse_config(
    """
[[carriers]]
name = "c"
host = "h"
system_id = "s"
validity_period = "72h"
[carriers.segmentation]
concat = "udh16"
""",
    source="t.toml",
).carriers[0]

BODY = "a" * 152 + "€" + "a" * 152  # 3 parts with a 16-bit reference (docs/segmenter.md)


def _part(seq: int, profile: segmenter.Profile, **kw: object) -> ClaimedPart:
    seg = segmenter.segment_for(BODY, profile)
    fields: dict[str, object] = dict(
        message_id=7, seq=seq, total=seg.segments, body=seg.parts[seq - 1], route="r", attempts=1,
        owner=1, destination="+60123456789", sender_id="Acme", sender_ton=5, sender_npi=0,
        concat_ref=0x1234, campaign_body=BODY, previous_carrier=None,
    )  # fmt: skip
    fields.update(kw)
    return ClaimedPart(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(72 * 3600, "000003000000000R"), (90, "000000000130000R"), (400 * 86400, "010105000000000R")],
)
def test_relative_validity(seconds: float, text: str) -> None:
    assert relative_validity(seconds) == text  # SMPP 3.4 section 7.1.1.2


def test_submit_sm_fields_and_payload() -> None:
    profile = CARRIER.segmentation
    cache = PayloadCache()
    part = _part(2, profile)
    payload = cache.payload(part, profile)
    expected = segmenter.segment_for(BODY, profile).payloads(0x1234, profile)[1]
    assert payload == expected
    pdu = build_submit_sm(part, expected, CARRIER)
    assert (pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr) == (1, 1, "60123456789")
    assert (pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr) == (5, 0, "Acme")
    assert pdu.registered_delivery == 0x01 and pdu.validity_period == "000003000000000R"
    assert pdu.short_message == expected.short_message and pdu.esm_class == 0x40
    assert pdu.short_message[:7] == bytes([6, 8, 4, 0x12, 0x34, 3, 2])  # UDH IE 0x08, part 2 of 3


def test_forced_source_ton_npi() -> None:
    forced: Carrier = msgspec.structs.replace(
        CARRIER, source=msgspec.structs.replace(CARRIER.source, force_ton=1, force_npi=1)
    )
    part = _part(1, forced.segmentation)
    payload = PayloadCache().payload(part, forced.segmentation)
    assert payload is not None
    pdu = build_submit_sm(part, payload, forced)
    assert (pdu.source_addr_ton, pdu.source_addr_npi) == (1, 1)


def test_a_part_that_is_not_what_was_billed_is_not_built() -> None:
    profile = CARRIER.segmentation
    assert PayloadCache().payload(_part(1, profile, body="something else"), profile) is None
    # a different profile splits differently (8-bit reference: 153 septets a part, not 152)
    other = segmenter.Profile(concat=segmenter.Concat.UDH8)
    body = "a" * 200
    seg = segmenter.segment_for(body, profile)
    part = _part(1, profile, campaign_body=body, body=seg.parts[0], total=seg.segments)
    assert PayloadCache().payload(part, other) is None


def test_a_16_bit_reference_on_an_8_bit_profile_uses_its_low_octet() -> None:
    # concat_refs are allocated 16-bit; TS 23.040 9.2.3.24.1 IE 0x00 has one octet
    profile = segmenter.Profile(concat=segmenter.Concat.UDH8)
    body = "a" * 200
    seg = segmenter.segment_for(body, profile)
    part = _part(1, profile, campaign_body=body, body=seg.parts[0], total=seg.segments, concat_ref=0x1234)
    payload = PayloadCache().payload(part, profile)
    assert payload is not None and payload.short_message[:6] == bytes([5, 0, 3, 0x34, 2, 1])


def test_a_body_is_segmented_once_per_profile_and_each_message_keeps_its_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    profile = CARRIER.segmentation
    short = segmenter.segment_for(BODY[:20], profile).payloads(0, profile)[0]
    one_part = [
        _part(1, profile, message_id=m, total=1, body=BODY[:20], campaign_body=BODY[:20]) for m in range(5)
    ]  # one campaign: five one-part messages, one body
    long_parts = [_part(1, profile, message_id=10, concat_ref=0x0101), _part(1, profile, message_id=11, concat_ref=0x0202)]
    calls: list[str] = []
    real = segmenter.segment_for
    monkeypatch.setattr(segmenter, "segment_for", lambda body, p: calls.append(body) or real(body, p))
    cache = PayloadCache()
    assert [cache.payload(part, profile) for part in one_part] == [short] * 5
    first, second = (cache.payload(part, profile) for part in long_parts)
    assert calls == [BODY[:20], BODY]
    assert first is not None and second is not None
    assert first.short_message[3:5] == b"\x01\x01" and second.short_message[3:5] == b"\x02\x02"
