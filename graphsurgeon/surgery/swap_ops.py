"""Swap element-wise activations (TensorFlow-free), gradients included.

:func:`swap_ops` changes the type and attributes of ops in place: ``Elu`` ->
``Relu``, ``LeakyRelu`` with ``alpha=0.2``, ... Only the element-wise
activations of :data:`SWAPPABLE` are exchanged (same input, same output,
same ``T``), so the rest of the graph stays valid. Attributes the new type
does not define are dropped; ``attrs`` values are checked against its OpDef.

A training graph also holds the *gradients* of those ops: TensorFlow's
gradient of an activation is one op of its own (``EluGrad`` under
``gradients/Elu_grad/``; for ``Softplus``, ``grad * sigmoid(x)``), reading
the incoming gradient and the activation's output or input. Each is
replaced by the new type's, wired as TensorFlow's gradient function wires
it (:data:`GRADIENTS`), so the training op, its optimizer and everything
else stay as they were, whatever the optimizer. A gradient built otherwise
(a second-order gradient of the activation, a custom gradient) is not
touched: :func:`swap_ops` refuses, naming it, unless its caller rebuilds
the gradients (:func:`graphsurgeon.training.swap.swap`).
"""
from __future__ import annotations

import re

from ..errors import NotFoundError, RewriteError, UsageError
from ..ir.changes import Changes
from ..ir.functions import called_functions
from ..ir.graph import Graph
from ..vocab import names as _names
from ..vocab import protos
from ..vocab.opdefs import shipped
from ..vocab.optypes import GRADIENT_OF as _GRADIENT_GROUP
from .rewrite import rewrite
from .unlink import drop_control_inputs, move_colocations

__all__ = ["swap_ops", "gradient_ops", "parse_attrs", "SWAPPABLE", "GRADIENTS"]

SWAPPABLE = ("Elu", "Selu", "Relu", "Relu6", "LeakyRelu", "Sigmoid", "Tanh", "Softplus", "Softsign")
# An activation's gradient as TensorFlow's gradient functions build it
# (tensorflow/python/ops/nn_grad.py, math_grad.py): the op type and what it
# reads, in order: the incoming gradient, the activation's output y or input x.
GRADIENTS = {
    "Relu": ("ReluGrad", ("grad", "y")),
    "Relu6": ("Relu6Grad", ("grad", "y")),
    "Elu": ("EluGrad", ("grad", "y")),
    "Selu": ("SeluGrad", ("grad", "y")),
    "LeakyRelu": ("LeakyReluGrad", ("grad", "x")),
    "Softsign": ("SoftsignGrad", ("grad", "x")),
    "Softplus": ("SoftplusGrad", ("grad", "x")),
    "Sigmoid": ("SigmoidGrad", ("y", "grad")),
    "Tanh": ("TanhGrad", ("y", "grad")),
}


# Gradients that only ask where the activation's input lies against 0 (and 6), the thresholds these activations keep
# in their output (x > 0 iff y > 0, 0 < x < 6 iff 0 < y < 6; LeakyRelu with alpha >= 0): ReluGrad, Relu6Grad and
# LeakyReluGrad compare their `features` with those only (tensorflow/core/kernels/relu_op_functor.h), so each gives
# the same reading x or y. A backward function holding one of them can take another's, whichever it receives.
THRESHOLD_GRADIENTS = ("Relu", "Relu6", "LeakyRelu")


def parse_attrs(items) -> dict:
    """``["alpha=0.2"]`` -> ``{"alpha": "0.2"}`` (typed later against the OpDef)."""
    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--attr {item!r}: expected NAME=VALUE")
        out[key.strip()] = value.strip()
    return out


