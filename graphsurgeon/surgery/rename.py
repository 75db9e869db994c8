"""Rename ops (and with them their tensors), keeping every reference true (TensorFlow-free).

Serving code wants stable, readable names (``input``, ``scores``) where a
training script left ``Placeholder_3`` and ``dense_2/Softmax``. Renaming an op
renames its tensors (``op:0``), so everything that names either follows,
through :meth:`graphsurgeon.Graph.rename_ops`: inputs and control inputs of
other ops, colocation constraints (``_class: loc:@op``), and in the
MetaGraphDef the collections (node lists, VariableDefs, cond/while contexts),
signatures, the saver's filename / save / restore names and the assets.

A name ending in ``/`` renames a scope: every op under ``OLD/`` moves under
``NEW/``. Names must be names TensorFlow accepts (``[A-Za-z0-9.][A-Za-z0-9_.\\-/>]*``).

Checkpoint keys are not names of the graph: a renamed variable is still
restored from its old key by the graph's own saver (the note says so).
"""
from __future__ import annotations

import re

from ..errors import RewriteError, UsageError
from ..ir.changes import Changes
from ..ir.graph import Graph
from ..vocab.optypes import VARIABLE_TYPES
from ..wording import plural
from .contract import ensures

__all__ = ["rename", "expand_mapping"]

# TensorFlow's _VALID_OP_NAME_REGEX (framework/ops.py): what import_graph_def accepts.
VALID_OP_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*$")


def expand_mapping(g: Graph, mapping: dict[str, str]) -> dict[str, str]:
    """``{old: new}`` with scopes (``"hidden1/": "dense1/"``) expanded to every op under them; names checked."""
    out: dict[str, str] = {}
    for old, new in mapping.items():
        old, new = str(old).strip(), str(new).strip()
        if not old or not new:
            raise UsageError(f"rename {old!r} -> {new!r}: both names are needed")
        if old.endswith("/") != new.endswith("/"):
            raise UsageError(f"rename {old!r} -> {new!r}: a scope (ending in /) is renamed to a scope")
        if old.endswith("/"):
            members = [n for n in g.node_defs if n.startswith(old)]
            if not members:
                raise RewriteError(f"no op under scope {old!r} in {g.where}")
            for name in members:
                out[name] = new + name[len(old):]
        else:
            if ":" in old or ":" in new:
                raise UsageError(f"rename {old!r} -> {new!r}: rename ops (their tensors follow), not tensors",
                                 hint=f"--rename {old.split(':')[0]}={new.split(':')[0]}")
            g.op(old)  # NotFoundError with the closest names
            out[old] = new
    for new in out.values():
        if not VALID_OP_NAME.match(new):
            raise UsageError(f"{new!r} is not a name TensorFlow accepts for an op",
                             hint="letters, digits, _ . - / >; not starting with _ - / >")
    return out


def rename(g: Graph, mapping: dict[str, str]) -> tuple[Graph, Changes]:
    """Rename ops ``{old: new}`` (scopes when ending in ``/``); returns ``(renamed copy, Changes)``.

    Raises:
        NotFoundError: an op to rename does not exist (with the closest names).
        RewriteError: a new name is taken, or two ops would get the same one.
        UsageError: a name TensorFlow would refuse.

    Example:
        >>> served, changes = graphsurgeon.rename(g, {"X": "images", "probabilities": "scores"})
        >>> served.tensor("scores:0").shape
        (None, 10)
    """
    if g.root is not g:
        raise UsageError("rename ops of the top-level graph, not of a function body")
    full = expand_mapping(g, mapping)
    out = g.copy()
    notes = out.rename_ops(full)
    changes = Changes(renamed={old: new for old, new in full.items() if old != new})
    changes.changed = list(changes.renamed.values())
    changes.notes.extend(notes)
    variables = [old for old in changes.renamed if g.node_defs[old].op in VARIABLE_TYPES]
    if variables and g.root.meta_graph is not None and g.root.meta_graph.HasField("saver_def"):
        changes.notes.append(f"{plural(variables, 'variable')} renamed: the graph's saver still restores "
                             f"{'it' if len(variables) == 1 else 'them'} from the same checkpoint keys "
                             f"(e.g. {variables[0]!r}); a new tf.compat.v1.train.Saver() would look for the new names")
    ensures(out, changes, before=g)
    return out, changes
