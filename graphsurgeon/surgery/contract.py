"""The rewrite contract, checked at the end of every rewrite.

Every rewrite is a function ``rewrite(graph, ...) -> (Graph, Changes)`` that
never mutates its input and ends with :func:`ensures`: the result has no
dangling input, no two ops of one name, and its MetaGraphDef holds nothing
TensorFlow's loaders refuse:

- every name it holds outside the GraphDef resolves: node_list entries
  (``train_op``, ``saved_model_main_op``...), the VariableDefs of every
  collection that holds them (decided by content, whatever its name:
  ``global_step`` too) with their initializer, snapshot and initial value,
  every SaverDef, cond/while contexts, signatures and assets;
- a VariableDef names a variable op, and its ``save_slice_info`` fits the
  variable's shape;
- ``saved_model_main_op`` / ``legacy_init_op`` hold exactly one op;
- the saver restores (``saver_def``, or the default ``Saver`` that
  ``import_meta_graph`` makes over the variables when there is none) find
  their keys in the graph's checkpoint, with the variable's dtype and shape;

unless the input broke the same rule (a damaged file is not ours to repair)
or the Changes say it was dropped. A violation is a bug of the rewrite,
reported as a RewriteError rather than written to disk: TensorFlow would
refuse the result.
"""
from __future__ import annotations

from ..errors import FormatError, GraphSurgeonError, RewriteError
from ..formats.checkpoint import open_checkpoint
from ..ir.changes import Changes
from ..metagraph.collections import MAIN_OP_COLLECTIONS, referenced_names
from ..metagraph.saver import restores
from ..metagraph.variables import variable_defs
from ..vocab import dtypes as _dtypes
from ..vocab import names as _names
from ..vocab.optypes import VARIABLE_TYPES


def dangling_inputs(g) -> set[tuple[str, str]]:
    """``{(op, missing producer)}``: inputs naming no op of ``g``."""
    nodes = g.node_defs
    return {(name, ref.op) for name in nodes for ref in g.input_refs(name) if ref.op not in nodes}


def _repeated_names(g) -> set[str]:
    """Op names that more than one NodeDef of ``g``'s GraphDef carries."""
    nodes = g.graph_def.node
    if len(nodes) == len(g.node_defs):
        return set()
    seen, repeated = set(), set()
    for node in nodes:
        (repeated if node.name in seen else seen).add(node.name)
    return repeated


def _damaged_bodies(g) -> list[str]:
    """The library functions of ``g`` with an input naming nothing in their body."""
    out = []
    for name in sorted(g.library_names):
        try:
            body = g.function(name)
        except GraphSurgeonError:  # a body too damaged to read as a graph
            out.append(name)
            continue
        if dangling_inputs(body):
            out.append(name)
    return out


def unresolved_references(g) -> set[tuple[str, str]]:
    """``{(where, name)}``: names the MetaGraphDef holds that name no op (or no such output) of ``g``."""
    meta = g.root.meta_graph
    if meta is None:
        return set()
    out = set()
    for where, name in referenced_names(meta):
        op, index = _names.split_tensor_name(name)
        if op not in g.node_defs or (_names.is_tensor_name(name) and g.output_dtypes(op) is not None
                                     and index >= g.num_outputs(op)):
            out.add((where, name))
    return out


def _shape_of(g, op: str) -> list[int] | None:
    """The static shape of variable op ``op`` (its ``shape`` attr), or None when unknown."""
    node = g.node_defs.get(op)
    if node is None or "shape" not in node.attr or node.attr["shape"].shape.unknown_rank:
        return None
    return [d.size for d in node.attr["shape"].shape.dim]


def _variable_def_problems(g, meta) -> set[str]:
    """VariableDefs naming an op that is no variable, or whose save_slice_info does not fit the variable."""
    out = set()
    for key, var in variable_defs(meta):
        op = _names.split_tensor_name(var.variable_name)[0]
        node = g.node_defs.get(op)
        if node is None:
            continue  # unresolved: said by unresolved_references
        if node.op not in VARIABLE_TYPES:
            out.add(f"collection {key!r} holding variable {var.variable_name}, which is a {node.op}")
            continue
        if var.HasField("save_slice_info_def"):
            info = var.save_slice_info_def
            full, offset, shape = list(info.full_shape), list(info.var_offset), list(info.var_shape)
            fits = len(full) == len(offset) == len(shape) and all(
                0 <= o and 0 <= n and o + n <= f for f, o, n in zip(full, offset, shape))
            static = _shape_of(g, op)
            if not fits or (static is not None and all(d >= 0 for d in static) and static != shape):
                out.add(f"collection {key!r} holding variable {var.variable_name} as the slice {offset} + {shape} "
                        f"of {info.full_name} {full}, which its shape {static} does not fit")
    return out


