"""Bidirectional-text controls made visible.

Text from shippers (messages, waybills, courier names, stored requests) may hold the Unicode
embedding, override and isolate controls (U+202A–202E, U+2066–2069). Rendered raw they reorder
what follows them ("Trojan Source"): `abc<RLO>gpj.exe` reads as `abcexe.jpg`. Every page shows
each one as a visible marker instead, naming it, so what is on screen is what was sent.
"""

from __future__ import annotations

import re
from html import escape

CONTROLS = {
    "\u202a": ("LRE", "left-to-right embedding"),
    "\u202b": ("RLE", "right-to-left embedding"),
    "\u202c": ("PDF", "pop directional formatting"),
    "\u202d": ("LRO", "left-to-right override"),
    "\u202e": ("RLO", "right-to-left override"),
    "\u2066": ("LRI", "left-to-right isolate"),
    "\u2067": ("RLI", "right-to-left isolate"),
    "\u2068": ("FSI", "first strong isolate"),
    "\u2069": ("PDI", "pop directional isolate"),
}
_FOUND = re.compile("[" + "".join(CONTROLS) + "]")


def marker(control: str) -> str:
    """The visible stand-in of one control: "⟨RLO⟩"."""
    return f"⟨{CONTROLS[control][0]}⟩"


def plain(text: str) -> str:
    """`text` with each control replaced by its marker (for attributes and chart labels)."""
    return _FOUND.sub(lambda found: marker(found.group()), text)


def html(text: str) -> str:
    """`text` HTML-escaped, each control a marked-up marker that names it on hover."""
    pieces = []
    last = 0
    for found in _FOUND.finditer(text):
        code = ord(found.group())
        abbreviation, name = CONTROLS[found.group()]
        pieces.append(escape(text[last : found.start()]))
        pieces.append(
            f'<span class="bidi" title="U+{code:04X} {name}: shown, not applied">'
            f"⟨{abbreviation}⟩</span>"
        )
        last = found.end()
    pieces.append(escape(text[last:]))
    return "".join(pieces)
