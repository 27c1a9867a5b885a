"""The sanitiser: hostile strings come out inert, the visible payload survives."""

from __future__ import annotations

import re

import pytest

from mlopstui import text

# Every character that must never reach the terminal: C0 but tab/newline, DEL, C1, ESC,
# bidi embeddings/overrides/isolates, zero-width marks.
FORBIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)

# 8-bit CSI/DCS/SOS/OSC/PM/APC start a sequence that swallows what follows (tested above).
_C1_INTRODUCERS = {0x90, 0x98, 0x9B, 0x9D, 0x9E, 0x9F}

# (hostile input, text that must survive, text that must be gone)
CORPUS: list[tuple[str, str, str]] = [
    ("\x1b]52;c;ZXZpbCBjbGlwYm9hcmQ=\x07evil", "evil", "ZXZpbCBj"),
    ("\x1b]52;c;ZXZpbCBjbGlwYm9hcmQ=\x1b\\evil", "evil", "ZXZpbCBj"),
    ("\x1b]8;;http://attacker.example/\x1b\\evil\x1b]8;;\x1b\\", "evil", "attacker"),
    ("\x1b]8;;http://attacker.example/\x07evil\x1b]8;;\x07", "evil", "attacker"),
    ("\x1b[31;1mevil\x1b[0m", "evil", "31;1m"),
    ("\x1b[38;2;255;0;0mevil\x1b[m", "evil", "255"),
    ("ev\x1b[10;20Hil", "evil", "10;20"),
    ("\x1b[2Jevil", "evil", "2J"),
    ("\x1b[?1049hevil\x1b[?1049l", "evil", "1049"),
    ("\x1b[Aevil\x1b[5D", "evil", "5D"),
    ("\x9b2Jevil", "evil", "2J"),
    ("\x9d52;c;QUJD\x9cevil", "evil", "QUJD"),
    ("\x9d8;;http://attacker.example/\x07evil", "evil", "attacker"),
    ("\x1bP1$r0m\x1b\\evil", "evil", "$r0m"),
    ("\x90q#0;2;0;0;0\x9cevil", "evil", "#0;2"),
    ("\x1b_Gf=100;AAAA\x1b\\evil", "evil", "AAAA"),
    ("\x1b^privacy\x1b\\evil", "evil", "privacy"),
    ("\x1bX start of string\x1b\\evil", "evil", "start of"),
    ("\x1bcevil", "evil", "\x1b"),  # RIS (full reset)
    ("\x1b(0evil", "evil", "(0"),  # charset selection
    ("evil\x1b", "evil", "\x1b"),  # lone ESC at the end
    ("ev\x00il\x07\x08", "evil", "\x00"),
    ("e\rvil", "evil", "\r"),
    ("ev\x7fil", "evil", "\x7f"),
    ("\u202eevil\u202c", "evil", "\u202e"),
    ("\u2066evil\u2069\u2067\u2068", "evil", "\u2066"),
    ("\u202a\u202b\u202devil", "evil", "\u202d"),
    ("e\u200bvi\ufeffl", "evil", "\u200b"),
    ("e\u200ev\u200fi\u061cl", "evil", "\u200f"),
    ("".join(chr(c) for c in range(0x20) if c not in (9, 10)) + "evil", "evil", "\x1f"),
    (
        "".join(chr(c) for c in range(0x80, 0xA0) if c not in _C1_INTRODUCERS) + "evil",
        "evil",
        "\x85",
    ),
]


@pytest.mark.parametrize(("hostile", "keep", "gone"), CORPUS)
def test_hostile_strings_come_out_inert(hostile: str, keep: str, gone: str) -> None:
    """Escapes and controls are removed whole (payload included); the visible text stays."""
    for multiline in (False, True):
        out = text.clean(hostile, multiline=multiline)
        assert not FORBIDDEN.search(out), repr(out)
        assert keep in out
        assert gone not in out


