"""Values to feed a model: given by the user (``--input``), MNIST when it fits, seeded random otherwise.

No TensorFlow here (numpy only). Which tensors a model needs fed, with
their dtypes and shapes, is :mod:`graphsurgeon.training.feeds`' question;
this module reads what the user gives and makes up the rest.

``--input`` follows ``saved_model_cli run``: ``NAME=FILE.npy``,
``NAME=FILE.npz`` (its one array) or ``NAME=FILE.npz[KEY]``, and
``NAME=EXPRESSION``: a Python literal (``[[1.0, 2.0]]``, ``True``,
``b"text"``, as ``saved_model_cli --input_exprs`` takes) or a small numpy
expression (``np.zeros((16, 784))``, ``np.arange(6).reshape(2, 3)``,
``np.full((2, 3), 0.5, dtype=np.float32)``), evaluated without ``eval``.
``--input FILE.npz`` alone feeds each of its arrays to the input its key
names. NAME is a signature input key or a tensor name.
"""
from __future__ import annotations

import ast
import operator
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GraphSurgeonError, UsageError
from ..wording import plural
from .examples import serialized_examples
from .mnist import mnist_dirs, mnist_test_set

FLOATS = ("float16", "float32", "float64", "bfloat16")
INTEGERS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
MNIST_SOURCE = "MNIST test set"
MNIST_LABELS = "MNIST test labels"


class InputNeeded(GraphSurgeonError):
    """An input whose value cannot be made up (unknown rank, an unsupported dtype): the user must give it."""


@dataclass
class InputSpec:
    """One tensor to feed: its name, dtype name and shape (None: unknown rank; None dims: unknown sizes).

    ``key`` is the name the user knows it by when that is not the tensor
    name (a signature input key); ``shape_note`` says where a shape the
    graph does not record came from (guessed from a consumer); ``high``
    bounds the values of an integer input that indexes something (labels
    of 5 classes: 5), so that made-up values stay valid.
    """

    name: str
    dtype: str
    shape: tuple | None
    key: str | None = None
    shape_note: str | None = None
    high: int | None = None

    @property
    def label(self) -> str:
        return self.key or self.name


@dataclass
class Given:
    """A value from ``--input``: for ``name`` (None: a ``.npz`` whose keys name the inputs)."""

    name: str | None
    value: object          # a numpy array, or {key: array} for a .npz given without a name
    source: str            # "x.npy", "in.npz[x]", "expression"


# ---------------------------------------------------------------------------------------------- --input


def parse_input(text: str) -> Given:
    """One ``--input`` value: ``NAME=FILE.npy``, ``NAME=FILE.npz[KEY]``, ``NAME=EXPR`` or ``FILE.npz``.

    Raises:
        UsageError: malformed, a file that cannot be read, an expression outside the allowed subset.
    """
    if "=" not in text or Path(text).is_file():
        if _is_file(text):
            return Given(None, _load_file(text, None, all_arrays=True), Path(text.split("[")[0]).name)
        raise UsageError(f"--input {text!r}: expected NAME=FILE.npy, NAME=FILE.npz[KEY], NAME=EXPRESSION "
                         "or FILE.npz")
    name, value = text.split("=", 1)
    name = name.strip()
    if not name:
        raise UsageError(f"--input {text!r}: no input name before '='")
    match = re.fullmatch(r"(.+\.npz)\[([^\[\]]+)\]", value.strip())
    if match:
        return Given(name, _load_file(match.group(1), match.group(2)), f"{Path(match.group(1)).name}[{match.group(2)}]")
    if _is_file(value):
        return Given(name, _load_file(value.strip(), None), Path(value.strip()).name)
    return Given(name, evaluate(value, f"--input {name}"), "expression")


def _is_file(text: str) -> bool:
    return bool(re.fullmatch(r".+\.(npy|npz)(\[[^\[\]]+\])?", text.strip()))


