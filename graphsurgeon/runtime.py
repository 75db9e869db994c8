"""Running graphs in TensorFlow: the one module that imports it (lazily).

Reading, listing and rewriting never come here. What does: ``--verify``
(run the original model restored from its checkpoint and the rewritten
graph on the same inputs, and compare), and reading V1 checkpoints, which
only TensorFlow's own reader understands.

Every function takes and returns our protos or numpy arrays; TensorFlow's
objects never leak out. Graphs run in TF1 graph mode inside their own
``tf.Graph`` and ``Session``, so nothing process-global is switched.

Example:
    >>> from graphsurgeon import runtime
    >>> import numpy as np
    >>> g = graphsurgeon.load("frozen.pb")                          # doctest: +SKIP
    >>> (logits,) = runtime.run_graph_def(g.graph_def, {"X:0": np.zeros((1, 784), np.float32)},
    ...                                   ["logits:0"])              # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import gzip
import os
import sys
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import FormatError, GraphSurgeonError, RewriteError
from .formats.protofile import encode_varint
from .wording import plural

_TF = None


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 while TensorFlow loads.

    Its C++ side prints start-up lines (oneDNN, CUDA drivers, absl) before
    any logging setting applies; a command's stderr is for its own messages.
    GRAPHSURGEON_DEBUG keeps them.
    """
    if os.environ.get("GRAPHSURGEON_DEBUG"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded use): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


# What a TensorFlow-free install says when asked for work that needs TensorFlow.
MISSING_TENSORFLOW = ("this command needs TensorFlow, which is not installed: pip install 'graphsurgeon[tensorflow]' "
                      "(reading, listing, rendering and scan work without it)")


def require_tensorflow() -> None:
    """Fail at once, in one line naming the extra, when TensorFlow is not installed (nothing is imported).

    Commands that need TensorFlow call it before any other work, so that a
    TensorFlow-free install says what is missing before it says anything else.
    """
    import importlib.util

    if _TF is None and importlib.util.find_spec("tensorflow") is None:
        raise GraphSurgeonError(MISSING_TENSORFLOW)


def tf():
    """TensorFlow, imported on first use with its C++ logging quietened.

    Raises:
        GraphSurgeonError: TensorFlow is not installed (one line naming the
            ``graphsurgeon[tensorflow]`` extra) or cannot be imported.
    """
    global _TF
    if _TF is None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            with _quiet_stderr():
                import tensorflow
                # Enumerating devices now, still silenced, keeps the CUDA
                # driver's "failed call to cuInit" line (printed on a machine
                # without a GPU when the first session starts) off stderr.
                tensorflow.config.list_physical_devices()
        except ModuleNotFoundError as exc:
            if exc.name != "tensorflow":
                raise GraphSurgeonError(f"this needs TensorFlow, which cannot be imported ({exc})") from None
            raise GraphSurgeonError(MISSING_TENSORFLOW) from None
        except ImportError as exc:
            raise GraphSurgeonError(f"this needs TensorFlow, which cannot be imported ({exc})") from None
        tensorflow.get_logger().setLevel("ERROR")
        _TF = tensorflow
    return _TF


class RunError(GraphSurgeonError):
    """TensorFlow refused to import, restore or run a graph."""


def _short(exc: Exception) -> str:
    """One line out of TensorFlow's many: the first, plus the last when the first only says where."""
    lines = [line.strip() for line in str(getattr(exc, "message", None) or exc).splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(("Detected at node", "File ", "Stack trace"))]
    if not lines:
        return type(exc).__name__
    if len(lines) > 1 and lines[0].endswith(":"):
        return f"{lines[0]} {lines[-1]}"
    return lines[0]


# --------------------------------------------------------------------------- checkpoints
def load_checkpoint(prefix: str):
    """TensorFlow's checkpoint reader (``tf.train.load_checkpoint``); V1 and V2 alike."""
    try:
        return tf().train.load_checkpoint(prefix)
    except Exception as exc:  # noqa: BLE001 - TF raises many kinds; one line says it
        raise FormatError(prefix, f"TensorFlow cannot read this checkpoint: {_short(exc)}") from None


def _restore_prefix(prefix: str) -> str:
    """A sharded V1 checkpoint restores from its ``prefix-?????-of-0000n`` pattern."""
    p = Path(prefix)
    if Path(prefix + ".index").is_file() or p.is_file():
        return prefix
    shards = sorted(p.parent.glob(p.name + "-?????-of-?????"))
    return f"{prefix}-?????-of-{shards[0].name[-5:]}" if shards else prefix


