"""``compare`` and ``--verify``: run two models in TensorFlow on the same inputs and compare their outputs.

``--verify`` is :func:`compare` of a command's input and its output
(:func:`verify`), so the rewrite is judged by the same code, tolerances and
inputs as ``graphsurgeon compare``. The library prints nothing: progress
goes to a callback, the result is a :class:`Comparison` (look at ``ok``).

Tolerances follow Polygraphy's element-wise check: an element passes when
``|a - b| <= atol`` or ``|a - b| <= rtol * |a|``, ``a`` being the first
model's value (the reference); a tensor passes when every element does and
shapes and dtypes agree. ``rtol`` is 0 by default, which makes ``atol``
the largest absolute difference allowed (``--tolerance``, as before).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import NotFoundError
from ..vocab import names as _names
from ..vocab.optypes import MERGE_OPS, PLACEHOLDER_TYPES, SWITCH_OPS
from . import tf as _tf
from .examples import example_features
from .feeds import Output, Plan, find_input, given_values, plan
from .inputs import Inputs, InputSpec, make_inputs
from .run import CallableModel, open_model

# Ops whose outputs --all-tensors never fetches: fetching them changes state or reads a queue.
_EFFECT_PREFIXES = ("Assign", "Scatter", "Save", "Restore", "Queue", "Reader", "Iterator", "Print",
                    "MergeSummary", "Write", "Enqueue", "Dequeue")
_UNFETCHED_DTYPES = ("resource", "variant")
# Tensors fetched in one session run with --all-tensors: bounds memory on large graphs.
CHUNK = 64


@dataclass
class Difference:
    """How a tensor of the first model and its counterpart in the second differ."""

    name: str                   # as the user names it: a signature key or a tensor name
    tensor_a: str
    tensor_b: str
    max_abs: float = 0.0
    max_rel: float = 0.0
    mismatched: int = 0         # elements beyond both tolerances
    size: int = 0
    problem: str | None = None  # shapes or dtypes that differ

    @property
    def ok(self) -> bool:
        return self.problem is None and self.mismatched == 0

    def as_dict(self) -> dict:
        return {"name": self.name, "tensor_a": self.tensor_a, "tensor_b": self.tensor_b,
                "max_abs_diff": self.max_abs, "max_rel_diff": self.max_rel, "mismatched": self.mismatched,
                "size": self.size, "problem": self.problem, "ok": self.ok}


def difference(name: str, tensor_a: str, tensor_b: str, a, b, atol: float, rtol: float) -> Difference:
    """Compare two arrays element-wise (module documentation); NaN equals NaN, inf equals the same inf."""
    import numpy as np

    a, b = np.asarray(a), np.asarray(b)
    d = Difference(name, tensor_a, tensor_b, size=int(a.size))
    if a.shape != b.shape:
        d.problem = f"shape {list(a.shape)} vs {list(b.shape)}"
        d.max_abs = d.max_rel = float("inf")
        return d
    numeric = a.dtype.kind in "fciub" and b.dtype.kind in "fciub"
    if not numeric:
        if a.dtype.kind != b.dtype.kind:
            d.problem = f"dtype {a.dtype} vs {b.dtype}"
        d.mismatched = int(np.sum(a != b)) if a.size else 0
        d.max_abs = d.max_rel = float("inf") if d.mismatched else 0.0
        return d
    if a.dtype.kind == "c" or b.dtype.kind == "c":
        x, y = a.astype(np.complex128), b.astype(np.complex128)
    else:
        x, y = a.astype(np.float64), b.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = np.abs(x - y)
        same = (x == y) | (np.isnan(x) & np.isnan(y))   # equal infinities, NaN on both sides
        diff = np.where(same, 0.0, diff)
        diff = np.where(np.isnan(diff), np.inf, diff)  # NaN on one side only
        scale = np.abs(x)
        rel = np.where(diff == 0, 0.0, np.where(scale > 0, diff / np.where(scale > 0, scale, 1), np.inf))
        bad = (diff > atol) & (rel > rtol)
    d.max_abs = float(diff.max()) if diff.size else 0.0
    d.max_rel = float(rel.max()) if rel.size else 0.0
    d.mismatched = int(bad.sum())
    return d


@dataclass
class Comparison:
    """What ``compare`` (or ``--verify``) found."""

    differences: dict           # output name -> Difference, in the order of the outputs
    atol: float
    rtol: float
    inputs: Inputs
    original: dict              # output name -> first model's array
    result: dict                # output name -> second model's array
    tensors: list | None = None  # with all_tensors: Difference per shared tensor, in data-flow order
    skipped: dict = field(default_factory=dict)  # tensor -> why it was not compared (all_tensors)
    signature: str | None = None
    divergence: dict | None = None  # the first divergence's op: {"op", "type", "inputs": {tensor: state}}

    # ``--verify``'s first fields, kept: max |diff| per output, the absolute tolerance, where the inputs came from.
    @property
    def outputs(self) -> dict:
        return {k: d.max_abs for k, d in self.differences.items()}

    @property
    def tolerance(self) -> float:
        return self.atol

    @property
    def source(self) -> str:
        return self.inputs.source

    @property
    def labels(self):
        return self.inputs.labels

    @property
    def inputs_reason(self) -> str | None:
        return self.inputs.reason

    @property
    def max_diff(self) -> float:
        return max(self.outputs.values(), default=0.0)

    @property
    def ok(self) -> bool:
        return all(d.ok for d in self.differences.values())

    @property
    def first_divergence(self) -> Difference | None:
        """With all_tensors: the first tensor (in data-flow order) that differs beyond the tolerances."""
        return next((d for d in self.tensors or () if not d.ok), None)

    def accuracy(self, name: str) -> float | None:
        """Argmax accuracy of an output of the second model against the MNIST labels, when they were fed."""
        import numpy as np

        if self.labels is None or name not in self.result:
            return None
        values = self.result[name]
        if getattr(values, "ndim", 0) != 2 or len(values) != len(self.labels):
            return None
        return float(np.mean(np.argmax(values, axis=1) == self.labels))

    def as_dict(self) -> dict:
        out = {"inputs": self.source, "inputs_reason": self.inputs_reason,
               "input_sources": {self.inputs.labels_by_key.get(k, k): v for k, v in self.inputs.sources.items()},
               "tolerance": self.atol, "atol": self.atol, "rtol": self.rtol, "ok": self.ok,
               "signature": self.signature,
               "max_abs_diff": dict(self.outputs),
               "max_rel_diff": {k: d.max_rel for k, d in self.differences.items()},
               "outputs": [d.as_dict() for d in self.differences.values()],
               "accuracy": {k: self.accuracy(k) for k in self.differences if self.accuracy(k) is not None}}
        if self.tensors is not None:
            first = self.first_divergence
            out["all_tensors"] = {
                "compared": len(self.tensors), "differ": sum(1 for d in self.tensors if not d.ok),
                "skipped": dict(self.skipped),
                "first_divergence": dict(first.as_dict(), **(self.divergence or {})) if first else None}
        return out


# ---------------------------------------------------------------------------------------------- pairing


@dataclass
class _Pairing:
    """The two models' inputs as one set of values: ``specs`` are made once, each fed to A, B or both."""

    specs: list[InputSpec]
    to_a: dict      # value name -> A tensor
    to_b: dict      # value name -> B tensor