def _set_attr(node, op_def, key: str, value) -> None:
    spec = next((a for a in op_def.attr if a.name == key), None)
    if spec is None:
        raise UsageError(f"{op_def.name} has no attribute {key!r}",
                         hint="it has " + (", ".join(a.name for a in op_def.attr) or "none"))
    attr = node.attr[key]
    attr.Clear()
    try:
        if spec.type == "float":
            attr.f = float(value)
        elif spec.type == "int":
            attr.i = int(value)
        elif spec.type == "bool":
            if str(value).lower() not in ("true", "false", "1", "0"):
                raise ValueError(value)
            attr.b = str(value).lower() in ("true", "1")
        elif spec.type == "string":
            attr.s = str(value).encode()
        else:
            raise UsageError(f"{op_def.name}.{key} is of type {spec.type}; --attr sets float, int, bool, string")
    except ValueError:
        raise UsageError(f"--attr {key}={value}: not a {spec.type}") from None


def gradient_ops(g: Graph, op_names) -> list[str]:
    """Ops computing gradients of ``op_names`` (``.../gradients/<op>_grad/...``, or ``<Type>Grad`` readers)."""
    names = set(op_names)
    if not names:
        return []
    groups = _gradient_groups(g, names)
    out = [op for members in groups.values() for op in members]
    taken = set(out)
    for op in g:
        if op.name not in taken and op.type.endswith("Grad") and any(t.op_name in names for t in op.inputs):
            out.append(op.name)
    return out