# --------------------------------------------------------------------------- running
def session_config():
    """A session that runs the graph as written: no grappler, no classic constant folding.

    Comparing a graph with its rewrite must compare the graphs, not what
    TensorFlow's optimizers make of each: folded constants and fused kernels
    round differently (about 1e-5 on MNIST logits) when one side has
    variables and the other constants.
    """
    t = tf()
    config = t.compat.v1.ConfigProto()
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    config.graph_options.optimizer_options.opt_level = t.compat.v1.OptimizerOptions.L0
    config.graph_options.optimizer_options.do_constant_folding = False
    config.graph_options.optimizer_options.do_function_inlining = False
    return config


def _tf_proto(message, tf_class):
    out = tf_class()
    out.ParseFromString(message.SerializeToString())
    return out


def _run(sess, feeds: dict, fetches: list[str]) -> list:
    graph = sess.graph
    try:
        feed_dict = {graph.get_tensor_by_name(k): v for k, v in feeds.items()}
        targets = [graph.get_tensor_by_name(f) for f in fetches]
    except (KeyError, ValueError) as exc:
        raise RunError(f"TensorFlow cannot find a tensor: {_short(exc)}") from None
    try:
        return sess.run(targets, feed_dict)
    except Exception as exc:  # noqa: BLE001
        raise RunError(f"TensorFlow failed to run the graph: {_short(exc)}") from None


def run_graph_def(graph_def, feeds: dict, fetches: list[str]) -> list:
    """Import a GraphDef (ours or TensorFlow's) under no prefix and run ``fetches``.

    Args:
        graph_def: a GraphDef proto.
        feeds: ``{"X:0": array}``.
        fetches: tensor names.

    Returns:
        One numpy array per fetch.
    """
    t = tf()
    proto = _tf_proto(graph_def, t.compat.v1.GraphDef)
    graph = t.Graph()
    with graph.as_default():
        try:
            t.compat.v1.import_graph_def(proto, name="")
        except Exception as exc:  # noqa: BLE001
            raise RunError(f"TensorFlow refuses the graph: {_short(exc)}") from None
    with t.compat.v1.Session(graph=graph, config=session_config()) as sess:
        return _run(sess, feeds, fetches)


def run_checkpoint_model(meta_graph, checkpoint: str, feeds: dict, fetches: list[str]) -> list:
    """Import a MetaGraphDef, restore its variables from ``checkpoint``, run ``fetches``.

    The graph is imported with ``import_meta_graph`` and restored with its
    own saver (a fresh ``Saver`` when it has none), as a TF1 user would.
    """
    t = tf()
    proto = _tf_proto(meta_graph, t.compat.v1.MetaGraphDef)
    if not _version_ok(proto.meta_info_def.tensorflow_version):
        # TF 2.x refuses version strings such as '0.12.head' that packaging cannot parse.
        proto.meta_info_def.tensorflow_version = ""
    graph = t.Graph()
    with graph.as_default():
        try:
            saver = t.compat.v1.train.import_meta_graph(proto, clear_devices=True)
            if saver is None:
                saver = t.compat.v1.train.Saver()
        except Exception as exc:  # noqa: BLE001
            raise RunError(f"TensorFlow cannot import the meta graph: {_short(exc)}") from None
    with t.compat.v1.Session(graph=graph, config=session_config()) as sess:
        try:
            saver.restore(sess, _restore_prefix(checkpoint))
        except Exception as exc:  # noqa: BLE001
            raise RunError(f"TensorFlow cannot restore {checkpoint}: {_short(exc)}") from None
        return _run(sess, feeds, fetches)


def run_saved_model(export_dir, tags: list[str], feeds: dict, fetches: list[str]) -> list:
    """Load a SavedModel (TF1 or TF2) with the v1 loader and run ``fetches``."""
    t = tf()
    graph = t.Graph()
    with t.compat.v1.Session(graph=graph, config=session_config()) as sess:
        try:
            t.compat.v1.saved_model.loader.load(sess, list(tags), str(export_dir))
        except Exception as exc:  # noqa: BLE001
            raise RunError(f"TensorFlow cannot load SavedModel {export_dir}: {_short(exc)}") from None
        return _run(sess, feeds, fetches)


def _version_ok(version: str) -> bool:
    if not version:
        return True
    try:
        from packaging import version as _v

        _v.parse(version)
        return True
    except Exception:  # noqa: BLE001
        return False