def _pair_outputs(a, b, pa: Plan) -> list[Output]:
    """For each output of A, B's tensor: the same signature key when B has that signature, else the same name."""
    sig_b = b.signatures.get(pa.signature) if pa.signature else None
    out = []
    for o in pa.outputs:
        info = sig_b["outputs"].get(o.key) if sig_b else None
        if info is not None and info.get("name"):
            out.append(Output(o.key, info["name"], info.get("dtype")))
            continue
        for candidate in (o.tensor, o.key):
            tensor = candidate if _names.is_tensor_name(candidate) else f"{candidate}:0"
            op_name, index = _names.split_tensor_name(tensor)
            if op_name in b and index < b.num_outputs(op_name):
                out.append(Output(o.key, tensor, o.dtype))
                break
        else:
            raise NotFoundError(f"counterpart of output {o.key!r} ({o.tensor} in {a.where})", o.tensor,
                                [f"{n}:0" for n in b.node_defs], where=b.where)
    return out


def _counterparts(b, pa: Plan) -> dict:
    """``{A's input tensor: B's tensor}``: B's signature input of the same key, else B's tensor of the same name
    (a placeholder, or an inner tensor TensorFlow feeds as well)."""
    sig_b = b.signatures.get(pa.signature) if pa.signature else None
    out = {}
    for spec in pa.inputs:
        info = sig_b["inputs"].get(spec.key) if sig_b and spec.key else None
        if info is not None and info.get("name"):
            out[spec.name] = info["name"]
            continue
        op_name, index = _names.split_tensor_name(spec.name)
        if op_name in b and index < b.num_outputs(op_name):
            out[spec.name] = spec.name
    return out


