"""Export: a servable SavedModel from a ``.meta`` + checkpoint, a frozen GraphDef or another tag set.

TensorFlow Serving, TFLite and TF.js converters take a SavedModel with a
signature; TensorFlow makes one only inside a session with the model loaded
(``SavedModelBuilder``). This rewrite makes it from the files, without
TensorFlow:

1. **Signatures**: ``inputs`` / ``outputs`` (``KEY=TENSOR``, or a bare
   tensor keyed by its op's last name part) make one SignatureDef
   (``serving_default`` unless named), method ``tensorflow/serving/predict``;
   dtypes and shapes come from the graph. Without them, a SavedModel
   source keeps its own signatures; otherwise they are inferred from the
   likely outputs (tensors nothing reads, not training machinery) and the
   placeholders those need, when that leaves no choice (the choice is said
   in the notes), and refused with the candidates when it does not.
2. **Pinning** (:mod:`graphsurgeon.surgery.pinning`): switches the
   signatures do not feed (``training``) take their default; ``set_values``
   pins placeholders to constants. A plain placeholder the outputs need and
   no signature feeds is an error.
3. **Pruning** (:func:`graphsurgeon.surgery.prune.prune`) to the
   signatures' outputs, the lookup tables' initializers and the model's
   own main op; a signature input that is not a placeholder becomes one
   (what computed it is not served). Gradients, optimizer, the old saver
   and the training op go, with the collection entries that named them.
4. **Saver** (:func:`graphsurgeon.surgery.new_saver.add_saver`): a V2 saver
   over the variables that remain, under the checkpoint keys the model's
   own saver used (checked against the checkpoint: key, dtype, shape).
5. **Main op**: when lookup tables remain and the model has no main op,
   one that runs their initializers (``saved_model_main_op``), as
   ``SavedModelBuilder(main_op=tf.compat.v1.tables_initializer())`` would.
6. The MetaGraphDef is tagged (``serve``) and becomes a SavedModel in memory
   (:meth:`graphsurgeon.Graph.as_saved_model`); saving it to a directory
   writes ``saved_model.pb``, ``variables/`` (the checkpoint keys the saver
   restores, and only those: no optimizer slots; copied byte for byte when
   V2, converted when V1) and ``assets/``.

With ``keep_training`` the graph is kept whole (nothing pinned or pruned);
its own saver stays when it restores with ``RestoreV2``.

Example:
    >>> g = graphsurgeon.load("fixtures/models/mnist_bn_elu_tf1")
    >>> served, changes = graphsurgeon.export(g, inputs=["X:0"], outputs=["logits:0", "probabilities:0"])
    >>> served.save("build/served")        # saved_model.pb, variables/variables.*
"""
from __future__ import annotations

import re

from ..errors import RewriteError, UsageError
from ..formats.bundle import is_v2
from ..ir.changes import Changes
from ..ir.graph import Graph
from ..metagraph.assets import find_assets
from ..metagraph.collections import MAIN_OP_COLLECTIONS, main_ops
from ..metagraph.saver import restores
from ..metagraph.signatures import DEFAULT_SIGNATURE, PREDICT_METHOD, signature_def
from ..metagraph.tables import table_initializers
from ..vocab import names as _names
from ..vocab import protos
from ..vocab.optypes import PLACEHOLDER_TYPES, VARIABLE_TYPES
from ..wording import plural
from .export_signatures import signature_specs, tensor_names
from .new_saver import add_saver, restored_variables, restores_v2, saver_scope_ops
from .pinning import pin_placeholders
from .prune import needed_ops, prune
from .rewrite import rewrite

__all__ = ["export", "SERVE_TAG"]

SERVE_TAG = "serve"
# PEP 440, which TensorFlow 2.21's import_meta_graph parses meta_info_def.tensorflow_version with.
_PEP440 = re.compile(r"^\s*v?(\d+!)?\d+(\.\d+)*((a|b|c|rc|alpha|beta|pre|preview)[-_.]?\d*)?"
                     r"((-\d+)|([-_.]?(post|rev|r)[-_.]?\d*))?([-_.]?dev[-_.]?\d*)?(\+[a-z0-9]+([-_.][a-z0-9]+)*)?\s*$",
                     re.I)


def _cuts(g: Graph, io: list) -> list[str]:
    """Signature inputs computed by the graph that can become placeholders: those that every signature
    whose outputs read them feeds (another signature may compute them from its own inputs)."""
    reach = [g.ancestors([_names.split_tensor_name(t)[0] for t in outs], control=False, include_roots=True)
             for _, outs in io]
    out = []
    for t in dict.fromkeys(t for ins, _ in io for t in ins):
        if g.node_defs[_names.split_tensor_name(t)[0]].op in PLACEHOLDER_TYPES:
            continue
        if all(t in ins for (ins, _), needed in zip(io, reach) if _names.split_tensor_name(t)[0] in needed):
            out.append(t)
    return out


