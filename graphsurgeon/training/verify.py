"""``--verify``: run the original and the rewritten graph in TensorFlow on the same inputs and compare.

The library prints nothing: progress goes to a callback, the result is a
:class:`Comparison` (look at ``ok``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import RewriteError
from ..vocab import dtypes
from . import tf as _tf
from .examples import example_features
from .inputs import InputSpec, make_inputs
from .run import run_graph_def, run_model


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
            progress: Callable[[str, str], None] | None = None, run_result=None) -> Comparison:
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
        run_result: ``run_result(feeds, fetches) -> values`` runs the result
            (default: its GraphDef imported as it is); a rewrite that keeps
            variables runs what it wrote, restored from its checkpoint.
    """
    import numpy as np

    specs = []
    for name in inputs:
        tensor = original.tensor(name)
        specs.append(InputSpec(name, dtypes.base(tensor.dtype) or "float32", tensor.shape))
    say = progress or (lambda kind, text: None)
    made = make_inputs(specs, seed=seed, mnist_dir=mnist_dir, examples=example_features(result.graph_def))
    say("inputs", made.describe())
    fetch_a = list(outputs)
    feeds_a = dict(made.feeds)
    for name, value in (fixed or {}).items():
        feeds_a[name] = np.asarray(value)
    if not _tf.loaded():
        say("step", "loading TensorFlow")
        _tf.tf()
    say("step", "running the original in TensorFlow")
    values_a = run_model(original, feeds_a, fetch_a)
    feeds_b = {inputs[k]: v for k, v in made.feeds.items()}
    fetch_b = [outputs[k] for k in fetch_a]
    say("step", "running the result in TensorFlow")
    values_b = run_result(feeds_b, fetch_b) if run_result else run_graph_def(result.graph_def, feeds_b, fetch_b)
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
           seed: int = 0, mnist_dir=None, progress: Callable[[str, str], None] | None = None,
           run_result=None) -> Comparison:
    """Compare a rewrite with its original on the result's inputs (same names on both sides).

    The inputs are the result's ``Placeholder`` ops (and unpinned
    ``PlaceholderWithDefault`` ones are left at their defaults). Raises
    nothing on a difference: look at :attr:`Comparison.ok`. ``progress`` and
    ``run_result``: as for :func:`compare`.
    """
    inputs = {}
    for node in result.graph_def.node:
        if node.op == "Placeholder":
            inputs[f"{node.name}:0"] = f"{node.name}:0"
    missing = [n for n in inputs if n not in original]
    if missing:
        raise RewriteError(f"cannot verify: input {missing[0]} of the result is not in the original")
    return compare(original, result, {o: o for o in outputs}, inputs, tolerance, seed, mnist_dir,
                   {f"{k}:0": v for k, v in (fixed or {}).items()}, progress, run_result)
