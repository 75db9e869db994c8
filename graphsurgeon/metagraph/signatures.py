"""SignatureDefs: which tensors a SavedModel (or a MetaGraphDef) serves, and editing them.

A SignatureDef maps keys to tensors (``inputs`` and ``outputs``, each a
TensorInfo with the tensor's name, dtype and shape) under a method name
(``tensorflow/serving/predict``); TensorFlow Serving, ``saved_model_cli`` and
the TF1 loader find a model's entry points through them, ``serving_default``
first. They live in the MetaGraphDef, so a ``.meta`` holds them as well as a
SavedModel does; a plain GraphDef has none.

Editing (:func:`add_signature`, :func:`remove_signature`,
:func:`rename_signature`, :func:`set_default_signature`) changes the graph's
MetaGraphDef in place, as the collection edits do; every tensor is checked
against the graph (a miss names the nearest tensors) and its dtype and shape
come from the graph, never from the caller.

Example:
    >>> g = graphsurgeon.load("fixtures/models/mnist_bn_elu_tf1")
    >>> add_signature(g, "serving_default", ["X:0"], ["logits:0", "probabilities:0"])
    >>> g.signatures["serving_default"]["outputs"]["logits"]["shape"]
    [None, 10]
"""
from __future__ import annotations

from ..errors import NotFoundError, RewriteError, UsageError
from ..vocab import dtypes as _dtypes
from ..vocab import names as _names
from ..vocab import protos

DEFAULT_SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"
# Keys TensorFlow keeps for itself: the TF2 init op and the train op.
RESERVED_KEYS = ("__saved_model_init_op", "__saved_model_train_op")


def signature_outputs(g, signature: str | None = None) -> list[str]:
    """The output tensor names of SignatureDef ``signature`` (``serving_default`` unless told).

    Raises:
        UsageError: the graph has no signatures, or the signature no outputs.
        NotFoundError: no signature of that name (with the closest names).
    """
    signatures = g.signatures
    if not signatures:
        raise UsageError(f"{g.where}: has no signatures; name the outputs with --outputs")
    key = signature or DEFAULT_SIGNATURE
    if key not in signatures:
        raise NotFoundError("signature", key, signatures.keys(), where=g.where)
    outs = [info["name"] for info in signatures[key]["outputs"].values() if info["name"]]
    if not outs:
        raise UsageError(f"signature {key!r} has no outputs")
    return outs


# ---------------------------------------------------------------------- tensors by key
def default_key(tensor_name: str) -> str:
    """The key a bare tensor gets: its op's last name part (``outputs/logits:0`` -> ``logits``;
    ``split:1`` -> ``split_1``)."""
    op, index = _names.split_tensor_name(tensor_name)
    leaf = op.rsplit("/", 1)[-1]
    return leaf if index == 0 else f"{leaf}_{index}"


def parse_tensor_args(items, what: str = "tensor") -> list[tuple[str | None, str]]:
    """``["KEY=TENSOR", "TENSOR", ...]`` -> ``[(key or None, tensor), ...]`` (no graph needed).

    A mapping ``{key: tensor}`` is accepted as is.
    """
    if isinstance(items, dict):
        return [(str(k), str(v)) for k, v in items.items()]
    if isinstance(items, str):
        items = [items]
    out = []
    for item in items or ():
        item = str(item).strip()
        key, sep, tensor = item.partition("=")
        if not sep:
            key, tensor = None, item
        key = key.strip() if key is not None else None
        tensor = tensor.strip()
        if not tensor or key == "":
            raise UsageError(f"{what} {item!r}: expected KEY=TENSOR or TENSOR")
        out.append((key, tensor))
    return out


