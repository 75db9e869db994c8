"""TensorFlow, for the jobs that must run or build a graph: the one place it is imported.

Reading, listing, scanning, exporting and editing never come here. TensorFlow
is an optional extra (``pip install 'graphsurgeon[tensorflow]'``); without it
:func:`tf` says so in one line.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import sys

from ..errors import GraphSurgeonError

EXTRA = "graphsurgeon[tensorflow]"
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
MISSING_TENSORFLOW = (f"this command needs TensorFlow, which is not installed: pip install '{EXTRA}' "
                      "(reading, listing, rendering, scan, export and edit work without it)")


def require_tensorflow() -> None:
    """Fail at once, in one line naming the extra, when TensorFlow is not installed (nothing is imported).

    Commands that need TensorFlow call it before any other work, so that a
    TensorFlow-free install says what is missing before it says anything else.
    """
    if _TF is None and importlib.util.find_spec("tensorflow") is None:
        raise TensorFlowMissing(MISSING_TENSORFLOW)


def tf():
    """TensorFlow, imported on first use with its C++ logging quietened.

    Raises:
        TensorFlowMissing: TensorFlow is not installed (one line naming the
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
                raise TensorFlowMissing(f"this needs TensorFlow, which cannot be imported ({exc})") from None
            raise TensorFlowMissing(MISSING_TENSORFLOW) from None
        except ImportError as exc:
            raise TensorFlowMissing(f"this needs TensorFlow, which cannot be imported ({exc})") from None
        tensorflow.get_logger().setLevel("ERROR")
        _TF = tensorflow
    return _TF


def loaded() -> bool:
    """Whether TensorFlow has been imported already (so a caller can say it is loading it)."""
    return _TF is not None


class TensorFlowMissing(GraphSurgeonError):
    """A command that runs or builds a graph, without TensorFlow installed."""


class RunError(GraphSurgeonError):
    """TensorFlow refused to import, restore or run a graph."""


def short(exc: Exception) -> str:
    """TensorFlow's whole message on one line, without the Python stack trace it carries.

    A session error reads ``Graph execution error:``, then where the op was
    built in Python (``Detected at node 'x' defined at ...``, ``File ...``
    lines, ``Node: 'x'``), then the reason, then ``[[{{node x}}]]``; the
    reason is what the user needs, so every line but the stack trace is
    kept, joined by spaces (an ``error:`` message is one line).

    Example:
        >>> short(ValueError("Graph execution error:\\n\\nYou must feed a value for placeholder "
        ...                  "tensor 'x'\\n\\t [[{{node x}}]]"))
        "Graph execution error: You must feed a value for placeholder tensor 'x' [[{{node x}}]]"
    """
    text = str(getattr(exc, "message", None) or exc)
    text = text.split("\nOriginal stack trace for", 1)[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    kept, i = [], 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(("Detected at node", "Stack trace")):
            # The trace runs to its "Node: 'x'" line; without one, only its File lines are dropped.
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("Node: ")), None)
            i = end + 1 if end is not None else i + 1
            continue
        if not line.startswith("File "):
            kept.append(line)
        i += 1
    return " ".join(kept) or type(exc).__name__


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
