"""A large TF2 Keras SavedModel: ~60,000 ops, nearly all of them in function bodies.

Built differently from both TF1 training graphs (:mod:`bench.synthetic_training`,
:mod:`bench.synthetic_moments`): a residual CNN in Keras 2 (``tf_keras``), a
stem (Conv2D + BatchNormalization + ReLU) then ``BLOCKS`` residual blocks of
two 3x3 convolutions with batch norms (``block{i}_conv1`` ... ``block{i}_add``,
``block{i}_out``), global average pooling and a Dense head, compiled with SGD
and saved with ``model.save(path, save_format="tf")``. That writes what Keras 2
SavedModels hold in the wild: a top-level graph of a few hundred ops
(``VarHandleOp``, ``StatefulPartitionedCall``), and a function library with
one ``*_layer_call_fn`` / ``*_layer_call_and_return_conditional_losses`` pair
per layer and per training mode, the model's traced calls, and the
``__traced_save`` / ``__traced_restore`` functions. 264 blocks give about
60,000 ops in about 4,000 functions.

Built once in a TensorFlow subprocess and cached under ``bench/.cache``:

    python -m bench.synthetic_keras 264   # writes bench/.cache/keras_resnet_264/
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import PYTHON, ROOT

CACHE = Path(__file__).resolve().parent / ".cache"

_BUILD = r"""
import os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import tf_keras as keras

out, blocks = sys.argv[1], int(sys.argv[2])
keras.utils.set_random_seed(42)
inp = keras.Input((32, 32, 3), name="image")
x = keras.layers.Conv2D(16, 3, padding="same", name="stem_conv")(inp)
x = keras.layers.BatchNormalization(name="stem_bn")(x)
x = keras.layers.ReLU(name="stem_relu")(x)
for i in range(blocks):
    y = keras.layers.Conv2D(16, 3, padding="same", use_bias=False, name=f"block{i}_conv1")(x)
    y = keras.layers.BatchNormalization(name=f"block{i}_bn1")(y)
    y = keras.layers.ReLU(name=f"block{i}_relu1")(y)
    y = keras.layers.Conv2D(16, 3, padding="same", use_bias=False, name=f"block{i}_conv2")(y)
    y = keras.layers.BatchNormalization(name=f"block{i}_bn2")(y)
    x = keras.layers.ReLU(name=f"block{i}_out")(keras.layers.Add(name=f"block{i}_add")([x, y]))
x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
logits = keras.layers.Dense(10, name="logits")(x)
model = keras.Model(inp, logits, name="resnet")
model.compile(optimizer=keras.optimizers.SGD(0.01),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
model.save(out, save_format="tf")
"""


def cached_keras_model(blocks: int = 264) -> Path:
    """The SavedModel directory of the ``blocks``-block residual CNN (built with TensorFlow on first use)."""
    path = CACHE / f"keras_resnet_{blocks}"
    if not (path / "saved_model.pb").is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=path.name + ".", dir=CACHE))
        try:
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
            proc = subprocess.run([PYTHON, "-c", _BUILD, str(tmp / "model"), str(blocks)], env=env, cwd=ROOT,
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"building the Keras SavedModel failed: {proc.stderr[-2000:]}")
            if path.exists():  # a concurrent build finished first, or an interrupted one left a husk
                shutil.rmtree(path)
            os.replace(tmp / "model", path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return path


if __name__ == "__main__":
    print(cached_keras_model(int(sys.argv[1]) if len(sys.argv) > 1 else 264))
