"""Inputs for running a graph and its rewrite side by side: MNIST when it fits, seeded random otherwise."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import RewriteError
from ..wording import plural
from .examples import serialized_examples
from .mnist import mnist_dirs, mnist_test_set


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
