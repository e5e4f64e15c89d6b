"""Hypothesis strategies: texts that sit on the interesting boundaries."""

from __future__ import annotations

from hypothesis import strategies as st

ASCII_GSM = "abcXYZ019 .,!?@$_\n\r"
EXTENSION = "€^{}\\[~]|\f"
ACCENTED_GSM = "éüÑÅΔΩ£¥§¿¡ß"
NOT_GSM = "çжę’“\t`\x00Α"  # c-cedilla, Cyrillic, Polish, smart quotes, tab, backtick, NUL, Greek Alpha
ASTRAL = "😀🎉👍\U0001f680"
TURKISH = "ğĞıİşŞçÇöÖüÜ"
SPANISH = "áéíóúÁÍÓÚñÑç¿¡"
PORTUGUESE = "ãõÃÕâêôÂÊÔàÀçÇáÁíÍóÓúÚ"


def texts(alphabet: str, max_size: int = 700) -> st.SearchStrategy[str]:
    # Long runs of one cheap character push the costly ones onto part boundaries.
    pieces = st.one_of(
        st.text(alphabet=alphabet, max_size=40),
        st.builds(lambda n: "a" * n, st.integers(0, 170)),
    )
    return st.lists(pieces, max_size=12).map("".join).map(lambda s: s[:max_size])


gsm_texts = texts(ASCII_GSM + EXTENSION + ACCENTED_GSM)
any_texts = texts(ASCII_GSM + EXTENSION + ACCENTED_GSM + NOT_GSM + ASTRAL)
ucs2_texts = texts("ж" + ASCII_GSM + ASTRAL).map(lambda s: "ж" + s)
national_texts = texts(ASCII_GSM + EXTENSION + TURKISH + SPANISH + PORTUGUESE)