def _load_file(path: str, key: str | None, all_arrays: bool = False):
    import numpy as np

    path = path.strip()
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UsageError(f"--input: {path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"--input: {path}: not a numpy .npy/.npz file ({exc})") from None
    if isinstance(data, np.ndarray):
        return data
    with data:
        keys = list(data.files)
        if all_arrays:
            return {k: data[k] for k in keys}
        if key is not None:
            if key not in keys:
                raise UsageError(f"--input: {path} holds no array {key!r}", hint="it holds " + ", ".join(keys))
            return data[key]
        if len(keys) != 1:
            raise UsageError(f"--input: {path} holds {plural(keys, 'array')} ({', '.join(keys)})",
                             hint=f"pick one: NAME={path}[KEY]")
        return data[keys[0]]


# What an --input expression may call: numpy constructors and a few array methods, nothing else.
_NP_FUNCTIONS = {"zeros", "ones", "full", "empty", "arange", "linspace", "eye", "array", "asarray",
                 "zeros_like", "ones_like", "full_like", "stack", "concatenate", "reshape", "tile"}
_NP_RANDOM = {"rand", "randn", "randint", "uniform", "normal"}
_METHODS = {"reshape", "astype", "transpose", "copy"}
_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
              ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow, ast.Mod: operator.mod}


