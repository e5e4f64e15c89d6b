"""The id formats that break SMPP 3.4 section 4.4.2, and throttle_status (bridge/simulator)."""

from __future__ import annotations

import random

import pytest

from bridge.simulator.config import config_from_mapping
from bridge.simulator.ids import make_id_generator, oversized_resp
from bridge.smpp import DataSmResp, SubmitSmResp
from bridge.smpp.codec import decode


@pytest.mark.parametrize(("form", "length"), [("hex70", 70), ("hex255", 255), ("empty", 0), ("latin1", 11)])
def test_formats(form: str, length: int) -> None:
    make = make_id_generator(form, random.Random(1))  # type: ignore[arg-type]
    ids = [make() for _ in range(100)]
    assert {len(i) for i in ids} == {length}
    if form != "empty":
        assert len(set(ids)) == 100
    if form == "latin1":
        with pytest.raises(UnicodeDecodeError):
            ids[0].encode("latin-1").decode("utf-8")


@pytest.mark.parametrize("resp_type", [SubmitSmResp, DataSmResp])
def test_oversized_responses_decode_with_our_codec(resp_type: type[SubmitSmResp]) -> None:
    message_id = "F" * 255
    pdu = decode(oversized_resp(resp_type(sequence_number=7, message_id=message_id)))
    assert type(pdu) is resp_type and pdu.sequence_number == 7 and pdu.message_id == message_id


def test_throttle_status_is_0x58_or_0x14() -> None:
    assert config_from_mapping({}).throttle_status == 0x58
    assert config_from_mapping({"throttle_status": 0x14, "message_id_format": "hex70"}).throttle_status == 0x14
    with pytest.raises(ValueError):
        config_from_mapping({"throttle_status": 0x08})
