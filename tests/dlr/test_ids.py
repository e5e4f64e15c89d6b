"""Message-id keys per form, and the form proposer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlr import MAX_ID_LENGTH, IdForm, MessageIdError, id_key, propose_id_forms

F = IdForm


def test_forms_are_the_config_values() -> None:
    assert [f.value for f in F] == ["exact", "normalized", "hex", "decimal"]


@pytest.mark.parametrize(
    ("message_id", "form", "key"),
    [
        ("AbC", F.EXACT, "AbC"),
        ("007", F.EXACT, "007"),
        ("00AbC", F.NORMALIZED, "abc"),
        ("0000", F.NORMALIZED, "0"),
        ("0", F.NORMALIZED, "0"),
        (" 42 ", F.NORMALIZED, "42"),
        ("5B1E0F0C-9D3E-4C51-A0F5-7E4D2A9B6C18", F.NORMALIZED,
         "5b1e0f0c-9d3e-4c51-a0f5-7e4d2a9b6c18"),
        ("ff", F.HEX, "255"),
        ("00FF", F.HEX, "255"),
        ("0xff", F.HEX, "255"),
        ("0", F.HEX, "0"),
        ("F" * 64, F.HEX, str(16**64 - 1)),
        ("0042", F.DECIMAL, "42"),
        ("000", F.DECIMAL, "0"),
    ],
)
def test_id_key_examples(message_id: str, form: IdForm, key: str) -> None:
    assert id_key(message_id, form) == key
    assert id_key(message_id, form.value) == key


def test_default_form_is_normalized() -> None:
    assert id_key("00AB") == id_key("00AB", F.NORMALIZED) == "ab"


@pytest.mark.parametrize(
    ("message_id", "form"),
    [("12G", F.HEX), ("0x", F.HEX), ("ab cd", F.HEX), ("1_0", F.HEX), ("-1", F.HEX),
     ("12a", F.DECIMAL), ("1_000", F.DECIMAL), ("+5", F.DECIMAL), ("\u0663", F.DECIMAL),
     ("", F.NORMALIZED), ("  ", F.NORMALIZED), ("", F.EXACT), ("", F.HEX),
     ("1" * (MAX_ID_LENGTH + 1), F.DECIMAL), ("a" * (MAX_ID_LENGTH + 1), F.EXACT)],
)
def test_ids_not_of_their_form_are_refused(message_id: str, form: IdForm) -> None:
    with pytest.raises(MessageIdError) as info:
        id_key(message_id, form)
    assert info.value.message_id == message_id
    assert info.value.form == form
    assert isinstance(info.value, ValueError)


def test_unknown_form_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        id_key("1", "octal")


@given(st.integers(0, 16**64 - 1), st.integers(0, 8), st.booleans(), st.booleans(), st.integers(0, 8))
def test_hex_and_decimal_keys_are_the_value(
    value: int, hex_pad: int, upper: bool, prefix: bool, dec_pad: int
) -> None:
    digits = f"{value:x}"
    hex_id = ("0x" if prefix else "") + "0" * hex_pad + (digits.upper() if upper else digits)
    dec_id = "0" * dec_pad + str(value)
    if len(hex_id) <= MAX_ID_LENGTH:
        assert id_key(hex_id, F.HEX) == str(value)
    if len(dec_id) <= MAX_ID_LENGTH:
        assert id_key(dec_id, F.DECIMAL) == str(value)


@given(st.integers(0, 2**128), st.integers(0, 2**128))
def test_different_values_never_share_a_key(a: int, b: int) -> None:
    # Keys are canonical: equal keys only for equal values, within and across hex/decimal.
    assert (id_key(f"{a:x}", F.HEX) == id_key(str(b), F.DECIMAL)) == (a == b)


ID_TEXT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=64)


@given(ID_TEXT, st.integers(0, 4))
def test_normalized_ignores_case_and_leading_zeros(message_id: str, pad: int) -> None:
    key = id_key(message_id)
    assert id_key("0" * pad + message_id.upper()) == key
    assert id_key("0" * pad + message_id.lower()) == key
    assert id_key(key) == key  # idempotent
    assert key == "0" or not key.startswith("0")


@given(st.text(max_size=80), st.sampled_from(F))
def test_any_text_gives_a_key_or_message_id_error(message_id: str, form: IdForm) -> None:
    try:
        key = id_key(message_id, form)
    except MessageIdError:
        return
    assert isinstance(key, str) and key


def test_propose_hex_response_decimal_receipt() -> None:
    pairs = [("33E95179", "0870928761"), ("1A", "0000000026")]
    proposals = propose_id_forms(pairs)
    assert proposals[0] == (F.HEX, F.DECIMAL)
    assert (F.NORMALIZED, F.NORMALIZED) not in proposals


def test_propose_prefers_the_default_when_it_fits() -> None:
    assert propose_id_forms([("00ABC", "abc")])[0] == (F.NORMALIZED, F.NORMALIZED)
    assert propose_id_forms([("abc", "abc")])[:2] == [(F.NORMALIZED, F.NORMALIZED), (F.EXACT, F.EXACT)]


def test_propose_nothing_without_evidence_or_fit() -> None:
    assert propose_id_forms([]) == []
    assert propose_id_forms([("abc", "xyz")]) == []
    # One pair fits hex/decimal, the other only normalized: nothing fits both.
    assert propose_id_forms([("1A", "26"), ("1A", "1a")]) == []


@given(st.lists(st.tuples(st.integers(0, 2**64), st.integers(0, 6), st.booleans()),
                min_size=1, max_size=5))
def test_proposals_are_sound_and_complete(rows: list[tuple[int, int, bool]]) -> None:
    pairs = [(f"{v:X}" if up else f"{v:x}", "0" * pad + str(v)) for v, pad, up in rows]
    proposals = propose_id_forms(pairs)
    assert (F.HEX, F.DECIMAL) in proposals  # the form that made them
    for response_form, receipt_form in proposals:  # and every proposal matches every pair
        for response_id, receipt_id in pairs:
            assert id_key(response_id, response_form) == id_key(receipt_id, receipt_form)


def test_no_form_guesses_across_bases() -> None:
    # jsmpp's pair: hex in submit_sm_resp, decimal in the receipt. Only a
    # configuration that says so makes them meet; the defaults never do.
    resp, receipt = "33E95179", "0870928761"
    assert id_key(resp) != id_key(receipt)
    assert id_key(resp, F.HEX) == id_key(receipt, F.DECIMAL) == "870928761"
    # A form reads its own base only: "10" is sixteen as hex, ten as decimal.
    assert id_key("10", F.HEX) == "16"
    assert id_key("10", F.DECIMAL) == "10"
    assert id_key("10") == "10"
    # normalized does not read a 0x prefix as hex either.
    assert id_key("0x1A") != id_key("26")


def test_ambiguous_evidence_gives_several_proposals_and_changes_nothing() -> None:
    before = id_key("33E95179")
    proposals = propose_id_forms([("123", "123")])
    # Decimal-looking ids fit many readings: all are offered, none is chosen.
    assert len(proposals) > 1
    assert proposals[0] == (F.NORMALIZED, F.NORMALIZED)
    assert (F.HEX, F.HEX) in proposals and (F.DECIMAL, F.DECIMAL) in proposals
    assert (F.HEX, F.DECIMAL) not in proposals  # 0x123 != 123
    assert id_key("33E95179") == before


@given(st.lists(st.tuples(ID_TEXT, ID_TEXT), min_size=1, max_size=4))
def test_proposals_only_contain_fitting_forms(pairs: list[tuple[str, str]]) -> None:
    for response_form, receipt_form in propose_id_forms(pairs):
        for response_id, receipt_id in pairs:
            assert id_key(response_id, response_form) == id_key(receipt_id, receipt_form)


def test_ids_longer_than_the_spec_have_keys() -> None:
    from dlr import SPEC_ID_LENGTH

    assert SPEC_ID_LENGTH == 64 and MAX_ID_LENGTH == 255  # the codec's C-octet ceiling
    assert id_key("A" * 70) == "a" * 70
    assert id_key("0" * 200 + "FF", F.HEX) == "255"
    assert id_key("7" * 255, F.DECIMAL) == "7" * 255


@pytest.mark.parametrize(
    ("message_id", "form", "key"),
    [
        ("00AB", F.NORMALIZED, "ab"),
        ("A" * 255, F.EXACT, "A" * 255),
        ("12G", F.HEX, "12G"),  # not of its form: its own key (never digits only)
        ("12a", F.DECIMAL, "12a"),
        ("  ", F.NORMALIZED, "  "),
        ("", F.NORMALIZED, None),  # no key: no receipt can match the part
        ("", F.EXACT, None),
        (None, F.HEX, None),
        ("A" * 256, F.EXACT, None),
    ],
)
def test_response_key_never_raises(message_id: str | None, form: IdForm, key: str | None) -> None:
    from dlr import response_key

    assert response_key(message_id, form) == key


@given(st.binary(min_size=1, max_size=255).filter(lambda b: b"\0" not in b), st.sampled_from(list(IdForm)))
def test_every_c_octet_string_keeps_its_octets_and_has_a_key(octets: bytes, form: IdForm) -> None:
    from dlr import id_octets, response_key

    message_id = octets.decode("latin-1")  # as bridge.smpp.codec decodes a C-octet string
    assert id_octets(message_id) == octets
    key = response_key(message_id, form)
    assert key is not None  # 1-255 octets: always a key, of the form or the id itself
    if form is IdForm.EXACT:
        assert key == message_id


def _normalized_reference(message_id: str) -> str:
    # The rule as docs/dlr.md states it, written plainly: stripped, case-folded,
    # leading zeros dropped ("0" when nothing is left); empty or overlong is an error.
    text = message_id.strip()
    if not text or len(text) > MAX_ID_LENGTH:
        raise MessageIdError(message_id, F.NORMALIZED, "bad")
    return text.casefold().lstrip("0") or "0"


@given(st.one_of(st.text(max_size=300), st.text("0aA \t\u00dfx", max_size=12)), st.sampled_from([F.NORMALIZED, "normalized"]))
def test_normalized_keys_follow_the_plain_rule(message_id: str, form: IdForm | str) -> None:
    """The normalized fast path (the default form, twice per message) gives what the rule gives."""
    try:
        expected: str | None = _normalized_reference(message_id)
    except MessageIdError:
        expected = None
    if expected is None:
        with pytest.raises(MessageIdError):
            id_key(message_id, form)
    else:
        assert id_key(message_id, form) == expected
