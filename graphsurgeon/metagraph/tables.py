"""Lookup tables and their initializers: what a model that looks words up must run before it can.

A table op (``HashTableV2``...) holds nothing until an initializer fills it
(``InitializeTableFromTextFileV2`` reading a vocabulary file,
``LookupTableImportV2``...): ``tf.compat.v1.tables_initializer()`` groups them
(the ``table_initializer`` collection), and a SavedModel's main op runs them
when the model is loaded. Nothing the outputs compute reads an initializer,
so every rewrite that keeps what outputs need would drop it: ``export`` and
``prune`` keep them through the main op, ``freeze`` keeps them in the frozen
graph and names them (TensorFlow's ``freeze_graph`` takes
``initializer_nodes`` for this), ``rehead`` keeps them in what it reuses.
This module is the one answer to "which ops initialise the tables these ops
use".
"""
from __future__ import annotations

from ..vocab import names as _names
from ..vocab.optypes import TABLE_INITIALIZER_TYPES

__all__ = ["TABLE_INITIALIZER", "table_initializers"]

TABLE_INITIALIZER = "table_initializer"  # tf.compat.v1.GraphKeys.TABLE_INITIALIZERS


def table_initializers(g, ops) -> list[str]:
    """The ops that initialise the lookup tables among ``ops`` (op names), in graph order.

    Those of the ``table_initializer`` collection and every op of an
    initializer type whose input 0 (the table) is one of ``ops``.
    """
    ops = set(ops)
    listed = set()
    meta = g.root.meta_graph if g.root is g else None
    if meta is not None and TABLE_INITIALIZER in meta.collection_def:
        listed = {_names.split_tensor_name(v)[0] for v in meta.collection_def[TABLE_INITIALIZER].node_list.value}
    out = []
    for node in g.graph_def.node:
        if node.op not in TABLE_INITIALIZER_TYPES and node.name not in listed:
            continue
        refs = g.input_refs(node.name)
        if refs and not refs[0].control and refs[0].op in ops:
            out.append(node.name)
    return out