def run_model(g, feeds: dict, fetches: list[str]) -> list:
    """Run a loaded :class:`graphsurgeon.Graph` the way TensorFlow would run its files.

    A meta graph is restored from its checkpoint, a SavedModel loaded with
    its tags, a GraphDef (or a graph we built) imported as it is.
    """
    model = g.model
    if model is not None and model.format == "savedmodel":
        tags = list(model.meta_graph.meta_info_def.tags)
        return run_saved_model(model.file.parent, tags, feeds, fetches)
    if g.meta_graph is not None and getattr(model, "checkpoint", None):
        return run_checkpoint_model(g.meta_graph, model.checkpoint, feeds, fetches)
    if g.meta_graph is not None and _has_variables(g):
        raise RewriteError(f"{g.path or 'graph'}: has variables but no checkpoint to restore them from",
                           hint="give --checkpoint")
    return run_graph_def(g.graph_def, feeds, fetches)


def _has_variables(g) -> bool:
    from .vocabulary import VARIABLE_TYPES

    return any(node.op in VARIABLE_TYPES for node in g.graph_def.node)


# --------------------------------------------------------------------------- inputs
MNIST_TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def mnist_dirs(data_dir=None) -> list[Path]:
    """Where the MNIST test set is looked for, in order: ``data_dir`` (else ``GS_MNIST_DIR``),
    then the cache the trainer downloads to (``$GS_CACHE_DIR/mnist``, default
    ``~/.cache/graphsurgeon/mnist``)."""
    out = []
    directory = data_dir or os.environ.get("GS_MNIST_DIR")
    if directory:
        out.append(Path(directory))
    cache = os.environ.get("GS_CACHE_DIR")
    out.append((Path(cache) if cache else Path.home() / ".cache" / "graphsurgeon") / "mnist")
    return out


def find_mnist_test_set(data_dir=None) -> Path | None:
    """The first of :func:`mnist_dirs` holding both test files (gzipped or not), or None."""
    for directory in mnist_dirs(data_dir):
        if all((directory / name).is_file() or (directory / (name + ".gz")).is_file()
               for name in MNIST_TEST_FILES):
            return directory
    return None


def mnist_test_set(data_dir=None):
    """The 10,000 MNIST test images (float32 ``[N, 784]`` in [0, 1]) and labels (int64), or None.

    Reads ``t10k-images-idx3-ubyte`` / ``t10k-labels-idx1-ubyte`` (gzipped
    or not) from the first of :func:`mnist_dirs` that has them; None when
    none has.
    """
    import numpy as np

    directory = find_mnist_test_set(data_dir)
    if directory is None:
        return None
    arrays = []
    for name, magic in zip(MNIST_TEST_FILES, (2051, 2049)):
        for candidate in (directory / name, directory / (name + ".gz")):
            if candidate.is_file():
                raw = candidate.read_bytes()
                if candidate.suffix == ".gz":
                    raw = gzip.decompress(raw)
                break
        if struct.unpack(">I", raw[:4])[0] != magic:
            raise FormatError(candidate, "not an MNIST IDX file")
        if magic == 2051:
            n, rows, cols = struct.unpack(">III", raw[4:16])
            arrays.append(np.frombuffer(raw, np.uint8, offset=16).reshape(n, rows * cols).astype(np.float32) / 255.0)
        else:
            arrays.append(np.frombuffer(raw, np.uint8, offset=8).astype(np.int64))
    return arrays[0], arrays[1]


@dataclass
class InputSpec:
    """One tensor to feed: its name, dtype name and shape (None for unknown dims)."""

    name: str
    dtype: str
    shape: tuple | None


@dataclass
class Inputs:
    feeds: dict
    source: str                 # "MNIST test set (10,000 images)" or "random (seed N)"
    labels: object = None       # MNIST labels when the images were used
    notes: list = field(default_factory=list)
    reason: str | None = None   # why the inputs are random (None for MNIST)

    def describe(self) -> str:
        """One line for people: what the comparison runs on, and why."""
        if self.labels is not None:
            return f"the {self.source}"
        batch = max((len(v) if getattr(v, "ndim", 0) else 1 for v in self.feeds.values()), default=0)
        text = f"{plural(batch, 'random input')} ({self.source.split('(', 1)[-1].rstrip(')')})"
        return text + (f": {self.reason}" if self.reason else "")


def _pb_field(number: int, payload: bytes) -> bytes:
    return encode_varint(number << 3 | 2) + encode_varint(len(payload)) + payload