def evaluate(expr: str, what: str = "expression", seed: int = 0):
    """The value of an ``--input`` expression: a literal or an allowed numpy expression (no ``eval``).

    ``np.random.rand/randn/randint/uniform/normal`` draw from a generator
    seeded with ``seed``, so a run can be repeated.

    Example:
        >>> evaluate("np.ones((2, 3)) * 0.5").tolist()
        [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]
        >>> evaluate("[[1, 2]]")
        [[1, 2]]
    """
    import numpy as np

    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise UsageError(f"{what}: {expr!r} is not an expression ({exc.msg})") from None
    rng = np.random.RandomState(seed)

    def bad(node, why="not allowed"):
        return UsageError(f"{what}: {ast.unparse(node)!r} {why} (a literal, or numpy: np.zeros, np.ones, "
                          "np.full, np.arange, np.array, ..., .reshape, .astype, + - * /)")

    def numpy_attr(node):
        # np.X, np.random.X, np.float32: the dotted name under np, or None
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in ("np", "numpy"):
            return ".".join(reversed(parts))
        return None

    def value(node):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [value(e) for e in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = value(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            # Lists become arrays first: [1, 2] * 2 is arithmetic here, not repetition.
            left, right = (np.asarray(v) if isinstance(v, (list, tuple)) else v
                           for v in (value(node.left), value(node.right)))
            if isinstance(node.op, ast.Pow) and isinstance(right, int) and abs(right) > 1024:
                raise bad(node, "raises to too large a power")
            return _OPERATORS[type(node.op)](left, right)
        if isinstance(node, ast.Attribute):
            name = numpy_attr(node)
            if name and hasattr(np, name) and isinstance(getattr(np, name), type) and \
                    issubclass(getattr(np, name), np.generic):
                return getattr(np, name)  # a dtype: np.float32
            if name in ("pi", "e", "inf", "nan"):
                return getattr(np, name)
            raise bad(node)
        if isinstance(node, ast.Call):
            args = [value(a) for a in node.args]
            kwargs = {k.arg: value(k.value) for k in node.keywords if k.arg}
            if len(kwargs) != len(node.keywords):
                raise bad(node, "(**kwargs) is not allowed")
            name = numpy_attr(node.func)
            if name in _NP_FUNCTIONS:
                fn = getattr(np, name)
            elif name and name.startswith("random.") and name[7:] in _NP_RANDOM:
                fn = getattr(rng, name[7:])
            elif isinstance(node.func, ast.Attribute) and node.func.attr in _METHODS and name is None:
                target = value(node.func.value)
                if not isinstance(target, np.ndarray):
                    raise bad(node, "calls a method of something that is not an array")
                fn = getattr(target, node.func.attr)
            else:
                raise bad(node)
            try:
                return fn(*args, **kwargs)
            except (TypeError, ValueError, MemoryError) as exc:
                raise UsageError(f"{what}: {ast.unparse(node)!r} failed: {exc}") from None
        raise bad(node)

    try:
        return value(tree.body)
    except UsageError:
        raise
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise UsageError(f"{what}: {expr!r} failed: {exc}") from None


def as_feed(value, spec: InputSpec, source: str):
    """``value`` as an array of the input's dtype (a literal ``[[1, 2]]`` for a float input becomes float)."""
    import numpy as np

    dtype = spec.dtype
    try:
        if dtype == "string":
            array = np.asarray(value, dtype=object)
            return np.vectorize(lambda v: v.encode() if isinstance(v, str) else v, otypes=[object])(array) \
                if array.size else array
        if dtype == "bfloat16":
            dtype = "float32"
        array = np.asarray(value)
        if dtype in FLOATS + INTEGERS + ("bool", "complex64", "complex128") and array.dtype != dtype:
            if array.dtype.kind == "f" and dtype in INTEGERS:
                raise UsageError(f"--input {spec.label}: {source} holds {array.dtype} values; the input is {dtype}")
            array = array.astype(dtype)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"--input {spec.label}: {source} is not a {dtype} array ({exc})") from None
    if spec.shape is not None:
        if array.ndim != len(spec.shape) or any(d is not None and d >= 0 and d != n
                                                 for d, n in zip(spec.shape, array.shape)):
            raise UsageError(f"--input {spec.label}: {source} has shape {list(array.shape)}; the input takes "
                             f"{_shape_text(spec.shape)}")
    return array


def _shape_text(shape) -> str:
    return "[" + ", ".join("?" if d is None or d < 0 else str(d) for d in shape) + "]"


# ---------------------------------------------------------------------------------------------- making inputs


@dataclass
class Inputs:
    """What a model is fed: ``feeds`` (tensor name -> array) and where each came from."""

    feeds: dict
    sources: dict = field(default_factory=dict)   # tensor name -> "x.npy" / "expression" / "random" / MNIST_SOURCE
    seed: int = 0
    labels: object = None       # the MNIST labels when the test images were fed
    reason: str | None = None   # why an input that looks like MNIST got random values instead
    labels_by_key: dict = field(default_factory=dict)  # tensor name -> what the user calls it

    @property
    def source(self) -> str:
        """One phrase: ``MNIST test set (10,000 images)``, ``random (seed 0)``, ``given (--input)``, or a mix."""
        kinds = []
        if any(s == MNIST_SOURCE for s in self.sources.values()):
            kinds.append(f"{MNIST_SOURCE} ({len(self.labels):,} images)" if self.labels is not None else MNIST_SOURCE)
        if any(s not in ("random", MNIST_SOURCE, MNIST_LABELS) for s in self.sources.values()):
            kinds.append("given (--input)")
        if any(s == "random" for s in self.sources.values()):
            kinds.append(f"random (seed {self.seed})")
        return " and ".join(kinds) or "no inputs"

    def describe(self) -> str:
        """One line for people: what the model runs on, and why when it is random."""
        if not self.feeds:
            return "no inputs (the graph needs none)"
        parts = []
        given = [n for n, s in self.sources.items() if s not in ("random", MNIST_SOURCE, MNIST_LABELS)]
        for name in given:
            parts.append(f"{self.labels_by_key.get(name, name)} from {self.sources[name]}")
        if self.labels is not None:
            labels = [self.labels_by_key.get(n, n) for n, s in self.sources.items() if s == MNIST_LABELS]
            parts.append(f"the {MNIST_SOURCE} ({len(self.labels):,} images" +
                         (f"; its labels for {', '.join(labels)})" if labels else ")"))
        random = [n for n, s in self.sources.items() if s == "random"]
        if random:
            batch = max((len(self.feeds[n]) if getattr(self.feeds[n], "ndim", 0) else 1 for n in random), default=1)
            text = f"{plural(batch, 'random input')} (seed {self.seed})"
            if given or self.labels is not None:
                text += " for " + ", ".join(self.labels_by_key.get(n, n) for n in random)
            parts.append(text + (f": {self.reason}" if self.reason else ""))
        return "; ".join(parts)


def looks_like_mnist(spec: InputSpec) -> bool:
    """A batch of 784-pixel float images: ``float32 [?, 784]``."""
    shape = spec.shape
    return spec.dtype == "float32" and shape is not None and len(shape) == 2 and shape[1] == 784 \
        and (shape[0] is None or shape[0] < 0)


def make_inputs(specs: list[InputSpec], seed: int = 0, batch: int = 16, mnist_dir=None,
                examples: list | None = None, given: dict | None = None) -> Inputs:
    """Values for ``specs``: ``given`` ones first, MNIST for an image batch, seeded random for the rest.

    Args:
        specs: what to feed.
        seed: seed of the random values.
        batch: size of an unknown first dimension (the first dimension of a
            given value, when there is one, wins: inputs of one model share
            their batch).
        mnist_dir: where the MNIST test set is (else ``GS_MNIST_DIR``, then the cache).
        examples: ``[(feature, dtype, count)]`` a string input of serialized
            ``tf.Example`` protos holds (:func:`graphsurgeon.training.examples.example_features`).
        given: ``{tensor name: (value, source)}`` from ``--input``.

    A float input of shape ``[?, 784]`` gets the 10,000 MNIST test images
    when they can be found; unknown dimensions become ``batch`` (the first)
    and 1 (the others).

    Raises:
        InputNeeded: an input of unknown rank or of a dtype nothing can be
            made for, not given: names every such input and how to give it.
        UsageError: a given value does not fit its input.
    """
    import numpy as np

    given = given or {}
    rng = np.random.default_rng(seed)
    out = Inputs({}, seed=seed, labels_by_key={s.name: s.label for s in specs})
    for spec in specs:
        if spec.name in given:
            value, source = given[spec.name]
            out.feeds[spec.name] = as_feed(value, spec, source)
            out.sources[spec.name] = source
    leading = [v.shape[0] for v in out.feeds.values() if getattr(v, "ndim", 0)]
    if leading:
        batch = leading[0]
    needed = []
    mnist = None
    for spec in specs:
        if spec.name in out.feeds:
            continue
        if looks_like_mnist(spec) and not leading:
            if mnist is None:
                mnist = mnist_test_set(mnist_dir) or False
            if mnist:
                out.feeds[spec.name] = mnist[0]
                out.sources[spec.name] = MNIST_SOURCE
                out.labels = mnist[1]
                continue
            out.reason = "no MNIST test set found (" + ("set GS_MNIST_DIR" if not (mnist_dir or os.environ.get(
                "GS_MNIST_DIR")) else "not in " + ", ".join(str(d) for d in mnist_dirs(mnist_dir))) + ")"
        if spec.shape is None or spec.dtype not in FLOATS + INTEGERS + ("bool", "string"):
            needed.append(spec)
            continue
        out.feeds[spec.name] = _random(spec, batch, rng, examples)
        out.sources[spec.name] = "random"
    if needed:
        raise InputNeeded("; ".join(_needs(spec) for spec in needed))
    # MNIST images are 10,000: random inputs that share the batch dimension follow it, and an integer
    # vector of that batch (the labels placeholder of a training graph) gets the test labels.
    if out.labels is not None:
        n = len(out.labels)
        for name, source in out.sources.items():
            spec = next(s for s in specs if s.name == name)
            if source == "random" and spec.shape and (spec.shape[0] is None or spec.shape[0] < 0):
                if len(spec.shape) == 1 and spec.dtype in INTEGERS and (spec.high or 10) >= 10:
                    out.feeds[name] = out.labels.astype(spec.dtype)
                    out.sources[name] = MNIST_LABELS
                else:
                    out.feeds[name] = _random(spec, n, rng, examples)
    return out


def _needs(spec: InputSpec) -> str:
    what = "its rank is unknown" if spec.shape is None else f"no value can be made up for dtype {spec.dtype}"
    example = "np.zeros((16, 3))" if spec.dtype in FLOATS + INTEGERS else "FILE.npy"
    return (f"input {spec.label} ({spec.dtype}) needs a value: {what}; give it with --input "
            f"{spec.label}=FILE.npy (or an expression: --input '{spec.label}={example}')")


def _random(spec: InputSpec, batch: int, rng, examples):
    import numpy as np

    dims = [(batch if i == 0 else 1) if d is None or d < 0 else int(d) for i, d in enumerate(spec.shape)]
    dtype = spec.dtype
    if dtype in FLOATS:
        return rng.standard_normal(dims).astype(dtype if dtype != "bfloat16" else "float32")
    if dtype in INTEGERS:
        # In [0, high) for an index or a label whose bound the graph says, else small: 0 and 1 index anything.
        return rng.integers(0, spec.high or 2, size=dims).astype(dtype)
    if dtype == "bool":
        return np.zeros(dims, dtype=bool)
    # Serialized tf.Examples when the graph parses examples (serving signatures), else empty strings.
    count = int(np.prod(dims))
    flat = serialized_examples(examples, count, rng) if examples else [b""] * count
    return np.array(flat, dtype=object).reshape(dims)