def _pair_inputs(a, pa: Plan, pb: Plan, counterparts: dict) -> _Pairing:
    specs = list(pa.inputs)
    to_a = {s.name: s.name for s in pa.inputs}
    to_b = {}
    from_b = {tb: ta for ta, tb in counterparts.items()}
    for sb in pb.inputs:
        if sb.name in from_b:
            to_b[from_b[sb.name]] = sb.name
            continue
        op_name, index = _names.split_tensor_name(sb.name)
        if op_name in a and index < a.num_outputs(op_name):
            # A cut (prune --inputs) makes an inner tensor of A an input of B: feed both.
            to_a[sb.name] = sb.name
        specs.append(sb)
        to_b[sb.name] = sb.name
    return _Pairing(specs, to_a, to_b)


def _resolve_given(given, a, b, pa: Plan, pb: Plan, pairing: _Pairing) -> dict:
    """``--input`` values by value name (see :class:`_Pairing`): a name of A's (:func:`find_input`), else an
    input only B has. A value for a tensor that is not yet an input goes to A, and to B when B has that
    tensor as a placeholder."""
    b_to_value = {v: k for k, v in pairing.to_b.items()}
    out = {}
    for name, value, source in given_values(given):
        spec_b = pb.spec(name)
        if pa.spec(name) is None and spec_b is not None and spec_b.name in b_to_value:
            spec = next(s for s in pairing.specs if s.name == b_to_value[spec_b.name])
        else:
            try:
                spec = find_input(pa, a, name)
            except NotFoundError:
                raise NotFoundError("input", name, [s.label for s in pa.inputs + pa.optional + pb.inputs],
                                    where=f"{a.where} or {b.where}") from None
        if spec not in pairing.specs:
            pairing.specs.append(spec)
            pairing.to_a[spec.name] = spec.name
            op_name = _names.split_tensor_name(spec.name)[0]
            if op_name in b and b.op(op_name).type in PLACEHOLDER_TYPES:
                pairing.to_b[spec.name] = spec.name
        out[spec.name] = (value, source)
    return out


# ---------------------------------------------------------------------------------------------- compare