def test_property_no_forbidden_char_survives_any_corpus_combination() -> None:
    """Concatenations of hostile strings (sequences split across pieces) stay clean too."""
    pieces = [h for h, _k, _g in CORPUS]
    for i, a in enumerate(pieces):
        for b in pieces[i:]:
            for out in (text.clean(a + b), text.clean(b + a, multiline=True, limit=30)):
                assert not FORBIDDEN.search(out), repr(out)


def test_unterminated_string_sequence_swallows_the_rest() -> None:
    """An OSC/DCS without BEL or ST hides everything after it, as a terminal would."""
    assert text.clean("ok\x1b]52;c;QUJDevil") == "ok"
    assert text.clean("ok\x9dQUJD evil") == "ok"


@pytest.mark.parametrize(
    "markup", ["[link=http://x]click[/link]", "[/]", "[bold red]alarm[/bold red]", "[b]x[/b]"]
)
def test_rich_markup_is_left_as_literal_text(markup: str) -> None:
    """clean() does not touch markup: it stays visible, and Text wrapping makes it inert."""
    assert text.clean(markup) == markup


def test_newlines_single_line_and_multiline() -> None:
    """Newlines (and CRLF) become spaces by default and survive with multiline=True."""
    assert text.clean("a\nb\r\nc") == "a b c"
    assert text.clean("a\nb\r\nc", multiline=True) == "a\nb\nc"
    assert text.clean("a\tb") == "a b"
    assert text.clean("a\tb\n", multiline=True) == "a b\n"


def test_limit_adds_an_ellipsis() -> None:
    """A cut result is exactly `limit` characters long and ends in an ellipsis."""
    assert text.clean("abcdefghij", limit=5) == "abcd…"
    assert text.clean("abc", limit=5) == "abc"
    assert text.clean("abcde", limit=5) == "abcde"
    assert text.clean("\x1b[31mabcdef\x1b[0m", limit=4) == "abc…"
    assert len(text.clean("x" * 100, limit=1)) == 1


def test_non_string_values() -> None:
    """None is empty; numbers and objects become their str()."""
    assert text.clean(None) == ""
    assert text.clean(0.5) == "0.5"
    assert text.clean(42) == "42"
    assert text.clean(["a", 1]) == "['a', 1]"

    class Hostile:
        def __str__(self) -> str:
            return "\x1b]52;c;QUJD\x07ok"

    assert text.clean(Hostile()) == "ok"


def test_plain_ascii_fast_path_returns_the_same_object() -> None:
    """A printable ASCII string is returned as is (no copy, no regex)."""
    value = "bert-base run 7 [b]x[/b]"
    assert text.clean(value) is value


def test_unicode_text_is_kept() -> None:
    """Non-ASCII printable text (accents, CJK, emoji with ZWJ) is not damaged."""
    value = "résumé 模型 👩‍💻"
    assert text.clean(value) == value


def test_clean_mapping_cleans_keys_and_values() -> None:
    """Tags/params: both sides cleaned, values stringified, None mapping is empty."""
    out = text.clean_mapping({"\x1b[2Jteam": "\u202enlp", "lr": 0.01, "n": None})
    assert out == {"team": "nlp", "lr": "0.01", "n": ""}
    assert text.clean_mapping(None) == {}


def test_inert_is_cleaned_text_that_rich_never_parses() -> None:
    """ui.inert wraps the cleaned string in a rich Text; `[b]` stays literal, no spans."""
    from rich.text import Text

    from mlopstui.ui.inert import inert

    raw = "\x1b]8;;http://x\x07[b]bold?[/b]\n[link=http://x]y[/link]"
    out = inert(raw)
    assert isinstance(out, Text)
    assert out.plain == text.clean(raw)
    assert "[b]" in out.plain
    assert out.spans == []
    assert inert("a\nb", multiline=True).plain == "a\nb"
    assert inert("abcdef", limit=3).plain == "ab…"
