"""Name patterns: globs that respect scopes, whole scopes, and regular expressions.

- ``hidden1/kernel``: exactly that name.
- ``hidden1/*``: ``*`` stays inside one scope level (``hidden1/kernel``, not
  ``hidden1/kernel/Assign``); ``?`` is one character of a level; ``[abc]``
  a character class.
- ``**``: any number of levels (``**/Assign`` matches every ``Assign``
  wherever it is; ``train/**`` everything under ``train``).
- ``hidden1/``: a trailing slash means the whole scope (everything under it).
- ``re:<regex>``: a Python regular expression, searched anywhere in the
  name (anchor it with ``^...$`` to match whole names).
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable

from ..errors import UsageError


def is_pattern(text: str) -> bool:
    """Whether ``text`` is a pattern rather than one exact name."""
    return text.startswith("re:") or text.endswith("/") or any(c in text for c in "*?[")


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """A predicate on names for ``pattern``."""
    if pattern.startswith("re:"):
        try:
            regex = re.compile(pattern[3:])
        except re.error as exc:
            raise UsageError(f"bad regular expression {pattern[3:]!r}: {exc}") from None
        return lambda name: regex.search(name) is not None
    if pattern.endswith("/"):
        scope = pattern.rstrip("/")
        if not is_pattern(scope):
            prefix = scope + "/"
            return lambda name: name.startswith(prefix)
        pattern = scope + "/**"
    if not is_pattern(pattern):
        return lambda name: name == pattern
    regex = re.compile(_glob_to_regex(pattern))
    return lambda name: regex.fullmatch(name) is not None


def _glob_to_regex(pattern: str) -> str:
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                i += 2
                if pattern.startswith("/", i):
                    # "**/" matches zero or more whole levels.
                    out.append("(?:.*/)?")
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def tensor_predicate(pattern: str) -> Callable[[str, str], bool]:
    """A predicate on ``(op name, tensor name)`` for selecting tensors with ``pattern``.

    A pattern with ``:`` names tensors (``Elu_1:0``, ``hidden*/*:0``,
    ``**:1``); one without names ops, all of whose outputs it selects
    (``hidden1/``); a ``re:`` pattern selects a tensor when it is found in
    the tensor's name or its op's (``re:^Elu`` and ``re:Elu_1:0$`` both
    select ``Elu_1:0``).
    """
    match = compile_pattern(pattern)
    if pattern.startswith("re:"):
        return lambda op, tensor: match(tensor) or match(op)
    if ":" in pattern:
        return lambda op, tensor: match(tensor)
    return lambda op, tensor: match(op)


def matches(pattern: str, name: str) -> bool:
    return compile_pattern(pattern)(name)