def resolve_tensors(g, items, what: str = "tensor") -> dict[str, str]:
    """``{key: tensor name}`` for ``items`` (see :func:`parse_tensor_args`), every tensor checked.

    A bare op name means its output 0. A bare tensor's key is
    :func:`default_key`. Raises NotFoundError (with the nearest tensors) for a
    miss and UsageError when two entries get the same key.
    """
    out: dict[str, str] = {}
    for key, name in parse_tensor_args(items, what):
        tensor = g.root.tensor(name).name  # NotFoundError with the closest names
        key = key if key is not None else default_key(tensor)
        if key in out:
            raise UsageError(f"two {what}s would have the key {key!r} ({out[key]}, {tensor})",
                             hint=f"name them: --{what} KEY=TENSOR")
        out[key] = tensor
    return out


def tensor_info(g, tensor_name: str):
    """A TensorInfo for tensor ``tensor_name``: its name, dtype (the base type of a ref) and shape, from the graph."""
    t = g.root.tensor(tensor_name)
    info = protos.TensorInfo()
    info.name = t.name
    dtype = _dtypes.base(t.dtype) if t.dtype else None
    if dtype is None:
        raise RewriteError(f"{t.name}: its dtype is unknown (op type {t.op.type!r} is not in the op registry); "
                           "a signature needs it")
    info.dtype = _dtypes.number(dtype)
    shape = t.shape
    if shape is None:
        info.tensor_shape.unknown_rank = True
    else:
        info.tensor_shape.SetInParent()
        for d in shape:
            info.tensor_shape.dim.add(size=-1 if d is None else int(d))
    return info


def signature_def(g, inputs: dict[str, str], outputs: dict[str, str], method: str = PREDICT_METHOD):
    """A SignatureDef of ``{key: tensor}`` inputs and outputs, dtypes and shapes from the graph."""
    sig = protos.SignatureDef()
    sig.method_name = method
    for side, mapping in (("inputs", inputs), ("outputs", outputs)):
        for key, name in mapping.items():
            getattr(sig, side)[key].CopyFrom(tensor_info(g, name))
    return sig


# ---------------------------------------------------------------------- editing (in place)
def _meta(g):
    meta = g.root.meta_graph
    if meta is None:
        raise UsageError(f"{g.root.where}: is a plain GraphDef, which holds no signatures",
                         hint="graphsurgeon export makes a SavedModel with one; or write a .meta (CLI -o OUT.meta)")
    return meta


def _check_key(key: str) -> None:
    if not key:
        raise UsageError("a signature needs a name")
    if key in RESERVED_KEYS:
        raise UsageError(f"{key!r} is reserved by TensorFlow; choose another signature name")


def add_signature(g, key: str, inputs, outputs, method: str = PREDICT_METHOD, replace: bool = False) -> dict:
    """Add SignatureDef ``key`` to ``g``'s MetaGraphDef (in place); returns it as ``g.signatures`` shows it.

    Args:
        g: a graph with a MetaGraphDef (``.meta``, checkpoint, SavedModel).
        key: the signature's name (``serving_default`` is the one served by default).
        inputs, outputs: ``{key: tensor}``, or ``["KEY=TENSOR" | "TENSOR", ...]``.
        method: the method name (``tensorflow/serving/predict``, ``.../classify``, ``.../regress``).
        replace: replace an existing signature of that name (else RewriteError).

    Raises:
        NotFoundError: a tensor is not in the graph (with the nearest ones).
        RewriteError: the signature exists and ``replace`` is False.
        UsageError: no outputs, a reserved or empty name, two tensors under one key.
    """
    meta = _meta(g)
    _check_key(key)
    ins = resolve_tensors(g, inputs, "input")
    outs = resolve_tensors(g, outputs, "output")
    if not outs:
        raise UsageError(f"signature {key!r} needs at least one output")
    if key in meta.signature_def and not replace:
        raise RewriteError(f"signature {key!r} already exists", hint="remove it first, or replace it")
    meta.signature_def[key].CopyFrom(signature_def(g, ins, outs, method))
    return g.signatures[key]


