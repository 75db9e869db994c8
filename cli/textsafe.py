"""Text made safe for a terminal: control characters from a model are shown as escapes, never sent.

A model is untrusted input, and its op names, types, devices, attribute
values, tags and collection keys reach the terminal in every human-readable
output. An ESC there can clear the screen, retitle the window or rewrite what
was printed before; CR, backspace and newlines can forge lines; a
bidirectional override reorders what is shown. :func:`safe` writes each such
character as Python's ``repr`` does (``\\x1b``, ``\\n``, ``\\u202e``) and
leaves every other character alone, backslashes included, so names without
control characters print exactly as TensorFlow spells them. JSON output does
not need it: JSON escapes control characters itself.

Example:
    >>> safe("dense/\\x1b[2Jkernel")
    'dense/\\\\x1b[2Jkernel'
"""
from __future__ import annotations

import re

# C0 controls, DEL and C1 controls (U+009B alone is a CSI to many terminals);
# the invisible marks and overrides that reorder text as displayed; line and
# paragraph separators; lone surrogates (undecodable bytes of a name), which
# cannot even be encoded for output.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def _escaped(match: re.Match) -> str:
    return repr(match.group())[1:-1]  # none of these is printable, so repr escapes each


def safe(text) -> str:
    """``text`` (any object, as ``str``) with every control character written as an escape."""
    return _UNSAFE.sub(_escaped, text if type(text) is str else str(text))


def is_safe(text: str) -> bool:
    """Whether ``text`` holds no character :func:`safe` would escape (one scan, for a fast path)."""
    return _UNSAFE.search(text) is None