def example_features(graph_def) -> list[tuple[str, str, int]]:
    """``[(key, dtype, element count)]`` of the dense features the graph's ParseExample ops read."""
    from . import dtypes
    from .values import to_numpy

    nodes = {n.name: n for n in graph_def.node}
    out = []
    for node in graph_def.node:
        if node.op not in ("ParseExample", "ParseExampleV2"):
            continue
        types = [dtypes.name(t) for t in node.attr["Tdense"].list.type]
        shapes = [[d.size for d in s.dim] for s in node.attr["dense_shapes"].list.shape]
        if node.op == "ParseExample":
            n_sparse = node.attr["Nsparse"].i
            key_inputs = node.input[2 + n_sparse: 2 + n_sparse + len(types)]
            keys = []
            for text in key_inputs:
                const = nodes.get(text.split(":")[0])
                keys.append(to_numpy(const.attr["value"].tensor).item() if const is not None else None)
        else:
            const = nodes.get(node.input[3].split(":")[0])
            keys = list(to_numpy(const.attr["value"].tensor).ravel()) if const is not None else []
        for key, dtype, shape in zip(keys, types, shapes):
            if key is None:
                continue
            count = 1
            for d in shape:
                count *= max(d, 1)
            out.append((key.decode() if isinstance(key, bytes) else str(key), dtype, count))
    return out


def serialized_examples(features, count: int, rng) -> list[bytes]:
    """``count`` serialized tf.train.Example protos holding random values for ``features``."""
    import numpy as np

    out = []
    for _ in range(count):
        entries = b""
        for key, dtype, n in features:
            if dtype in ("float32", "float64"):
                values = rng.standard_normal(n).astype("<f4").tobytes()
                feature = _pb_field(2, _pb_field(1, values))
            elif dtype == "string":
                feature = _pb_field(1, b"".join(_pb_field(1, b"x") for _ in range(n)))
            else:
                values = b"".join(encode_varint(int(v)) for v in rng.integers(0, 10, n))
                feature = _pb_field(3, _pb_field(1, values))
            entries += _pb_field(1, _pb_field(1, key.encode()) + _pb_field(2, feature))
        out.append(_pb_field(1, entries))
    del np
    return out


