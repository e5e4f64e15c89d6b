"""The character tables against values read from 3GPP TS 23.038, and the gsmcodecs check.

The expected values below are cells of the spec's tables (section 6.2.1 and
Annex A), written out by hand: they do not come from any library.
"""

from __future__ import annotations

import pytest

from segmenter.alphabet import alphabet
from segmenter.tables import ESC, LANGUAGES, LOCKING, SINGLE

# (table, septet code, character) -- TS 23.038 6.2.1, 6.2.1.1 and Annex A.
SPEC_LOCKING = [
    (0, 0x00, "@"), (0, 0x02, "$"), (0, 0x09, "Ç"), (0, 0x10, "Δ"), (0, 0x11, "_"),
    (0, 0x24, "¤"), (0, 0x40, "¡"), (0, 0x5F, "§"), (0, 0x60, "¿"), (0, 0x7F, "à"),
    (1, 0x04, "€"), (1, 0x07, "ı"), (1, 0x0B, "Ğ"), (1, 0x1C, "Ş"), (1, 0x40, "İ"), (1, 0x60, "ç"),
    (3, 0x04, "ê"), (3, 0x12, "ª"), (3, 0x15, "∞"), (3, 0x24, "º"), (3, 0x60, "~"), (3, 0x7D, "`"),
    (6, 0x00, "\u0901"), (6, 0x28, ")"), (6, 0x29, "("), (6, 0x2E, "."), (6, 0x7F, "\u097f"),
]
SPEC_SINGLE = [
    (0, 0x0A, "\f"), (0, 0x14, "^"), (0, 0x28, "{"), (0, 0x29, "}"), (0, 0x2F, "\\"),
    (0, 0x3C, "["), (0, 0x3D, "~"), (0, 0x3E, "]"), (0, 0x40, "|"), (0, 0x65, "€"),
    (1, 0x47, "Ğ"), (1, 0x63, "ç"), (1, 0x69, "ı"),
    (2, 0x09, "ç"), (2, 0x41, "Á"), (2, 0x75, "ú"),
    (3, 0x05, "ê"), (3, 0x41, "À"), (3, 0x7F, "â"),
    (6, 0x00, "@"), (6, 0x40, "|"), (6, 0x65, "€"),
]


@pytest.mark.parametrize(("table", "code", "char"), SPEC_LOCKING)
def test_locking_tables_match_the_spec(table: int, code: int, char: str) -> None:
    assert LOCKING[table][code] == char
    assert alphabet(table, 0).septets(char) == bytes((code,))


@pytest.mark.parametrize(("table", "code", "char"), SPEC_SINGLE)
def test_single_shift_tables_match_the_spec(table: int, code: int, char: str) -> None:
    assert SINGLE[table][code] == char
    abc = alphabet(0, table)
    if char not in abc.basic:
        assert abc.septets(char) == bytes((ESC, code))


def test_default_alphabet_has_128_cells_and_no_duplicates() -> None:
    for tables in (LOCKING, SINGLE):
        for nli, table in tables.items():
            assert len(table) == 128, nli
    for nli, table in LOCKING.items():
        chars = [c for i, c in enumerate(table) if c != "\x00" and i != ESC]
        assert len(chars) == len(set(chars)), f"locking table {nli} maps a character twice"
    assert sum(c != "\x00" for c in LOCKING[0]) == 127


def test_every_language_code_has_a_table() -> None:
    for code, nli in LANGUAGES.items():
        assert nli in LOCKING or nli in SINGLE, code
    assert 2 not in LOCKING  # Spanish: single shift only (A.2.2)


def test_decode_inverts_encode_for_every_pair() -> None:
    for lock in LOCKING:
        for single in (0, lock) if lock in SINGLE else (0,):
            abc = alphabet(lock, single)
            text = "".join(sorted(abc.basic | abc.extended))
            assert abc.decode(abc.septets(text)) == text


# --- gsmcodecs: checked, and not used -----------------------------------------

gsmcodecs = pytest.importorskip("gsmcodecs")


def _gsmcodecs_encode(text: str, lock: int, single: int) -> bytes:
    return text.encode(f"gsm23.038-{lock}-{single}")


@pytest.mark.parametrize(("table", "code", "char"), [t for t in SPEC_LOCKING if t[0] in (0, 1, 3)])
def test_gsmcodecs_agrees_on_the_latin_locking_tables(table: int, code: int, char: str) -> None:
    assert _gsmcodecs_encode(char, table, 0) == bytes((code,))


@pytest.mark.parametrize(("table", "code", "char"), [t for t in SPEC_SINGLE if t[0] in (0, 1, 2, 3)])
def test_gsmcodecs_agrees_on_the_latin_single_shift_tables(table: int, code: int, char: str) -> None:
    if char in LOCKING[0]:
        return
    assert _gsmcodecs_encode(char, 0, table) == bytes((ESC, code))


def test_gsmcodecs_kannada_locking_table_is_wrong() -> None:
    # TS 23.038 A.3.7 puts KANNADA LETTER DDA (U+0CA1) at 0x24, in the same
    # column as DDA in every other Indian table, and PA (U+0CAA) at 0x3D.
    # gsmcodecs 1.0.0 has PA in both cells, so it cannot encode DDA at all.
    # This is why segmenter/tables.py does not use it.
    from gsmcodecs.charmaps import GSMCHARMAPS

    decode = GSMCHARMAPS[7]["locking"]["decode"]
    assert decode[0x24] == decode[0x3D] == 0x0CAA
    with pytest.raises(UnicodeEncodeError):
        _gsmcodecs_encode("\u0ca1", 7, 0)
    # Ours:
    assert alphabet(7, 0).septets("\u0ca1\u0caa") == b"\x24\x3d"
