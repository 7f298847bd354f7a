"""Characters a terminal acts on instead of showing, and how they are shown instead (issue 25 point 10)."""

from __future__ import annotations

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# What a terminal acts on instead of showing: C0 (ESC starts colours, screen clears, window titles; BEL
# rings), DEL, C1 (U+009B is a one-character CSI), the Unicode line and paragraph separators, and bidi.
TERMINAL_CONTROLS = "".join(chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))) + "\u2028\u2029"
_SHOW_CONTROLS = {
    **{ord(ch): f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}" for ch in TERMINAL_CONTROLS},
    **{ord(ch): f"\\u{ord(ch):04x}" for ch in BIDI_CONTROLS},
}


def show_controls(text: str) -> str:
    """`text` with every character a terminal would act on written out as an escape (`\\x1b`, `\\u2028`)."""
    return text.translate(_SHOW_CONTROLS)


def has_controls(text: str) -> bool:
    """Whether `text` holds a character `show_controls` escapes."""
    if text.isascii():  # nearly every id: the controls ASCII has are exactly what it cannot print
        return not text.isprintable()
    return text != text.translate(_SHOW_CONTROLS)