def make_inputs(specs: list[InputSpec], seed: int = 0, batch: int = 16, mnist_dir=None,
                examples: list | None = None) -> Inputs:
    """Inputs for a comparison run.

    A float input of shape ``[?, 784]`` gets the real MNIST test images when
    they can be found (``mnist_dir`` or ``GS_MNIST_DIR``); everything else is
    generated from its dtype and shape with a fixed seed (unknown dimensions
    become ``batch`` for the first, 1 for the others).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    feeds, labels, source = {}, None, f"random (seed {seed})"
    reason = "no input is a batch of 784-pixel float images (MNIST)"
    mnist = None
    for spec in specs:
        shape = spec.shape
        if spec.dtype == "float32" and shape is not None and len(shape) == 2 and shape[1] == 784 \
                and shape[0] in (None, -1):
            if mnist is None:
                mnist = mnist_test_set(mnist_dir) or False
            if mnist:
                feeds[spec.name] = mnist[0]
                labels, source = mnist[1], f"MNIST test set ({len(mnist[1]):,} images)"
                continue
            reason = "no MNIST test set found (" + ("set GS_MNIST_DIR" if not (mnist_dir or os.environ.get(
                "GS_MNIST_DIR")) else "not in " + ", ".join(str(d) for d in mnist_dirs(mnist_dir))) + ")"
        dims = [1] if shape is None else [
            (batch if i == 0 else 1) if d is None or d < 0 else int(d) for i, d in enumerate(shape)]
        dtype = spec.dtype
        if dtype in ("float16", "float32", "float64", "bfloat16"):
            value = rng.standard_normal(dims).astype(dtype if dtype != "bfloat16" else "float32")
        elif dtype in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"):
            value = rng.integers(0, 10, size=dims).astype(dtype)
        elif dtype == "bool":
            value = np.zeros(dims, dtype=bool)
        elif dtype == "string":
            # Serialized tf.Examples when the graph parses examples (serving signatures), else empty.
            flat = serialized_examples(examples, int(np.prod(dims)), rng) if examples else [b""] * int(np.prod(dims))
            value = np.array(flat, dtype=object).reshape(dims)
        else:
            raise RewriteError(f"cannot make an input for {spec.name} of dtype {dtype}",
                               hint="verify by hand in TensorFlow")
        feeds[spec.name] = value
    return Inputs(feeds, source, labels, reason=None if labels is not None else reason)


# --------------------------------------------------------------------------- comparing
@dataclass
class Comparison:
    """What ``--verify`` found: the largest absolute difference of each output."""

    outputs: dict          # result tensor name -> max abs diff
    tolerance: float
    source: str
    original: dict         # original tensor name -> array
    result: dict           # result tensor name -> array
    labels: object = None
    inputs_reason: str | None = None   # why the inputs are random (None for MNIST)

    @property
    def max_diff(self) -> float:
        return max(self.outputs.values(), default=0.0)

    @property
    def ok(self) -> bool:
        return all(d <= self.tolerance for d in self.outputs.values())

    def accuracy(self, name: str) -> float | None:
        """Argmax accuracy of an output against the MNIST labels, when they were used."""
        import numpy as np

        if self.labels is None or name not in self.result:
            return None
        values = self.result[name]
        if values.ndim != 2 or len(values) != len(self.labels):
            return None
        return float(np.mean(np.argmax(values, axis=1) == self.labels))

    def as_dict(self) -> dict:
        return {"inputs": self.source, "inputs_reason": self.inputs_reason, "tolerance": self.tolerance, "ok": self.ok,
                "max_abs_diff": dict(self.outputs),
                "accuracy": {k: self.accuracy(k) for k in self.outputs if self.accuracy(k) is not None}}


def compare(original, result, outputs: dict, inputs: dict, tolerance: float = 1e-5,
            seed: int = 0, mnist_dir=None, fixed: dict | None = None,
            progress: Callable[[str, str], None] | None = None) -> Comparison:
    """Run ``original`` and ``result`` on the same inputs; the largest difference per output.

    Args:
        original: the Graph as loaded (restored from its checkpoint to run).
        result: the rewritten Graph (run as a GraphDef).
        outputs: ``{original tensor name: result tensor name}``.
        inputs: ``{original tensor name: result tensor name}`` of what to feed.
        tolerance: largest absolute difference allowed.
        fixed: ``{original tensor name: value}`` fed to the original only
            (placeholders the rewrite pinned with ``--set``).
        progress: called as ``progress("inputs", text)`` once the inputs are
            chosen (what they are and, when random, why), then
            ``progress("step", text)`` before each slow step (loading
            TensorFlow, running each graph). The library prints nothing.
    """
    import numpy as np

    specs = []
    for name in inputs:
        tensor = original.tensor(name)
        from . import dtypes

        specs.append(InputSpec(name, dtypes.base(tensor.dtype) or "float32", tensor.shape))
    say = progress or (lambda kind, text: None)
    made = make_inputs(specs, seed=seed, mnist_dir=mnist_dir, examples=example_features(result.graph_def))
    say("inputs", made.describe())
    fetch_a = list(outputs)
    feeds_a = dict(made.feeds)
    for name, value in (fixed or {}).items():
        feeds_a[name] = np.asarray(value)
    if _TF is None:
        say("step", "loading TensorFlow")
        tf()
    say("step", "running the original in TensorFlow")
    values_a = run_model(original, feeds_a, fetch_a)
    feeds_b = {inputs[k]: v for k, v in made.feeds.items()}
    fetch_b = [outputs[k] for k in fetch_a]
    say("step", "running the result in TensorFlow")
    values_b = run_graph_def(result.graph_def, feeds_b, fetch_b)
    diffs = {}
    for name, a, b in zip(fetch_b, values_a, values_b):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            diffs[name] = float("inf")
        elif a.dtype.kind in "fciub":
            diffs[name] = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0
        else:
            diffs[name] = 0.0 if np.array_equal(a, b) else float("inf")
    return Comparison(diffs, tolerance, made.source, dict(zip(fetch_a, values_a)), dict(zip(fetch_b, values_b)),
                      made.labels, made.reason)


def verify(original, result, outputs: list[str], tolerance: float = 1e-5, fixed: dict | None = None,
           seed: int = 0, mnist_dir=None, progress: Callable[[str, str], None] | None = None) -> Comparison:
    """Compare a rewrite with its original on the result's inputs (same names on both sides).

    The inputs are the result's ``Placeholder`` ops (and unpinned
    ``PlaceholderWithDefault`` ones are left at their defaults). Raises
    nothing on a difference: look at :attr:`Comparison.ok`. ``progress``: as
    for :func:`compare`.
    """
    from . import dtypes

    inputs = {}
    for node in result.graph_def.node:
        if node.op == "Placeholder":
            inputs[f"{node.name}:0"] = f"{node.name}:0"
    missing = [n for n in inputs if n not in original]
    if missing:
        raise RewriteError(f"cannot verify: input {missing[0]} of the result is not in the original")
    del dtypes
    return compare(original, result, {o: o for o in outputs}, inputs, tolerance, seed, mnist_dir,
                   {f"{k}:0": v for k, v in (fixed or {}).items()}, progress)