def _main_op_problems(meta) -> set[str]:
    return {f"collection {key!r} holding {len(meta.collection_def[key].node_list.value)} ops (the SavedModel "
            "loader wants exactly one)" for key in MAIN_OP_COLLECTIONS
            if key in meta.collection_def and len(meta.collection_def[key].node_list.value) != 1}


def checkpoint_problems(g) -> set[str]:
    """What restoring ``g`` from its own checkpoint would fail on: keys missing, dtypes or shapes that differ.

    Empty when ``g`` has no MetaGraphDef or no checkpoint, or the checkpoint
    cannot be read (a damaged checkpoint is the reader's to report).
    """
    if g.root.meta_graph is None or not g.root.checkpoint:
        return set()
    wanted = restores(g)
    if not wanted:
        return set()
    out = set()
    try:
        reader = open_checkpoint(g.root.checkpoint)
    except (FormatError, OSError):
        return set()
    with reader:
        for var, (key, spec) in sorted(wanted.items()):
            node = g.node_defs.get(var)
            if key not in reader:
                out.add(f"the saver restoring {var} from checkpoint key {key!r}, which the checkpoint does not hold")
                continue
            if node is None or node.op not in VARIABLE_TYPES:
                continue
            dtype = _dtypes.base(_dtypes.name(node.attr["dtype"].type)) if "dtype" in node.attr else None
            if dtype and reader.dtype(key) != dtype:
                out.add(f"the saver restoring {var} ({dtype}) from checkpoint key {key!r}, a {reader.dtype(key)}")
                continue
            stored = list(reader.shape(key))
            static = _shape_of(g, var)
            expected = [int(d) for d in spec.split()[:-1]] if spec else static
            if expected is not None and all(d >= 0 for d in expected) and stored != expected:
                out.add(f"the saver restoring {var} ({'slice ' + spec if spec else expected}) from checkpoint key "
                        f"{key!r}, of shape {stored}")
    return out


def ensures(result, changes: Changes, before=None) -> None:
    """Check the contract on ``result`` (see module docstring); ``before`` is the rewrite's input.

    Raises:
        RewriteError: the rewrite left a dangling input or reference it did not report.
    """
    allowed = dangling_inputs(before) if before is not None else set()
    allowed_ops = {op for _, op in allowed}
    damaged_bodies = None
    kept = []
    for consumer, op in sorted(dangling_inputs(result)):
        if op not in allowed_ops and before is not None and (
                consumer not in before.node_defs
                or before.node_defs[consumer].input != result.node_defs[consumer].input):
            # An op the rewrite made or rewired (inlining a function body, say) may carry
            # damage of that body.
            if damaged_bodies is None:
                damaged_bodies = _damaged_bodies(before)
            if damaged_bodies:
                kept.append((consumer, op))
                continue
        if op not in allowed_ops:
            raise RewriteError(f"internal error: the rewrite left {consumer!r} reading {op!r}, which is not "
                               "in the graph (please report this)")
        kept.append((consumer, op))
    repeated = _repeated_names(result)
    if repeated:  # TensorFlow refuses a graph with two ops of one name
        if before is None or not repeated <= _repeated_names(before):
            raise RewriteError(f"internal error: the rewrite left two ops named {min(repeated)!r} "
                               "(please report this)")
        note = (f"the input is damaged and so is the result: more than one op is named {min(repeated)!r}"
                + (f" (and {len(repeated) - 1} more names)" if len(repeated) > 1 else ""))
        if note not in changes.notes:
            changes.notes.append(note)
    if kept:  # damage of the input, kept as it was: say so, TensorFlow will refuse it
        consumer, op = kept[0]
        more = f" (and {len(kept) - 1} more)" if len(kept) > 1 else ""
        note = (f"the input is damaged and so is the result: {consumer!r} reads {op!r}, which is not in the "
                f"graph{more}")
        if note not in changes.notes:
            changes.notes.append(note)
    if result.root.meta_graph is None:
        return
    known = unresolved_references(before) if before is not None else set()
    reported = " ".join(changes.dropped)
    for where, name in sorted(unresolved_references(result) - known):
        if name not in reported:
            raise RewriteError(f"internal error: the rewrite left {where} naming {name!r}, which is not in "
                               "the graph (please report this)")
    meta = result.root.meta_graph
    before_meta = before.root.meta_graph if before is not None else None
    problems = _variable_def_problems(result, meta) | _main_op_problems(meta)
    if problems and before_meta is not None:
        problems -= _variable_def_problems(before, before_meta) | _main_op_problems(before_meta)
    if not problems and result.root.checkpoint:
        problems = checkpoint_problems(result)
        if problems and before_meta is not None and before.root.checkpoint == result.root.checkpoint:
            problems -= checkpoint_problems(before)
    if problems:
        first = sorted(problems)[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RewriteError(f"internal error: the rewrite left {first}{more}; TensorFlow would refuse it "
                           "(please report this)")
