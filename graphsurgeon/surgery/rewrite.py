"""``gs.rewrite``: a function that edits a graph, made a rewrite under the one contract.

A rewrite is a function ``(Graph, ...) -> (Graph, Changes)`` that never
mutates its input and ends with :func:`graphsurgeon.surgery.contract.ensures`
(no dangling input, no repeated name, every MetaGraphDef reference resolves or
is reported dropped). The decorator gives any editing function that shape::

    @gs.rewrite
    def scale_logits(g, factor=2.0):
        scale = g.constant(np.float32(factor), name="logits_scale")
        scaled = g.add_op("Mul", ["logits:0", scale], name="logits_scaled")
        g.replace_all_uses("logits:0", scaled.outputs[0])
        return ["logits scaled by %g" % factor]

    new, changes = scale_logits(g, factor=3.0)   # g is untouched

The wrapped function receives a copy of the input and edits it in place
through the Graph's methods. It may return nothing, a ``Changes`` (its
``notes``, ``details`` and ``dropped`` are kept), a list of notes, or a
graph (``Graph`` or ``(Graph, Changes)``) when it builds a new one (a
composition of rewrites). What changed (``removed``, ``added``, ``changed``,
``renamed``, ``dropped``, ``details["functions"]``) is filled in from the
edit itself (:meth:`graphsurgeon.Graph.track_edits`), then the contract is
checked against the input, in this one place.

Preconditions are declared once, as arguments: ``@gs.rewrite(requires=
("top_level", "meta_graph"))``. ``top_level`` (the default) refuses a
function body; without it a function body is accepted and the function gets
the same body in a copy of its graph (the result is the whole graph).

Every built-in rewrite is declared this way, with ``reports=True``: the
Changes it returns is its own account of what it did, in its own terms (a
freeze's ``changed`` are the variables it made constants, an export's
``removed`` what the SavedModel lost against the input), kept as given; the
contract is checked all the same. :func:`conclude` is the one place the
contract runs: the decorator calls it, and so do the rewrites whose work is
done in TensorFlow (``training/rehead.py``, ``training/rebuild.py``). A
rewrite that calls others (``freeze_layers`` pins, then removes;
``export`` pins, prunes, adds a saver) is checked as a whole, against its
own input.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

from ..errors import RewriteError, UsageError
from ..ir.changes import Changes
from .contract import ensures

__all__ = ["rewrite", "PRECONDITIONS", "is_rewrite", "conclude"]


def _is_graph(value) -> bool:
    """Whether ``value`` is a Graph (or a function body of one).

    Told by what it has, not by its class: this module does not import
    ``ir.graph``, whose ``Graph.clear_devices()`` runs a rewrite declared here
    (the import would close a cycle; annotations name ``Graph`` as text).
    """
    return callable(getattr(value, "track_edits", None)) and hasattr(value, "node_defs") and hasattr(value, "root")


def _top_level(g) -> str | None:
    return None if g.root is g else f"works on a top-level graph, not on {g.where}"


def _meta_graph(g) -> str | None:
    if g.root.meta_graph is not None:
        return None
    return (f"needs a MetaGraphDef (a .meta, a checkpoint or a SavedModel): {g.root.where} is a plain GraphDef "
            "(g.as_meta_graph() gives it one)")


def _checkpoint(g) -> str | None:
    return None if g.root.checkpoint else f"needs the variables' values: {g.root.where} has no checkpoint"


# Preconditions a rewrite may declare: name -> check (None when it holds, else what is wrong).
PRECONDITIONS: dict[str, Callable[[Graph], str | None]] = {
    "top_level": _top_level,
    "meta_graph": _meta_graph,
    "checkpoint": _checkpoint,
}


def is_rewrite(fn) -> bool:
    """Whether ``fn`` is a function :func:`rewrite` made."""
    return bool(getattr(fn, "__graphsurgeon_rewrite__", False))


def rewrite(fn=None, *, requires=("top_level",), name: str | None = None, reports: bool = False):
    """Make ``fn(graph, ...)`` a rewrite ``(graph, ...) -> (Graph, Changes)``; see the module docstring.

    Args:
        fn: the function; it edits the copy it is given.
        requires: preconditions checked on the input first (names of
            :data:`PRECONDITIONS`); a failing one is a UsageError.
        name: what messages call the rewrite (default: the function's name).
        reports: a Changes the function returns is kept as it says (the
            built-in rewrites); otherwise what changed is filled in from the
            edit, whatever it says. Either way the contract is checked.
    """
    unknown = sorted(set(requires) - set(PRECONDITIONS))
    if unknown:
        raise ValueError(f"unknown precondition {unknown[0]!r} (known: {', '.join(PRECONDITIONS)})")

    def decorate(fn):
        label = name or getattr(fn, "__name__", "rewrite")

        @functools.wraps(fn)
        def run(g, *args, **kwargs):
            if not _is_graph(g):
                raise UsageError(f"{label} takes a Graph (graphsurgeon.load(path)), not {type(g).__name__}")
            for key in requires:
                problem = PRECONDITIONS[key](g)
                if problem:
                    raise UsageError(f"{label} {problem}")
            before = g.root
            work = before.copy()
            target = work if g.root is g else work.function(g.function_name)
            with work.track_edits() as log:
                returned = fn(target, *args, **kwargs)
            result, given = _returned(label, work, returned)
            said = reports and (isinstance(returned, Changes) or isinstance(returned, tuple) and given is returned[1])
            return result, conclude(before, result, given, log if result is work else None, reports=said)

        run.__graphsurgeon_rewrite__ = True
        run.requires = tuple(requires)
        run.reports = reports
        return run

    return decorate(fn) if fn is not None else decorate


def conclude(before: Graph | None, result: Graph, given: Changes, log=None, *, reports: bool = True) -> Changes:
    """The Changes of a rewrite from ``before`` to ``result``, with the contract checked: the one place it runs.

    ``reports``: ``given`` is the rewrite's own account, kept as it is;
    otherwise what changed is filled in from the edit (``log``, else by
    comparing ``before`` and ``result``). ``before`` is None for a rewrite
    whose result TensorFlow built from a graph of its own (nothing of the
    input to compare with: every dangling input and reference is the
    rewrite's).

    Raises:
        RewriteError: the result breaks the contract (see :mod:`graphsurgeon.surgery.contract`).
    """
    changes = given if reports or before is None else filled(before, result, given, log)
    ensures(result, changes, before=before)
    return changes


def _returned(label: str, work: Graph, returned) -> tuple[Graph, Changes]:
    """The result graph and what the function said, from what it returned."""
    if returned is None:
        return work, Changes()
    if isinstance(returned, Changes):
        return work, returned
    if _is_graph(returned):
        return _graph(label, returned), Changes()
    if isinstance(returned, tuple) and len(returned) == 2 and _is_graph(returned[0]) \
            and isinstance(returned[1], Changes):
        return _graph(label, returned[0]), returned[1]
    if isinstance(returned, (list, tuple)) and all(isinstance(n, str) for n in returned):
        return work, Changes(notes=list(returned))
    raise RewriteError(f"{label} returned a {type(returned).__name__}: a rewrite returns nothing, a Changes, "
                       "a list of notes, or a (Graph, Changes)")


def _graph(label: str, g: Graph) -> Graph:
    if g.root is not g:
        raise RewriteError(f"{label} returned {g.where}: return the top-level graph")
    return g


def filled(before: Graph, after: Graph, given: Changes, log=None) -> Changes:
    """``given`` with what changed filled in from ``before`` -> ``after``.

    ``removed``, ``added``, ``changed`` and ``renamed`` are what the edit did
    (from the EditLog when there is one, else by comparing every op);
    ``dropped`` joins what the function said and what its edits dropped;
    notes and details are the function's.
    """
    b, a = before.node_defs, after.node_defs
    source = log.renamed if log is not None else given.renamed
    renamed = {old: new for old, new in source.items() if old in b and new in a and old not in a}
    targets = set(renamed.values())
    removed = [n for n in b if n not in a and n not in renamed]
    added = [n for n in a if n not in b and n not in targets]
    candidates = (log.touched | targets) if log is not None else a.keys()
    changed = [n for n in a if n in candidates and (
        n in targets or n in b and b[n].SerializeToString(deterministic=True)
        != a[n].SerializeToString(deterministic=True))]
    dropped = list(dict.fromkeys(list(given.dropped) + (list(log.dropped) if log is not None else [])))
    details = dict(given.details)
    functions = sorted(log.functions) if log is not None else _functions_changed(before, after)
    if functions:
        details.setdefault("functions", functions)
    return Changes(removed=removed, added=added, changed=changed, renamed=renamed, dropped=dropped,
                   notes=list(given.notes), details=details)


def _functions_changed(before: Graph, after: Graph) -> list[str]:
    b, a = before.library, after.library
    return sorted(n for n in set(b) | set(a) if n not in a or n not in b or b[n].SerializeToString(
        deterministic=True) != a[n].SerializeToString(deterministic=True))
