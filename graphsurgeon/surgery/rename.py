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

from ..errors import RewriteError, UsageError
from ..ir.build import VALID_OP_NAME
from ..ir.graph import Graph
from ..vocab.optypes import VARIABLE_TYPES
from ..wording import plural
from .rewrite import rewrite

__all__ = ["rename", "expand_mapping"]


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


@rewrite(requires=("top_level",))
def rename(g: Graph, mapping: dict[str, str]) -> list[str]:
    """Rename ops ``{old: new}`` (scopes when ending in ``/``); returns ``(renamed copy, Changes)``.

    Declared with :func:`graphsurgeon.rewrite`: it edits the copy it is
    given, and ``changes.renamed`` (and what the renaming rewired, in
    ``changed``) comes from the edit itself.

    Raises:
        NotFoundError: an op to rename does not exist (with the closest names).
        RewriteError: a new name is taken, or two ops would get the same one.
        UsageError: a name TensorFlow would refuse, or a function body given.

    Example:
        >>> served, changes = graphsurgeon.rename(g, {"X": "images", "probabilities": "scores"})
        >>> served.tensor("scores:0").shape
        (None, 10)
    """
    full = expand_mapping(g, mapping)
    notes = g.rename_ops(full)
    variables = [old for old, new in full.items() if old != new and g.node_defs[new].op in VARIABLE_TYPES]
    if variables and g.meta_graph is not None and g.meta_graph.HasField("saver_def"):
        notes.append(f"{plural(variables, 'variable')} renamed: the graph's saver still restores "
                     f"{'it' if len(variables) == 1 else 'them'} from the same checkpoint keys "
                     f"(e.g. {variables[0]!r}); a new tf.compat.v1.train.Saver() would look for the new names")
    return notes
