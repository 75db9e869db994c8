"""Which signatures an export serves: given, the source's own, or inferred (see :mod:`graphsurgeon.surgery.export`).

A signature is given as ``{key: tensor}`` inputs and outputs (``KEY=TENSOR``
or a bare tensor keyed by its op's last name part). Without them, a
SavedModel's own signatures are kept (every tensor they name checked), and
otherwise the outputs are the likely outputs (tensors nothing reads, outside
the training machinery) when there is exactly one, and the inputs the
placeholders those outputs read (not the switches that get pinned).
"""
from __future__ import annotations

from ..analysis.endpoints import likely_outputs
from ..errors import AmbiguousError, RewriteError, UsageError
from ..ir.graph import Graph
from ..metagraph.signatures import PREDICT_METHOD, RESERVED_KEYS, default_key, resolve_tensors
from ..vocab import names as _names
from ..vocab.optypes import PLACEHOLDER_TYPES, training_machinery
from ..wording import plural
from .pinning import is_switch

__all__ = ["signature_specs", "tensor_names"]


def tensor_names(info) -> list[str]:
    """Every tensor a TensorInfo names (dense, sparse components, composite components)."""
    kind = info.WhichOneof("encoding")
    if kind == "name":
        return [info.name]
    if kind == "coo_sparse":
        c = info.coo_sparse
        return [n for n in (c.values_tensor_name, c.indices_tensor_name, c.dense_shape_tensor_name) if n]
    if kind == "composite_tensor":
        return [n for comp in info.composite_tensor.components for n in tensor_names(comp)]
    return []


def _infer_outputs(g: Graph, inputs: dict) -> dict[str, str]:
    candidates = likely_outputs(g)
    if inputs:
        reach = g.descendants([_names.split_tensor_name(t)[0] for t in inputs.values()], control=False,
                              include_roots=True)
        candidates = [t for t in candidates if t.op_name in reach]
    names = [t.name for t in candidates]
    if len(names) != 1:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        if not names:
            raise UsageError(f"{g.where}: no likely output to serve (no tensor that nothing reads, outside the "
                             "training machinery)", hint="name the outputs with --output KEY=TENSOR")
        raise AmbiguousError(f"{g.where}: cannot tell which tensors to serve: {plural(names, 'likely output')} "
                             f"({shown})", hint="name them with --output KEY=TENSOR (repeatable)")
    return {default_key(names[0]): names[0]}


def _infer_inputs(g: Graph, outputs: dict, pinned: set) -> dict[str, str]:
    needed = g.ancestors([_names.split_tensor_name(t)[0] for t in outputs.values()], control=False, include_roots=True)
    machinery = training_machinery(g)
    out = {}
    for node in g.graph_def.node:
        if node.name in needed and node.op in PLACEHOLDER_TYPES and node.name not in pinned \
                and node.name not in machinery and not is_switch(node):
            out[default_key(node.name + ":0")] = node.name + ":0"
    return out


def signature_specs(g: Graph, signatures, inputs, outputs, signature: str, method: str, set_values: dict, notes: list):
    """``(new specs {name: (inputs, outputs, method)}, source SignatureDefs kept as they are, inferred)``."""
    specs: dict[str, tuple] = {}
    for name, spec in (signatures or {}).items():
        if not isinstance(spec, dict) or "outputs" not in spec:
            raise UsageError(f"signature {name!r}: expected {{'inputs': ..., 'outputs': ..., 'method': ...}}")
        specs[name] = (resolve_tensors(g, spec.get("inputs") or [], "input"),
                       resolve_tensors(g, spec["outputs"], "output"), spec.get("method", PREDICT_METHOD))
    inferred = []
    if inputs or outputs or not specs:
        source = {}
        meta = g.meta_graph
        if not (inputs or outputs) and not specs and meta is not None:
            source = {k: v for k, v in meta.signature_def.items() if k not in RESERVED_KEYS}
        if source:
            for key, sig in sorted(source.items()):
                for info in list(sig.inputs.values()) + list(sig.outputs.values()):
                    for name in tensor_names(info):
                        if name not in g:
                            raise RewriteError(f"signature {key!r} of {g.where} names {name!r}, which is not in "
                                               "the graph", hint="remove it (graphsurgeon signatures rm), or "
                                               "give the signature with --input/--output")
            notes.append(f"kept the signatures of {g.where}: {', '.join(sorted(source))}")
            return {}, source, inferred
        ins = resolve_tensors(g, inputs or [], "input")
        outs = resolve_tensors(g, outputs or [], "output")
        if not outs:
            outs = _infer_outputs(g, ins)
            inferred.append("outputs")
        if not inputs:
            ins = _infer_inputs(g, outs, set(set_values))
            inferred.append("inputs")
        if inferred:
            notes.append(f"signature {signature!r}: inferred its {' and '.join(inferred)} from the likely inputs "
                         f"and outputs: inputs {', '.join(ins.values()) or '(none)'}; outputs "
                         f"{', '.join(outs.values())} (--input/--output choose others)")
        specs[signature] = (ins, outs, method)
    for name in specs:
        if not name or name in RESERVED_KEYS:
            raise UsageError(f"signature name {name!r} is reserved or empty")
    return specs, {}, inferred
