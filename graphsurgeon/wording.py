"""Small helpers for the words of messages: counts with the right plural.

Every message that counts something ("1 op", "2 ops", "1 more type") goes
through :func:`plural`, so that no command says "1 ops".

Example:
    >>> plural(1, "op"), plural(1234, "op"), plural(2, "entry", "entries")
    ('1 op', '1,234 ops', '2 entries')
"""
from __future__ import annotations

from collections.abc import Sized


def plural(count: int | Sized, noun: str, plural_form: str | None = None) -> str:
    """``count`` and ``noun``, the noun in the plural unless the count is exactly one.

    Args:
        count: a number, or anything with a length (its length is counted).
        noun: the singular ("op", "more type").
        plural_form: for irregular nouns ("entries"); default ``noun + "s"``.
    """
    n = count if isinstance(count, int) else len(count)
    word = noun if n == 1 else (plural_form or noun + "s")
    return f"{n:,} {word}"


__all__ = ["plural"]