def _existing(g, key: str):
    meta = _meta(g)
    if key not in meta.signature_def:
        raise NotFoundError("signature", key, meta.signature_def.keys(), where=g.root.where)
    return meta


def remove_signature(g, key: str) -> dict:
    """Remove SignatureDef ``key`` (in place); returns what it was."""
    meta = _existing(g, key)
    gone = g.signatures[key]
    del meta.signature_def[key]
    return gone


def rename_signature(g, old: str, new: str) -> dict:
    """Give SignatureDef ``old`` the name ``new`` (which must be free); returns it."""
    meta = _existing(g, old)
    _check_key(new)
    if new in meta.signature_def and new != old:
        raise RewriteError(f"signature {new!r} already exists", hint="remove it first, or choose another name")
    sig = type(meta.signature_def[old])()
    sig.CopyFrom(meta.signature_def[old])
    del meta.signature_def[old]
    meta.signature_def[new].CopyFrom(sig)
    return g.signatures[new]


def set_default_signature(g, key: str) -> str | None:
    """Make ``key`` the ``serving_default`` signature (in place).

    The signature that was ``serving_default`` takes the name ``key`` (the
    two swap), so nothing is lost. Returns the signature that became ``key``
    (None when there was no default before, or ``key`` already was it).
    """
    meta = _existing(g, key)
    if key == DEFAULT_SIGNATURE:
        return None
    chosen = type(meta.signature_def[key])()
    chosen.CopyFrom(meta.signature_def[key])
    swapped = None
    if DEFAULT_SIGNATURE in meta.signature_def:
        meta.signature_def[key].CopyFrom(meta.signature_def[DEFAULT_SIGNATURE])
        swapped = DEFAULT_SIGNATURE
    else:
        del meta.signature_def[key]
    meta.signature_def[DEFAULT_SIGNATURE].CopyFrom(chosen)
    return swapped


def put_signature(g, key: str, signature) -> None:
    """Make ``signature`` (a SignatureDef) the MetaGraphDef's signature ``key``, in place; None removes it."""
    meta = _meta(g)
    if signature is None:
        if key in meta.signature_def:
            del meta.signature_def[key]
        return
    meta.signature_def[key].CopyFrom(signature)


def clear_signatures(g) -> None:
    """Remove every SignatureDef (in place)."""
    if g.root.meta_graph is not None:
        g.root.meta_graph.ClearField("signature_def")


def follow_shapes(g, ops) -> list[str]:
    """Record again the shape of every signature input and output produced by one of ``ops`` (in place).

    What a rewrite that changed shapes (``set_input_shape``) calls so that the
    signatures say what the graph computes. Returns the keys of the signatures that changed.
    """
    meta = g.root.meta_graph
    if meta is None:
        return []
    ops = set(ops)
    changed = []
    for key in list(meta.signature_def):
        sig = type(meta.signature_def[key])()
        sig.CopyFrom(meta.signature_def[key])
        for info in list(sig.inputs.values()) + list(sig.outputs.values()):
            if info.WhichOneof("encoding") == "name" and _names.is_tensor_name(info.name) and info.name in g.root \
                    and _names.split_tensor_name(info.name)[0] in ops:
                _set_shape(info, g.root.tensor(info.name).shape)
        if sig != meta.signature_def[key]:
            meta.signature_def[key].CopyFrom(sig)
            changed.append(key)
    return changed


def _set_shape(info, shape) -> None:
    info.ClearField("tensor_shape")
    if shape is None:
        info.tensor_shape.unknown_rank = True
        return
    info.tensor_shape.SetInParent()
    for d in shape:
        info.tensor_shape.dim.add(size=-1 if d is None else int(d))


def unresolved(g, key: str) -> list[str]:
    """The tensors signature ``key`` names that are not in the graph."""
    out = []
    for side in ("inputs", "outputs"):
        for info in g.signatures[key][side].values():
            if info["name"] and info["name"] not in g.root:
                out.append(info["name"])
    return out