def _check_fed(g: Graph, outputs: list[str], fed: set[str], cut: set) -> None:
    """A plain placeholder the outputs need must be fed by a signature (else TensorFlow fails when served)."""
    full, _, _ = needed_ops(g, outputs, cut)
    for name in sorted(full):
        node = g.node_defs.get(name)
        if node is not None and node.op in PLACEHOLDER_TYPES and node.op != "PlaceholderWithDefault" \
                and name not in fed:  # one with a default runs unfed
            raise RewriteError(f"the outputs need placeholder {name!r}, which no signature input feeds",
                               hint=f"add --input {name}:0, or pin it with --set {name}=VALUE")


def _fix_version(g: Graph, notes: list) -> None:
    version = g.meta_graph.meta_info_def.tensorflow_version
    if version and not _PEP440.match(version):
        release = re.match(r"\d+(\.\d+)*", version)
        g.set_tensorflow_version(release.group(0) if release else "")
        notes.append(f"tensorflow_version {version!r} is not a version TensorFlow 2.21 can parse (its "
                     f"import_meta_graph would fail): written as {g.meta_graph.meta_info_def.tensorflow_version!r}")


@rewrite(requires=("top_level",), reports=True)
def export(g: Graph, signatures: dict | None = None, *, inputs=None, outputs=None,
           signature: str = DEFAULT_SIGNATURE, method: str = PREDICT_METHOD, tags=(SERVE_TAG,),
           keep_training: bool = False, set_values: dict | None = None,
           checkpoint: str | None = None) -> tuple[Graph, Changes]:
    """Make a servable SavedModel of ``g`` (see the module documentation); ``g`` is not modified.

    Args:
        g: a meta graph with its checkpoint, a SavedModel (any tag set) or a GraphDef.
        signatures: ``{name: {"inputs": ..., "outputs": ..., "method": ...}}`` with
            inputs and outputs as ``{key: tensor}`` or ``["KEY=TENSOR" | "TENSOR", ...]``.
        inputs, outputs: one signature's inputs and outputs, the same way
            (named ``signature``); either may be left to inference.
        signature: the name of that signature (``serving_default``).
        method: its method name (``tensorflow/serving/predict``).
        tags: the tags of the exported MetaGraphDef (``serve``).
        keep_training: keep the whole graph (no pinning, no pruning).
        set_values: ``{placeholder: value}`` to pin to constants.
        checkpoint: the checkpoint prefix (default: the graph's own).

    Returns:
        ``(SavedModel graph, Changes)``; ``changes.details`` holds
        ``signatures``, ``inferred``, ``tags``, ``variables``, ``checkpoint``,
        ``checkpoint_format``, ``saver``, ``pinned``, ``assets`` and ``main_op``.

    Raises:
        NotFoundError: a tensor, or a variable in the checkpoint, is missing.
        AmbiguousError: the signature cannot be inferred (the candidates are named).
        RewriteError: an output needs a placeholder no input feeds, the
            checkpoint does not match, an asset file is missing, or the model
            is a TF2 SavedModel (servable as it is).
    """
    meta = g.meta_graph
    if meta is not None and meta.HasField("object_graph_def") and len(meta.object_graph_def.nodes):
        raise RewriteError(f"{g.where}: is a TF2 SavedModel (objects and functions); it is servable as it is",
                           hint="edit its signatures with graphsurgeon signatures")
    if not tags:
        raise UsageError("an exported MetaGraphDef needs at least one tag")
    checkpoint = checkpoint or g.checkpoint
    set_values = dict(set_values or {})
    changes = Changes()
    specs, source_sigs, inferred = signature_specs(g, signatures, inputs, outputs, signature, method, set_values,
                                          changes.notes)
    io = [(list(ins.values()), list(outs.values())) for ins, outs, _ in specs.values()]
    io += [([n for info in sig.inputs.values() for n in tensor_names(info)],
            [n for info in sig.outputs.values() for n in tensor_names(info)]) for sig in source_sigs.values()]
    out_tensors = [t for _, outs in io for t in outs]
    in_tensors = [t for ins, _ in io for t in ins]
    fed = {_names.split_tensor_name(t)[0] for t in in_tensors}

    work = g.as_meta_graph()
    # A signature input computed by the graph is cut there: a Placeholder takes its place.
    cut = _cuts(work, io)
    cut_refs = {_names.split_tensor_name(t) for t in cut}
    # Switches the outputs read and no signature feeds take their default (not the saver's own).
    needed, _, _ = needed_ops(work, out_tensors, cut_refs)
    keep = set(work.node_defs) if keep_training else fed | (set(work.node_defs) - needed)
    made_const, rewired, notes = pin_placeholders(work, set_values, keep=keep)
    changes.changed.extend(made_const)
    changes.notes.extend(notes)
    _check_fed(work, out_tensors, fed, cut_refs)

    renamed: dict[str, str] = {}
    if keep_training:
        result = work
    else:
        # Inputs too: a signature may name an input its outputs do not read (it must still exist);
        # and a SavedModel's assets, which its loader feeds whether the graph reads them or not.
        assets_kept = [a.tensor for a in find_assets(work) if g.format == "savedmodel" and a.source is not None
                       and _names.split_tensor_name(a.tensor)[0] in work.node_defs]
        roots = list(dict.fromkeys(out_tensors + in_tensors + assets_kept)) + main_ops(work)
        needed, _, _ = needed_ops(work, roots, cut_refs)
        tables = table_initializers(work, needed)
        result, pruned = prune(work, roots + tables, inputs=cut or None, keep_saver=False)
        changes.extend(pruned)
        renamed = dict(pruned.renamed)
        result.clear_signatures()  # rebuilt below

    # Saver over the variables that remain.
    saver_kind = None
    if keep_training and restores_v2(result):
        saver_kind = "kept"
    else:
        entries = restored_variables(g, result, checkpoint, changes.notes)
        if keep_training and result.meta_graph.HasField("saver_def"):
            old = saver_scope_ops(result)
            changes.extend(result.remove_ops(old - {n for n in old if result.node_defs[n].op in VARIABLE_TYPES}))
            changes.notes.append("the model's own saver restores from V1 checkpoints only: replaced by a V2 saver")
        if entries:
            added = add_saver(result, entries)
            changes.added.extend(added)
            saver_kind = "new"
            changes.notes.append(f"saver: a V2 saver over the {plural(entries, 'variable')} the signatures need "
                                 f"({_names.scope_of(added[-1])}/)")

    # Main op: the lookup tables' initializers, when the model has no main op.
    main_op = None
    if not main_ops(result):
        tables = table_initializers(result, set(result.node_defs))
        if tables:
            main_op = _names.unique_name("init_all_tables", result.node_defs)
            node = protos.NodeDef(name=main_op, op="NoOp")
            node.input.extend("^" + t for t in tables)
            result.add_op(node)
            result.ensure_op_defs({"NoOp"})
            result.add_to_collection(MAIN_OP_COLLECTIONS[0], main_op)
            changes.added.append(main_op)
            changes.notes.append(f"main op {main_op}: runs the initializers of {plural(tables, 'lookup table')} "
                                 "when the model is loaded")

    # Signatures.
    if keep_training and not source_sigs:
        result.clear_signatures()
    exported = {}
    for name, sig in source_sigs.items():
        result.set_signature(name, sig)
    for name, (ins, outs, sig_method) in specs.items():
        ins = {k: renamed.get(t, t) for k, t in ins.items()}
        outs = {k: renamed.get(t, t) for k, t in outs.items()}
        result.set_signature(name, signature_def(result, ins, outs, sig_method))
    out_meta = result.meta_graph
    for name in out_meta.signature_def:
        sig = out_meta.signature_def[name]
        exported[name] = {"method": sig.method_name,
                          "inputs": {k: ", ".join(tensor_names(v)) for k, v in sorted(sig.inputs.items())},
                          "outputs": {k: ", ".join(tensor_names(v)) for k, v in sorted(sig.outputs.items())}}

    # Assets the result still names.
    assets = {}
    kept_assets = []
    for asset in find_assets(work):
        if _names.split_tensor_name(asset.tensor)[0] not in result.node_defs:
            continue
        if asset.source is None:
            where = ", ".join(str(p) for p in asset.looked_at) or "nowhere to look"
            raise RewriteError(f"asset {asset.filename or asset.tensor!r} (fed to {asset.tensor}) not found "
                               f"(looked at {where})", hint="put the file there, then export again")
        if assets.get(asset.filename, asset.source) != asset.source:
            raise RewriteError(f"two assets are both called {asset.filename!r} ({assets[asset.filename]}, "
                               f"{asset.source}); a SavedModel's assets/ holds one")
        assets[asset.filename] = asset.source
        kept_assets.append(asset)
    result.set_asset_files([(asset.filename, asset.tensor) for asset in kept_assets])

    _fix_version(result, changes.notes)
    # variables/ holds what the saver restores: the variables the signatures read, not optimizer slots.
    restored = restores(result)
    keys = sorted({key for key, _ in restored.values()}) if restored else None
    saved = result.as_saved_model(tuple(tags), assets, checkpoint_keys=keys)
    kept = set(saved.node_defs)
    changes.removed = [n.name for n in g.graph_def.node if n.name not in kept]
    changes.added = [n for n in dict.fromkeys(changes.added) if n in kept]
    changes.changed = [n for n in dict.fromkeys(changes.changed) if n in kept]
    variables = [n.name for n in saved.graph_def.node if n.op in VARIABLE_TYPES]
    changes.details.update({
        "signatures": exported,
        "inferred": inferred,
        "tags": list(tags),
        "variables": variables,
        "checkpoint": checkpoint if variables else None,
        "checkpoint_format": (("V2" if is_v2(checkpoint) else "V1") if checkpoint and variables else None),
        "saver": saver_kind,
        "pinned": made_const + rewired,
        "assets": {name: str(path) for name, path in sorted(assets.items())},
        "main_op": main_op,
    })
    if variables and not is_v2(checkpoint):
        changes.notes.append(f"the V1 checkpoint {checkpoint} is converted to V2 (variables/variables) when written")
    return saved, changes
