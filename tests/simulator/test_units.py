"""The simulator's pure parts: ids, the TPS window, verdicts, receipt and MO PDUs."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

import dlr
from bridge.simulator import DestinationRule, Outcome, SimulatorConfig
from bridge.simulator.ids import make_id_generator
from bridge.simulator.receipts import OutcomePicker, Verdict, build_mo, build_receipt, preview
from bridge.simulator.throttle import TpsWindow
from bridge.smpp import DeliverSm, SubmitSm, Tag, decode, encode

ID_SHAPES = {
    "decimal": r"[1-9][0-9]{9}",
    "hex": r"[0-9A-F]{8}",
    "uuid": r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
    "hex64": r"[0-9a-f]{64}",
}


@pytest.mark.parametrize("form", sorted(ID_SHAPES))
def test_id_generators_give_unique_ids_of_their_shape(form: str) -> None:
    make = make_id_generator(form, random.Random(7))  # type: ignore[arg-type]
    ids = [make() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(ID_SHAPES[form], i) for i in ids), ids[:3]
    # SMPP 3.4 section 4.4.2: message_id is a C-octet string of at most 65 octets.
    assert max(map(len, ids)) <= 64


def test_id_generators_are_reproducible_with_a_seed() -> None:
    for form in ID_SHAPES:
        a = make_id_generator(form, random.Random(3))  # type: ignore[arg-type]
        b = make_id_generator(form, random.Random(3))  # type: ignore[arg-type]
        assert [a() for _ in range(5)] == [b() for _ in range(5)]


def test_tps_window_allows_exactly_tps_per_second() -> None:
    window = TpsWindow(100)
    allowed = sum(window.allow(0.0 + i * 0.001) for i in range(1000))  # 1000 in one second
    assert allowed == 100
    # A second later the window has slid past the first hundred.
    assert window.allow(1.0)


def test_tps_window_below_one_per_second() -> None:
    window = TpsWindow(0.5)
    assert window.allow(0.0)
    assert not window.allow(1.9)
    assert window.allow(2.0)


def test_tps_window_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        TpsWindow(0)


def _submit(**fields: object) -> SubmitSm:
    base: dict[str, object] = {
        "source_addr_ton": 5, "source_addr": "Bridge", "dest_addr_ton": 1, "dest_addr_npi": 1,
        "destination_addr": "447700900123", "short_message": b"Your code is 123456, valid 5 min",
        "registered_delivery": 1,
    }  # fmt: skip
    base.update(fields)
    return SubmitSm(**base)  # type: ignore[arg-type]


def test_receipt_is_appendix_b_with_tlvs_and_swapped_addresses() -> None:
    submit = _submit()
    receipt = build_receipt(
        submit, "1A2B3C", Verdict("UNDELIV", 1),
        submit_date="2611301200", done_date="2611301201", tlvs=True,
    )  # fmt: skip
    assert receipt.short_message == (
        b"id:1A2B3C sub:001 dlvrd:000 submit date:2611301200 done date:2611301201"
        b" stat:UNDELIV err:001 text:Your code is 123456,"
    )
    assert receipt.esm_class == 0x04  # SMPP 3.4 section 5.2.12: SMSC delivery receipt
    assert (receipt.source_addr, receipt.source_addr_ton) == ("447700900123", 1)
    assert (receipt.destination_addr, receipt.dest_addr_ton) == ("Bridge", 5)
    assert receipt.tlv(Tag.RECEIPTED_MESSAGE_ID) == "1A2B3C"
    assert receipt.tlv(Tag.MESSAGE_STATE) == 5  # UNDELIVERABLE, section 5.2.28
    assert receipt.tlv(Tag.NETWORK_ERROR_CODE) == b"\x03\x00\x01"  # GSM, error 1
    # Through the wire and the daemon's parser.
    wire = decode(encode(receipt, 9))
    assert isinstance(wire, DeliverSm)
    parsed = dlr.parse_receipt(wire.short_message, wire.raw_tlvs, wire.esm_class)
    assert (parsed.id, parsed.state, parsed.err) == ("1A2B3C", dlr.MessageState.UNDELIVERABLE, "001")
    assert parsed.network_error == dlr.NetworkError(type=3, code=1)
    assert parsed.text == "Your code is 123456,"  # Appendix B: the first 20 characters


def test_receipt_built_positionally_equals_the_keyword_form() -> None:
    submit = _submit(dest_addr_npi=9, source_addr_npi=4)
    fast = build_receipt(
        submit, "77", Verdict("DELIVRD", 0), submit_date="a", done_date="b", tlvs=False
    )
    slow = DeliverSm(
        source_addr_ton=1, source_addr_npi=9, source_addr="447700900123",
        dest_addr_ton=5, dest_addr_npi=4, destination_addr="Bridge", esm_class=4,
        short_message=fast.short_message,
    )  # fmt: skip
    assert fast == slow


def test_receipt_without_tlvs_still_parses() -> None:
    receipt = build_receipt(
        _submit(), "0042", Verdict("DELIVRD", 0), submit_date="2611301200",
        done_date="2611301200", tlvs=False,
    )  # fmt: skip
    assert receipt.tlvs == ()
    parsed = dlr.parse_receipt(receipt.short_message, {}, receipt.esm_class)
    assert (parsed.id, parsed.state, parsed.sub, parsed.dlvrd) == (
        "0042", dlr.MessageState.DELIVERED, 1, 1
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"short_message": b"hello"}, "hello"),
        ({"short_message": b"\x05\x00\x03\x07\x02\x01second part text here"}, ""),  # no UDHI
        ({"short_message": b"\x05\x00\x03\x07\x02\x01second part", "esm_class": 0x40},
         "second part"),
        ({"short_message": "привет".encode("utf-16-be"), "data_coding": 8}, ""),
        ({"short_message": b"", "tlvs": ((Tag.MESSAGE_PAYLOAD, b"from payload"),)},
         "from payload"),
    ],
)  # fmt: skip
def test_preview_quotes_only_plain_text(fields: dict[str, object], expected: str) -> None:
    assert preview(_submit(**fields)) == expected


def test_outcome_picker_rules_then_weighted_mix() -> None:
    config = SimulatorConfig(
        outcomes=(Outcome(stat="DELIVRD", weight=3), Outcome(stat="EXPIRED", weight=1, err=27)),
        destination_rules=(
            DestinationRule(suffix="0000", stat="UNDELIV", err=1),
            DestinationRule(prefix="999", submit_status=0x0B),
        ),
    )
    picker = OutcomePicker(config, random.Random(1))
    assert picker.pick("447700900000") == Verdict("UNDELIV", 1)
    assert picker.pick("9991234").submit_status == 0x0B
    drawn = Counter(picker.pick("447700900123").stat for _ in range(4000))
    assert set(drawn) == {"DELIVRD", "EXPIRED"}
    assert 0.70 < drawn["DELIVRD"] / 4000 < 0.80


def test_mo_is_a_plain_deliver_sm() -> None:
    mo = build_mo(3, text="STOP {n}", source="447700900555", destination="12345")
    assert (mo.esm_class, mo.data_coding, mo.short_message) == (0, 0, b"STOP 3")
    assert (mo.source_addr, mo.source_addr_ton, mo.destination_addr) == ("447700900555", 1, "12345")
    with pytest.raises(dlr.NotAReceipt):
        dlr.parse_receipt(mo.short_message, {}, mo.esm_class)
