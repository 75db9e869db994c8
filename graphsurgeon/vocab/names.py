"""TensorFlow's name grammar: ops, tensors, control inputs, colocation."""
from __future__ import annotations

from typing import NamedTuple


class InputRef(NamedTuple):
    """One entry of a NodeDef's ``input`` list, parsed."""

    op: str
    index: int
    control: bool

    @property
    def tensor(self) -> str:
        return f"{self.op}:{self.index}"

    def __str__(self) -> str:
        return f"^{self.op}" if self.control else self.tensor


def is_index(text: str) -> bool:
    """An output index as TensorFlow writes one: ASCII digits that fit an int64.

    ``str.isdigit`` alone also takes ``"²"`` (which ``int`` refuses) and any
    number of digits; text that is no index stays part of the name (a name
    no op has, reported as such) instead of failing deep inside a reader.
    """
    return text.isdigit() and text.isascii() and len(text) <= 18


_new_ref = tuple.__new__  # skips NamedTuple's Python-level __new__: parsing runs per input of big graphs


def parse_input(text: str) -> InputRef:
    """Parse ``op``, ``op:1`` or ``^op`` as a GraphDef input string."""
    if text.startswith("^"):
        return _new_ref(InputRef, (text[1:], -1, True))
    op, sep, index = text.rpartition(":")
    if sep and is_index(index):
        return _new_ref(InputRef, (op, int(index), False))
    return _new_ref(InputRef, (text, 0, False))


def split_tensor_name(name: str) -> tuple[str, int]:
    """``"scope/op:1"`` -> ``("scope/op", 1)``; ``"scope/op"`` -> ``("scope/op", 0)``."""
    op, sep, index = name.rpartition(":")
    if sep and is_index(index):
        return op, int(index)
    return name, 0


def is_tensor_name(name: str) -> bool:
    op, sep, index = name.rpartition(":")
    return bool(sep and op and is_index(index))


def tensor_name(op: str, index: int = 0) -> str:
    return f"{op}:{index}"


def unique_name(base: str, *taken) -> str:
    """``base``, or ``base_1``, ``base_2``... : the first that none of the ``taken`` containers holds."""
    name, n = base, 1
    while any(name in t for t in taken):
        name = f"{base}_{n}"
        n += 1
    return name


def scope_of(name: str) -> str:
    """The enclosing name scope of an op: ``"a/b/c"`` -> ``"a/b"``, root ops -> ``""``."""
    return name.rpartition("/")[0]


def colocation_op(text: str) -> str | None:
    """``b"loc:@scope/op"`` -> ``"scope/op"``; anything else -> None."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text[5:] if text.startswith("loc:@") else None