def _gradient_groups(g: Graph, names: set[str]) -> dict[tuple[str, str], list[str]]:
    """``{(gradient scope, op): [ops]}``: what each ``tf.gradients`` call built for each op of ``names``."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name in g.node_defs:
        if "_grad/" not in name:
            continue
        m = _GRADIENT_GROUP.match(name)
        if m and m.group(2) in names:
            groups.setdefault((m.group(0), m.group(2)), []).append(name)
    return groups


def _replace_gradient(out: Graph, prefix: str, op: str, members: list[str]) -> str:
    """Replace the gradient ``members`` of activation ``op`` (already swapped) by its new type's; the new op.

    ``members`` are removed; the ops that read or waited for them read or wait for the new op.

    Raises:
        RewriteError: the group is not one activation gradient as TensorFlow builds it.
    """
    nodes = out.node_defs
    node = nodes[op]
    grad_type, reads = GRADIENTS[node.op]
    inside = set(members)
    y = f"{op}:0"
    x = _names.parse_input(node.input[0]).tensor if node.input else None
    incoming = set()
    for member in members:
        for ref in out.input_refs(member):
            if ref.control or ref.op in inside or ref.tensor in (x, y):
                continue
            if ref.op in nodes and nodes[ref.op].op == "Const":
                continue
            incoming.add(ref.tensor)
    readers: dict[str, set[str]] = {}
    for member in members:
        for use in out.uses(member):
            if use.consumer not in inside and not use.control:
                readers.setdefault(f"{member}:{use.index}", set()).add(use.consumer)
    if len(incoming) != 1 or len(readers) != 1:
        raise RewriteError(f"{members[0]!r} is not a gradient of {op!r} as TensorFlow builds one "
                           f"({len(incoming)} incoming gradients, {len(readers)} results read)")
    (grad,), ((old, consumers),) = incoming, readers.items()
    if any(_GRADIENT_GROUP.match(c) and any(f"/{m.rsplit('/', 1)[-1]}_grad/" in c for m in members)
           for c in consumers):
        raise RewriteError(f"{old!r} has gradients of its own (a second-order gradient of {op!r})")
    values = {"grad": grad, "y": y, "x": x}
    new = protos.NodeDef(name=_names.unique_name(prefix + grad_type, nodes), op=grad_type,
                         device=nodes[_names.split_tensor_name(old)[0]].device)
    new.input.extend(values[r] for r in reads)
    new.attr["T"].CopyFrom(node.attr["T"])
    if "alpha" in node.attr and grad_type == "LeakyReluGrad":
        new.attr["alpha"].CopyFrom(node.attr["alpha"])
    out.add_op(new)
    out.rewire(old, f"{new.name}:0", only=consumers)
    drop_control_inputs(out, inside, replacement=new.name)
    move_colocations(out, dict.fromkeys(inside, new.name))
    out.remove_ops(members)
    return new.name


def _retype(g: Graph, names: list[str], to: str, op_def, attrs: dict | None) -> None:
    """Make the ``names`` ops of ``g`` (top level or a function body) ops of type ``to``, in place."""
    allowed = {a.name for a in op_def.attr}
    with g.batch():  # a function body is written back once
        for name in names:
            node = type(g.node_def(name))()
            node.CopyFrom(g.node_def(name))
            node.op = to
            for key in list(node.attr):
                if key not in allowed and not key.startswith("_"):
                    del node.attr[key]
            for spec in op_def.attr:  # defaults the new type needs (LeakyRelu's alpha)
                if spec.name not in node.attr and spec.HasField("default_value"):
                    node.attr[spec.name].CopyFrom(spec.default_value)
            for key, value in (attrs or {}).items():
                _set_attr(node, op_def, key, value)
            g.replace_op(node)


def _read(reads: tuple, node) -> dict:
    """``{"grad": tensor, "y" or "x": tensor}``: what a gradient op of ``reads`` reads, by role."""
    data = [t for t in node.input if not t.startswith("^")]
    return dict(zip(reads, (_names.parse_input(t).tensor for t in data)))


def _retype_gradient(body, name: str, to: str, values: dict, like) -> str:
    """Make gradient op ``name`` of ``body`` the gradient op of ``to`` reading ``values`` by role; its new name.

    It keeps its control inputs and its place; it is renamed as TensorFlow names
    the op it builds (``gradient_tape/dense/LeakyReluGrad``). ``like`` is the
    NodeDef whose ``T`` (and ``alpha``, for LeakyReluGrad) it takes.
    """
    grad_type, reads = GRADIENTS[to]
    old = body.node_def(name)
    node = protos.NodeDef(name=name, op=grad_type, device=old.device)
    node.input.extend(values[r] for r in reads)
    node.input.extend(t for t in old.input if t.startswith("^"))
    for key, value in old.attr.items():
        if key.startswith("_"):
            node.attr[key].CopyFrom(value)
    node.attr["T"].CopyFrom(like.attr["T"])
    if grad_type == "LeakyReluGrad" and "alpha" in like.attr:
        node.attr["alpha"].CopyFrom(like.attr["alpha"])
    body.replace_op(node)
    scope = _names.scope_of(name)
    new = _names.unique_name(f"{scope}/{grad_type}" if scope else grad_type, body.node_defs)
    body.rename_ops({name: new})
    return new


def _swap_in_body(body, op_type: str, to: str, names: list[str], gradient_ops: list[str]) -> list[str]:
    """Swap the gradients, in the same body, of the just swapped ``names``; the new gradient ops.

    A gradient a ``tf.function`` computed with a tape (``gradient_tape/ReluGrad``)
    or ``tf.gradients`` is one op reading the activation's output or input;
    each is made the new type's, reading what its gradient function reads.

    Raises:
        RewriteError: a gradient op of the old type that reads no activation of the body.
    """
    nodes = body.node_defs
    old_reads = GRADIENTS[op_type][1]
    role = next(r for r in old_reads if r != "grad")
    swapped = set(names)
    # the activations of the body by their output y and their input x
    by_y = {f"{n}:0": n for n in nodes if n in swapped or nodes[n].op == op_type}
    by_x = {}
    for n in by_y.values():
        if nodes[n].input:
            by_x.setdefault(_names.parse_input(nodes[n].input[0]).tensor, []).append(n)
    out = []
    for name in gradient_ops:
        read = _read(old_reads, nodes[name])
        tensor = read.get(role)
        owners = [by_y[tensor]] if role == "y" and tensor in by_y else by_x.get(tensor, []) if role == "x" else []
        if owners and not set(owners) & swapped:
            continue  # the gradient of an activation left as it was (--scope)
        if len(owners) != 1 or "grad" not in read:
            raise RewriteError(f"{body.where}: {name!r} ({nodes[name].op}) reads no {op_type} op of the body as "
                               f"TensorFlow's gradient of one does (it reads {', '.join(read.values()) or 'nothing'})")
        (op,) = owners
        node = nodes[op]
        values = {"grad": read["grad"], "y": f"{op}:0",
                  "x": _names.parse_input(node.input[0]).tensor if node.input else None}
        if any(values[r] is None for r in GRADIENTS[to][1]):
            raise RewriteError(f"{body.where}: {op!r} has no input for {to}'s gradient to read")
        out.append(_retype_gradient(body, name, to, values, node))
    return out


def _swap_backward(forward, backward, op_type: str, to: str, names: list[str], gradient_ops: list[str],
                   like) -> list[str]:
    """Swap the gradients of a forward function's swapped activations in its backward function; the new ops.

    When a ``tf.function`` is differentiated through a call, TensorFlow saves a
    ``__forward_...`` copy returning the activations it needs and a
    ``__inference___backward_...`` function (FunctionDef attributes
    ``backward_function_name`` / ``forward_function_name``) computing each
    gradient from those, received as arguments. The backward gradient op can
    become the new type's when both gradients read the same thing (the output
    y: Relu, Relu6, Elu, Selu, Sigmoid, Tanh; the input x: LeakyRelu, Softsign,
    Softplus), or both are of :data:`THRESHOLD_GRADIENTS` (Relu -> LeakyRelu
    reads the new output where it read the old one: same sign as the input),
    and every activation of the forward body is swapped.

    Raises:
        RewriteError: the gradients cannot be swapped so.
    """
    old_role = next(r for r in GRADIENTS[op_type][1] if r != "grad")
    new_role = next(r for r in GRADIENTS[to][1] if r != "grad")
    hint = "swap the activation where the model is built and save it again"
    alphas = [forward.node_def(n).attr["alpha"].f for n in names if "alpha" in forward.node_def(n).attr]
    same_thresholds = {op_type, to} <= set(THRESHOLD_GRADIENTS) and (to != "LeakyRelu" or min(alphas, default=0) >= 0)
    if old_role != new_role and not same_thresholds:
        words = {"y": "output", "x": "input"}
        raise RewriteError(f"{backward.where} computes the gradients of {forward.where}'s {op_type} ops from the "
                           f"{words[old_role]}s it receives; {to}'s gradient needs their {words[new_role]}s, which "
                           "it does not receive", hint=hint)
    left = [op.name for op in forward.ops(type=op_type) if op.name not in set(names)]
    if left:
        raise RewriteError(f"{backward.where} computes the gradients of all of {forward.where}'s {op_type} ops; "
                           f"swapping only some of them (not {left[0]!r}) leaves it unable to tell whose is which",
                           hint="swap them all (no --scope)")
    out = []
    for name in gradient_ops:
        read = _read(GRADIENTS[op_type][1], backward.node_defs[name])
        if set(read) != set(GRADIENTS[op_type][1]):
            raise RewriteError(f"{backward.where}: {name!r} is not a gradient of {op_type} as TensorFlow builds one")
        read[new_role] = read[old_role]  # the same tensor, or one on the same side of every threshold
        out.append(_retype_gradient(backward, name, to, read, like))
    return out


@rewrite(requires=("top_level",), reports=True)
def swap_ops(g: Graph, op_type: str, to: str, attrs: dict | None = None, scope: str | None = None,
             allow_gradients: bool = False) -> tuple[Graph, Changes]:
    """Change every ``op_type`` op (under ``scope``) into ``to``, gradients included; returns ``(copy, Changes)``.

    The ops are swapped at the top level and in every function body of the
    library that holds them (a TF2 model's network is in its functions, often
    in several traced copies: the serving function, ``__call__``, the call
    with ``training`` True and False...), so every copy computes the same.

    ``changes.changed`` lists the top-level ops swapped; ``changes.details``
    holds ``from``, ``to``, ``attrs``, ``gradients`` (the gradient ops put in
    place of the old ones at the top level), ``unswapped`` (top-level gradient
    ops left as they were: only with ``allow_gradients``) and ``functions``:
    ``{function name: {"changed": [ops], "gradients": [ops]}}`` for each
    body swapped. In a body, a gradient computed there (a tape's
    ``gradient_tape/ReluGrad``) is swapped with its activation; so is one
    in the backward function TensorFlow saved for a differentiated call,
    when it can be (see :func:`_swap_backward`).

    Raises:
        UsageError: a type outside :data:`SWAPPABLE`, or an unknown attribute.
        NotFoundError: no op of that type (under that scope), at the top level or in any function body.
        RewriteError: a gradient of a swapped op that is not built as
            TensorFlow builds one (at the top level: unless ``allow_gradients``,
            for a caller that rebuilds the gradients; in a function body: always).

    Example:
        >>> relu, changes = swap_ops(graphsurgeon.load("fixtures/models/mnist_bn_elu_frozen.pb"), "Elu", "Relu")
        >>> changes.changed
        ['Elu', 'Elu_1']
    """
    for name in (op_type, to):
        if name not in SWAPPABLE:
            raise UsageError(f"cannot swap {name!r}: only element-wise activations are swapped",
                             hint=", ".join(SWAPPABLE))
    op_def = g.registry.get(to) or shipped().get(to)
    if op_def is None:  # pragma: no cover - the shipped registry has them all
        raise UsageError(f"no OpDef for {to!r}")
    names = [op.name for op in g.ops(type=op_type, scope=scope)]
    in_bodies = {}
    for function in _holding(g, op_type):
        found = [op.name for op in g.function(function).ops(type=op_type, scope=scope)]
        if found:
            in_bodies[function] = found
    if not names and not in_bodies:
        where = f" under {scope!r}" if scope else ""
        types = {op.type for op in g} | {op.type for f in g.library_names for op in g.function(f)}
        raise NotFoundError(f"op type{where}", op_type, types, where=g.where)
    if in_bodies:
        _check_implementations(g, op_type, in_bodies)
    out = g.copy()
    _retype(out, names, to, op_def, attrs)
    swapped, unswapped, replaced = [], [], []
    for (prefix, op), members in _gradient_groups(out, set(names)).items():
        try:
            swapped.append(_replace_gradient(out, prefix, op, members))
            replaced.extend(members)
        except RewriteError as exc:
            if not allow_gradients:
                raise RewriteError(f"{g.where}: cannot swap the gradient of {op!r}: {exc.message}",
                                   hint="graphsurgeon swap rebuilds the gradients in TensorFlow by default; or "
                                        "swap in an inference graph") from None
            unswapped.extend(members)
    strays = [op.name for op in out if op.type.endswith("Grad") and op.name not in swapped
              and any(t.op_name in set(names) for t in op.inputs)]
    if strays and not allow_gradients:
        raise RewriteError(f"{g.where}: {strays[0]!r} is a gradient of the {op_type} ops being swapped, outside "
                           "the gradient scopes TensorFlow makes; it cannot be swapped op by op",
                           hint="graphsurgeon swap rebuilds the gradients in TensorFlow by default; or swap in "
                                "an inference graph")
    unswapped.extend(strays)
    functions = _swap_functions(out, op_type, to, op_def, attrs, in_bodies)
    new_types = {out.node_defs[n].op for n in swapped}
    new_types.update(GRADIENTS[to][0] for f in functions.values() if f["gradients"])
    out.ensure_op_defs({to} | new_types)
    changes = Changes(changed=names, added=swapped, removed=replaced)
    changes.notes.append(f"{op_type} -> {to}" + (f" {attrs}" if attrs else "")
                         + (f"; their gradients too ({', '.join(out.node_defs[n].op for n in swapped[:1])})"
                            if swapped else ""))
    for function, done in functions.items():
        changes.notes.append(f"function {function}: {len(done['changed'])} {op_type} -> {to}"
                             + (f" ({', '.join(done['changed'])})" if done["changed"] else "")
                             + (f"; gradients {', '.join(done['gradients'])}" if done["gradients"] else ""))
    left = {}
    if scope:  # a Keras layer's traced call names its ops without the model's scope: say what the scope missed
        left = {f: [op.name for op in out.function(f).ops(type=op_type)] for f in _holding(out, op_type)}
        left = {f: ops for f, ops in left.items() if ops}
        for function, ops in left.items():
            changes.notes.append(f"function {function}: {op_type} left as it was (outside {scope!r}): "
                                 + ", ".join(ops))
    model = g.model
    if functions and model is not None and model.on_disk and (model.file.parent / "keras_metadata.pb").is_file():
        # Keras 2's load_model rebuilds each layer from the config that file holds (activation="relu"), not
        # from the functions: measured, it computes the old activation where tf.saved_model.load runs the new.
        changes.notes.append(f"keras_metadata.pb is copied as it was: its layer configs still name the old "
                             f"activation, so tf_keras.models.load_model would rebuild the model with {op_type}; "
                             "tf.saved_model.load and TensorFlow Serving run the swapped functions")
    changes.details.update({"from": op_type, "to": to, "attrs": dict(attrs or {}), "gradients": swapped,
                            "unswapped": unswapped, "functions": functions, "left": left})
    return out, changes


def _check_implementations(g: Graph, op_type: str, in_bodies: dict[str, list[str]]) -> None:
    """Refuse a swap that leaves another implementation of the same API computing the old activation.

    Functions with one ``api_implements`` attribute are interchangeable
    implementations TensorFlow picks among by device (a Keras 2 LSTM's
    ``standard_lstm`` and ``gpu_lstm_with_fallback``, whose ``CudnnRNN`` has
    tanh and sigmoid built in). Each must hold as many swapped ops, with the
    functions it calls, or the model computes differently on each device.
    """
    library = g.library
    swapped = {name: len(ops) for name, ops in in_bodies.items()}
    groups: dict[str, list[str]] = {}
    for name in sorted(g.library_names):
        api = library[name].attr.get("api_implements")
        if api is not None and api.s and "forward_function_name" not in library[name].attr:
            groups.setdefault(api.s.decode(), []).append(name)
    for api, names in groups.items():
        counts = {name: _reachable_count(g, name, swapped) for name in names}
        if len(set(counts.values())) > 1:
            most, least = max(names, key=counts.get), min(names, key=counts.get)
            raise RewriteError(f"function {most} and function {least} implement the same API ({api}) and TensorFlow "
                               f"picks one by device; {counts[most]} {op_type} ops would be swapped in the first, "
                               f"{counts[least]} in the second (a fused op such as CudnnRNN has its activations built "
                               "in): the model would compute differently on each device",
                               hint="swap the activation where the model is built and save it again")


def _reachable_count(g: Graph, function: str, swapped: dict[str, int]) -> int:
    """How many of the ``swapped`` ops (count per function) ``function`` and the functions it calls hold."""
    seen, stack, total = set(), [function], 0
    while stack:
        name = stack.pop()
        if name in seen or name not in g.library_names:
            continue
        seen.add(name)
        total += swapped.get(name, 0)
        for node in g.library[name].node_def:
            stack.extend(callee for _, callee in called_functions(node, g.library_names))
    return total


def _backward_functions(out: Graph, function: str) -> list[str]:
    """The functions computing the gradients of ``function``'s ops away from it, as TensorFlow links them.

    A differentiated call's ``__inference___backward_...`` (named by the forward
    copy's ``backward_function_name`` attribute), and the gradient bodies of v2
    control flow, named ``<body>_grad_<uid>`` after the ``while``/``cond``
    body they differentiate (TensorFlow's ``unique_grad_fn_name``).
    """
    found = []
    link = out.library[function].attr.get("backward_function_name")
    if link is not None and link.s:
        found.append(link.s.decode())
    pattern = re.compile(re.escape(function) + r"_grad_\d+")
    found.extend(name for name in sorted(out.library_names) if pattern.fullmatch(name))
    return [name for name in dict.fromkeys(found) if name in out.library_names]


def _forward_function(out: Graph, function: str) -> str | None:
    """The function whose gradients ``function`` computes (see :func:`_backward_functions`), or None."""
    link = out.library[function].attr.get("forward_function_name")
    if link is not None and link.s and link.s.decode() in out.library_names:
        return link.s.decode()
    m = re.fullmatch(r"(.+)_grad_\d+", function)
    return m.group(1) if m and m.group(1) in out.library_names else None


def _swap_functions(out: Graph, op_type: str, to: str, op_def, attrs: dict | None,
                    in_bodies: dict[str, list[str]]) -> dict[str, dict]:
    """Swap the ``in_bodies`` ops of ``out``'s function bodies (in place), gradients included; what was done.

    Returns ``{function: {"changed": [...], "gradients": [...]}}``, backward
    functions whose only change is their gradients included.

    Raises:
        RewriteError: a gradient of the swapped ops that cannot be swapped, or
            a gradient op of the old type in a body that TensorFlow's links do
            not tie to a body left as it was (swap cannot tell whose it is).
    """
    grad_type = GRADIENTS[op_type][0]
    done: dict[str, dict] = {}
    for function, names in in_bodies.items():
        body = out.function(function)
        _retype(body, names, to, op_def, attrs)
        with body.batch():
            gradients = _swap_in_body(body, op_type, to, names, [op.name for op in body.ops(type=grad_type)])
        done[function] = {"changed": names, "gradients": gradients}
    for function, names in in_bodies.items():
        for backward in _backward_functions(out, function):
            body = out.function(backward)
            ops = [op.name for op in body.ops(type=grad_type)]
            if not ops:
                continue
            forward = out.function(function)
            with body.batch():
                gradients = _swap_backward(forward, body, op_type, to, names, ops, forward.node_def(names[0]))
            done.setdefault(backward, {"changed": [], "gradients": []})["gradients"].extend(gradients)
    if op_type == to:
        return done
    for function in _holding(out, grad_type):
        if function in done:
            continue
        body = out.function(function)
        stray = [op.name for op in body.ops(type=grad_type) if not _reads_own_activation(body, op.name, op_type)]
        forward = _forward_function(out, function)
        if stray and (forward is None or forward in in_bodies):
            raise RewriteError(f"function {function}: {stray[0]!r} is a gradient of {op_type} computed away from "
                               "its activation, in a body no link of TensorFlow's ties to its forward function: "
                               "swap cannot tell whether it belongs to a swapped op",
                               hint="swap the activation where the model is built and save it again")
    return done


def _holding(g: Graph, op_type: str) -> list[str]:
    """The library functions with an ``op_type`` op in their body (read from the FunctionDefs: no body built)."""
    library = g.library
    return [name for name in sorted(library) if any(node.op == op_type for node in library[name].node_def)]


def _reads_own_activation(body, name: str, op_type: str) -> bool:
    """Whether gradient op ``name`` reads an ``op_type`` op of its own body as its gradient function reads it."""
    role = next(r for r in GRADIENTS[op_type][1] if r != "grad")
    tensor = _read(GRADIENTS[op_type][1], body.node_defs[name]).get(role)
    if tensor is None:
        return False
    nodes = body.node_defs
    if role == "y":
        op = _names.split_tensor_name(tensor)[0]
        return op in nodes and nodes[op].op == op_type
    return any(node.op == op_type and node.input and _names.parse_input(node.input[0]).tensor == tensor
               for node in nodes.values())