def compare(a, b, *, signature: str | None = None, outputs: list[str] | None = None, given=(),
            atol: float = 1e-5, rtol: float = 0.0, seed: int = 0, mnist_dir=None, all_tensors: bool = False,
            progress: Callable[[str, str], None] | None = None, run_b=None) -> Comparison:
    """Run models ``a`` and ``b`` in TensorFlow on the same inputs and compare their outputs.

    Args:
        a: the reference model (a Graph; run as TensorFlow loads its files,
            see :func:`graphsurgeon.training.run.open_model`).
        b: the model compared with it.
        signature: the signature of ``a`` whose inputs and outputs are used
            (default ``serving_default`` or the only one); ``b``'s tensors are
            its signature's of the same key, else the tensors of the same name.
        outputs: output keys or tensor names of ``a`` (default: the signature's, else the likely outputs).
        given: :class:`graphsurgeon.training.inputs.Given` values (``--input``);
            the other inputs are made up (:func:`make_inputs`).
        atol, rtol: tolerances (module documentation).
        all_tensors: also compare every tensor the two graphs share by name
            on the way to the outputs, in data-flow order, to find the first
            that diverges.
        progress: called as ``progress("inputs", text)`` once the inputs are
            chosen, then ``progress("step", text)`` before each slow step.
        run_b: ``run_b(feeds, fetches) -> arrays`` runs ``b`` instead of
            :func:`graphsurgeon.training.run.open_model` (which already runs
            an in-memory result as TensorFlow would load it once written).

    Raises:
        NotFoundError: an output or input name neither model has.
        InputNeeded: an input no value can be made up for (say which, and how to give it).
        RunError: TensorFlow refused to load or run a model (its whole message).
    """
    say = progress or (lambda kind, text: None)
    pa = plan(a, signature, outputs)
    outs_b = _pair_outputs(a, b, pa)
    counterparts = _counterparts(b, pa)
    sig_b = pa.signature if pa.signature in b.signatures else None
    pb = plan(b, sig_b, [o.tensor for o in outs_b], fed={t: None for t in counterparts.values()})
    pairing = _pair_inputs(a, pa, pb, counterparts)
    values = _resolve_given(given, a, b, pa, pb, pairing)
    examples = example_features(a.graph_def) + example_features(b.graph_def)
    made = make_inputs(pairing.specs, seed=seed, mnist_dir=mnist_dir, examples=examples or None, given=values)
    say("inputs", made.describe())
    feeds_a = {pairing.to_a[k]: v for k, v in made.feeds.items() if k in pairing.to_a}
    feeds_b = {pairing.to_b[k]: v for k, v in made.feeds.items() if k in pairing.to_b}
    if not _tf.loaded():
        say("step", "loading TensorFlow")
        _tf.tf()
    say("step", f"loading {a.where} in TensorFlow")
    with open_model(a) as model_a:
        say("step", f"loading {b.where} in TensorFlow")
        with (open_model(b) if run_b is None else CallableModel(run_b)) as model_b:
            say("step", "running both models")
            values_a = model_a.run(feeds_a, [o.tensor for o in pa.outputs])
            values_b = model_b.run(feeds_b, [o.tensor for o in outs_b])
            diffs = {o.key: difference(o.key, o.tensor, ob.tensor, va, vb, atol, rtol)
                     for o, ob, va, vb in zip(pa.outputs, outs_b, values_a, values_b)}
            comparison = Comparison(diffs, atol, rtol, made, {o.key: v for o, v in zip(pa.outputs, values_a)},
                                    {o.key: v for o, v in zip(pa.outputs, values_b)}, signature=pa.signature)
            if all_tensors:
                say("step", "comparing every shared tensor")
                comparison.tensors, comparison.skipped = _compare_all(
                    a, b, model_a, model_b, feeds_a, feeds_b, [o.tensor for o in pa.outputs], atol, rtol)
                comparison.divergence = _divergence(a, comparison, feeds_a)
    return comparison


def _divergence(a, comparison: Comparison, feeds_a: dict) -> dict | None:
    """The op whose output diverges first, and what its inputs did: ``agree``, ``differ``, ``fed``, or why
    they were not compared (all of them agreeing means that op computes differently)."""
    first = comparison.first_divergence
    if first is None:
        return None
    op = a.op(_names.split_tensor_name(first.tensor_a)[0])
    compared = {d.tensor_a: ("agree" if d.ok else "differ") for d in comparison.tensors}
    inputs = {}
    for ref in a.data_refs(op.name):
        tensor = ref.tensor
        inputs[tensor] = compared.get(tensor) or ("fed" if tensor in feeds_a else
                                                 comparison.skipped.get(tensor, "not in both graphs"))
    return {"op": op.name, "type": op.type, "inputs": inputs}


