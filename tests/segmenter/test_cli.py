"""`smpp-bridge segment`: through bridge.cli.main, as a user runs it."""

from __future__ import annotations

import io

import pytest

from bridge.cli import main


def test_gsm_text_with_a_straddling_euro_and_a_price(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["segment", "a" * 152 + "€" + "a" * 152, "--rate", "0.0525"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "encoding: GSM-7"
    assert out[1] == "segments: 3 (8-bit concatenation reference)"
    assert out[2].startswith("part 1: 152 septets  \"aaa")
    assert out[3].startswith("part 2: 153 septets  \"€aaa")
    assert out[4] == 'part 3:   1 septet  "a"'
    assert out[5] == "price: 0.1575 MYR (3 x 0.0525)"


def test_ucs2_and_16_bit_references(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["segment", "ж" * 65 + "😀" + "ж" * 4, "--reference-bits", "16"]) == 0
    out = capsys.readouterr().out
    assert "encoding: UCS-2" in out
    assert "segments: 2 (16-bit concatenation reference)" in out
    assert "part 1:  65 UTF-16 units" in out
    assert "part 2:   6 UTF-16 units" in out
    assert "price" not in out


def test_shift_tables(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["segment", "Iğdır'a gidiyoruz", "--shift-tables", "tr"]) == 0
    out = capsys.readouterr().out
    assert "encoding: GSM-7" in out
    assert "locking shift: tr, single shift: default" in out
    assert main(["segment", "Iğdır'a gidiyoruz"]) == 0
    assert "encoding: UCS-2" in capsys.readouterr().out


def test_control_characters_are_shown_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["segment", "line1\nline2"]) == 0
    assert 'part 1:  11 septets  "line1\\nline2"' in capsys.readouterr().out


def test_reads_standard_input(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("hello"))
    assert main(["segment", "-"]) == 0
    assert "part 1:   5 septets  \"hello\"" in capsys.readouterr().out


def test_too_long_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["segment", "a" * (153 * 255 + 1)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "too long" in captured.err and "256 segments" in captured.err and "255" in captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["segment", "x", "--rate", "abc"], "not a decimal"),
        (["segment", "x", "--rate", "-1"], "non-negative"),
        (["segment", "x", "--shift-tables", "xx"], "unknown shift table"),
    ],
)
def test_bad_arguments_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_bad_reference_bits_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["segment", "x", "--reference-bits", "12"])
    assert exc.value.code == 2


def test_a_forbidden_character_is_the_error_enqueue_gives(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["segment", "ring\x07"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "error: the text has U+0007 (BEL, a control character) at character 5: "
        "of the control characters only LF, CR and FF can be sent (GSM 03.38)\n"
    )
