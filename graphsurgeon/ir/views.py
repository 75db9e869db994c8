"""Op and Tensor: light views on a graph's nodes (they hold the graph and a name, nothing else).

They live apart from :mod:`graphsurgeon.ir.graph` so that modules the Graph
builds on (collections) can recognise and make them without importing it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from ..analysis.shapes import format_shape
from ..vocab import names as _names
from .functions import called_functions

__all__ = ["Op", "Tensor", "Use", "Attrs"]


class Use(NamedTuple):
    """One reader of an op: ``consumer`` reads it at input ``position``.

    ``index`` is the output it reads, or -1 for a control input (``^op``).
    """

    consumer: str
    position: int
    index: int

    @property
    def control(self) -> bool:
        return self.index < 0


new_use = tuple.__new__  # skips NamedTuple's Python-level __new__: the index holds one per edge


class Tensor:
    """One output of an op: ``scope/op:index``."""

    __slots__ = ("graph", "op_name", "index")

    def __init__(self, graph, op_name: str, index: int):
        self.graph = graph
        self.op_name = op_name
        self.index = index

    @property
    def name(self) -> str:
        return f"{self.op_name}:{self.index}"

    @property
    def op(self) -> "Op":
        return self.graph.op(self.op_name)

    @property
    def dtype(self) -> str | None:
        """TensorFlow's dtype name (``float32``, ``float32_ref``, ``resource``) or None."""
        types = self.graph.output_dtypes(self.op_name)
        return types[self.index] if types and self.index < len(types) else None

    @property
    def shape(self) -> tuple | None:
        """Dimensions (None where unknown), or None when even the rank is unknown."""
        shapes = self.graph.shapes.get(self.op_name)
        return shapes[self.index] if shapes and self.index < len(shapes) else None

    @property
    def consumers(self) -> list["Op"]:
        """Ops that read this tensor (once each, in graph order)."""
        seen = dict.fromkeys(u.consumer for u in self.graph.data_uses(self.op_name) if u.index == self.index)
        return [self.graph.op(c) for c in seen]

    def __eq__(self, other):
        return isinstance(other, Tensor) and other.graph is self.graph and other.name == self.name

    def __hash__(self):
        return hash((id(self.graph), self.op_name, self.index))

    def __repr__(self):
        return f"<Tensor {self.name} {self.dtype or '?'} {format_shape(self.shape)}>"


class Op:
    """One node of the graph, as a view on its NodeDef."""

    __slots__ = ("graph", "node")

    def __init__(self, graph, node):
        self.graph = graph
        self.node = node

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def type(self) -> str:
        return self.node.op

    @property
    def device(self) -> str:
        return self.node.device

    @property
    def scope(self) -> str:
        return _names.scope_of(self.node.name)

    @property
    def attrs(self) -> "Attrs":
        """The attributes as Python values, read-only (see :class:`Attrs`); edit with ``Graph.set_attr``."""
        return Attrs(self)

    @property
    def attr_protos(self):
        """The NodeDef's attr map as it is stored (AttrValue protos)."""
        return self.node.attr

    @property
    def input_names(self) -> list[str]:
        """Data inputs as ``name:index`` strings, in order."""
        return [ref.tensor for ref in self.graph.data_refs(self.name)]

    @property
    def inputs(self) -> list[Tensor]:
        return [Tensor(self.graph, ref.op, ref.index) for ref in self.graph.data_refs(self.name)]

    @property
    def control_input_names(self) -> list[str]:
        return [ref.op for ref in self.graph.input_refs(self.name) if ref.control]

    @property
    def control_inputs(self) -> list["Op"]:
        return [self.graph.op(n) for n in self.control_input_names if n in self.graph]

    @property
    def control_outputs(self) -> list["Op"]:
        names = dict.fromkeys(self.graph.wiring().control_out.get(self.name, ()))
        return [self.graph.op(n) for n in names]

    @property
    def outputs(self) -> list[Tensor]:
        return [Tensor(self.graph, self.name, i) for i in range(self.graph.num_outputs(self.name))]

    def output(self, index: int = 0) -> Tensor:
        return Tensor(self.graph, self.name, index)

    @property
    def consumers(self) -> list["Op"]:
        """Ops that read any output of this op (data edges only)."""
        names = dict.fromkeys(u.consumer for u in self.graph.data_uses(self.name))
        return [self.graph.op(n) for n in names]

    @property
    def calls(self) -> list[tuple[str, str]]:
        """Library functions this op calls: ``[(attr or "op", function name)]``."""
        return called_functions(self.node, self.graph.library)

    @property
    def function(self) -> str | None:
        """The function body this op belongs to (None at the top level)."""
        return self.graph.function_name

    def __eq__(self, other):
        return isinstance(other, Op) and other.graph is self.graph and other.name == self.name

    def __hash__(self):
        return hash((id(self.graph), self.name))

    def __repr__(self):
        return f"<Op {self.name} ({self.type})>"


class Attrs(Mapping):
    """An op's attributes as Python values, read-only: ``op.attrs["T"] == "float32"``.

    Dtypes by name, shapes as tuples (None for an unknown dimension, None for
    an unknown rank), tensors as numpy arrays (string tensors hold bytes),
    strings as str (bytes when not UTF-8), function attributes as the
    function's name, lists as lists, bools as bool (see
    :func:`graphsurgeon.vocab.attrs.to_python`). Values are decoded when read.
    Assigning raises: edit with ``graph.set_attr(op, name, value)``, which
    keeps the graph's index current.
    """

    __slots__ = ("_op",)

    def __init__(self, op: "Op"):
        self._op = op

    def __getitem__(self, key: str):
        from ..vocab.attrs import to_python  # numpy: only when a value is read

        attr = self._op.node.attr
        if key not in attr:
            raise KeyError(key)
        return to_python(attr[key])

    def __iter__(self):
        return iter(sorted(self._op.node.attr))

    def __len__(self) -> int:
        return len(self._op.node.attr)

    def __contains__(self, key) -> bool:
        return key in self._op.node.attr

    def __setitem__(self, key, value):
        raise TypeError(f"Op.attrs is read-only: use graph.set_attr({self._op.name!r}, {key!r}, value)")

    def __delitem__(self, key):
        raise TypeError("Op.attrs is read-only: use graph.set_attr or graph.replace_op")

    def __repr__(self) -> str:
        return f"<Attrs of {self._op.name}: {', '.join(self)}>"