def _frames(g) -> set[str]:
    """Ops inside TF1 control flow (a while loop's frame, a cond's branches, what waits on them): their
    tensors cannot be fetched (an untaken branch has no value)."""
    enters = [op.name for op in g if op.type in ("Enter", "RefEnter")]
    exits = [op.name for op in g if op.type in ("Exit", "RefExit")]
    switches = [op.name for op in g if op.type in SWITCH_OPS]
    merges = [op.name for op in g if op.type in MERGE_OPS]
    inside = set()
    if enters:
        inside |= g.descendants(enters, control=True, stop=exits, include_roots=True)
    if switches:
        inside |= g.descendants(switches, control=True, stop=merges, include_roots=True)
    return inside


def shared_tensors(a, b, outputs: list[str]) -> tuple[list[str], dict]:
    """Tensors of ``a`` on the way to ``outputs`` that ``b`` has too, in data-flow order; and those left out, why."""
    from ..vocab import dtypes

    needed = a.ancestors(outputs, control=False, include_roots=True)
    inside = _frames(a) | _frames(b)
    order = [n for n in a.topological_order(control=False) if n in needed]
    out, skipped = [], {}
    for name in order:
        op = a.op(name)
        if name not in b:
            continue
        for t in op.outputs:
            if t.index >= b.num_outputs(name):
                continue
            base = dtypes.base(t.dtype) if t.dtype else None
            if name in inside:
                skipped[t.name] = "inside control flow"
            elif base in _UNFETCHED_DTYPES or op.type.startswith(_EFFECT_PREFIXES) or "Apply" in op.type:
                skipped[t.name] = f"{base} dtype" if base in _UNFETCHED_DTYPES else f"{op.type} changes state when run"
            else:
                out.append(t.name)
    return out, skipped


def _compare_all(a, b, model_a, model_b, feeds_a, feeds_b, outputs, atol, rtol):
    names, skipped = shared_tensors(a, b, outputs)
    fed = set(feeds_a) | set(feeds_b)
    names = [n for n in names if n not in fed]
    diffs = []
    for start in range(0, len(names), CHUNK):
        group = names[start:start + CHUNK]
        got_a, failed_a = model_a.run_each(feeds_a, group)
        got_b, failed_b = model_b.run_each(feeds_b, [n for n in group if n in got_a])
        for name in group:
            if name in failed_a or name in failed_b:
                skipped[name] = "TensorFlow cannot fetch it: " + (failed_a.get(name) or failed_b.get(name))
            elif name in got_b:
                diffs.append(difference(name, name, name, got_a[name], got_b[name], atol, rtol))
    return diffs, skipped


def verify(original, result, outputs: list[str], tolerance: float = 1e-5, fixed: dict | None = None,
           seed: int = 0, mnist_dir=None, progress: Callable[[str, str], None] | None = None,
           given=(), rtol: float = 0.0, all_tensors: bool = False, run_result=None) -> Comparison:
    """:func:`compare` a rewrite's input (``original``) with its output (``result``) on ``outputs``.

    ``fixed``: ``{placeholder name: value}`` fed to the original only (what
    ``freeze --set`` pinned in the result). ``given``: ``--input`` values.
    ``run_result``: :func:`compare`'s ``run_b``. Raises nothing on a
    difference: look at :attr:`Comparison.ok`.
    """
    from .inputs import Given

    pinned = [Given(name, value, "--set") for name, value in (fixed or {}).items()]
    return compare(original, result, outputs=list(outputs), given=list(given) + pinned, atol=tolerance, rtol=rtol,
                   seed=seed, mnist_dir=mnist_dir, all_tensors=all_tensors, progress=progress, run_b=run_result)
