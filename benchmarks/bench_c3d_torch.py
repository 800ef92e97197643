"""C3D training speed: Keras (`videokit.models.c3d`) against the same network in plain PyTorch.

Both run in one process on one device with the same random batch, already on
the device: Keras compiles its training step with XLA (``jit_compile=True``,
the JAX backend's normal path) and PyTorch runs eagerly (no ``torch.compile``)
with ``torch.backends.cudnn.benchmark = True`` on CUDA, the standard setting
that lets cuDNN pick its fastest convolution algorithms for fixed shapes.
The PyTorch model mirrors the Keras one layer by layer (the script checks that
the parameter counts agree): eight ``3x3x3`` convolutions with "same" padding
and ReLU, max pooling ``1x2x2`` then ``2x2x2`` (pool5 pads the bottom and
right like Keras's "same"), flattening in Keras's channels-last order, fc6 and
fc7 with ReLU and dropout, a float32 softmax classifier, Keras's sparse
categorical cross-entropy on probabilities and Adam with videokit's learning
rate and Keras's epsilon (PyTorch's default Adam implementation otherwise).
``mixed_bfloat16`` is Keras's dtype policy on one side and
``torch.autocast(dtype=torch.bfloat16)`` with float32 weights on the other.

Prints clips/s, ms per step, achieved TFLOP/s (3 forward passes of
multiply-adds per training step) and, on a known GPU, MFU, then the ratio
Keras/PyTorch and whether the project's targets (>= 40% MFU, >= 1.0x PyTorch)
are met.

Usage:
    KERAS_BACKEND=jax python benchmarks/bench_c3d_torch.py --clip 16x112x112 --batch-size 32
    KERAS_BACKEND=jax python benchmarks/bench_c3d_torch.py --clip 8x64x64 --batch-size 2 --steps 2 --warmup 1  # CPU
"""

import os

# JAX must not take most of the GPU's memory when it starts: PyTorch shares the device.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import argparse
import gc
import importlib
import time

import keras
import numpy as np
import torch
from torch import nn

from videokit import benchmark
from videokit.config import RunConfig, parse_clip
from videokit.models import conv3d

MFU_TARGET = 0.40  # the project's targets for C3D on a GPU
RATIO_TARGET = 1.0


class TorchC3D(nn.Module):
    """`videokit.models.c3d` in plain PyTorch, on clips ``(batch, channels, time, height, width)``."""

    def __init__(self, clip, num_classes, filters, fc_units, dropout, channels=3):
        super().__init__()
        conv1a, conv2a, conv3a, conv3b, conv4a, conv4b, conv5a, conv5b = filters
        self.features = nn.Sequential(
            *_conv_relu(channels, conv1a), nn.MaxPool3d((1, 2, 2)),
            *_conv_relu(conv1a, conv2a), nn.MaxPool3d(2),
            *_conv_relu(conv2a, conv3a), *_conv_relu(conv3a, conv3b), nn.MaxPool3d(2),
            *_conv_relu(conv3b, conv4a), *_conv_relu(conv4a, conv4b), nn.MaxPool3d(2),
            # ceil_mode: a last window over an odd size, as Keras's "same" padding on the bottom and right.
            *_conv_relu(conv4b, conv5a), *_conv_relu(conv5a, conv5b), nn.MaxPool3d(2, ceil_mode=True),
        )
        flat_features = conv5b * int(np.prod(pool5_size(clip)))
        self.fully_connected = nn.Sequential(
            nn.Linear(flat_features, fc_units), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(fc_units, fc_units), nn.ReLU(inplace=True), nn.Dropout(dropout),
        )
        self.predictions = nn.Linear(fc_units, num_classes)

    def forward(self, clips):
        x = self.features(clips)
        # Keras flattens (time, height, width, channels): the same order makes fc6 the same function.
        x = torch.flatten(x.permute(0, 2, 3, 4, 1), 1)
        x = self.fully_connected(x)
        with torch.autocast(x.device.type, enabled=False):  # Keras keeps the classifier in float32
            return torch.softmax(self.predictions(x.float()), dim=-1)


def _conv_relu(in_channels, out_channels):
    return nn.Conv3d(in_channels, out_channels, 3, padding=1), nn.ReLU(inplace=True)


def pool5_size(clip):
    """``(time, height, width)`` after pool5: pool1 halves height and width,
    pools 2-4 halve all three rounding down, pool5 rounding up."""
    frames, height, width = clip
    sizes = (frames, height // 2, width // 2)
    for _ in range(3):
        sizes = tuple(size // 2 for size in sizes)
    return tuple(-(-size // 2) for size in sizes)


def sparse_categorical_crossentropy(probabilities, targets):
    """Keras's loss on probabilities (softmax sums to one): clip to ``[eps, 1 - eps]``, mean negative log."""
    epsilon = keras.config.epsilon()
    log_probabilities = torch.log(probabilities.clamp(epsilon, 1 - epsilon))
    return nn.functional.nll_loss(log_probabilities, targets)


def build_keras_c3d(clip, preset, num_classes):
    model = conv3d.c3d((*clip, 3), num_classes, preset=preset)
    model.compile(keras.optimizers.Adam(RunConfig.learning_rate), "sparse_categorical_crossentropy",
                  jit_compile=True)
    return model


def build_torch_c3d(clip, preset, num_classes):
    settings = conv3d._C3D_PRESETS[preset]
    return TorchC3D(clip, num_classes, settings["filters"], settings["fc_units"], settings["dropout"])


def random_batch(clip, batch_size, num_classes):
    """Clips ``(batch, time, height, width, 3)`` in ``[0, 1)`` and integer labels, from a fixed seed."""
    rng = np.random.default_rng(0)
    clips = rng.random((batch_size, *clip, 3), dtype=np.float32)
    return clips, rng.integers(0, num_classes, batch_size)


def seconds_per_step(train_step, warmup, steps, wait_for_device):
    """Mean wall time of ``steps`` training steps, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        train_step()
    wait_for_device()
    started = time.perf_counter()
    for _ in range(steps):
        train_step()
    wait_for_device()
    return (time.perf_counter() - started) / steps


def time_keras(model, clips, targets, warmup, steps):
    clips = keras.ops.convert_to_tensor(clips)
    targets = keras.ops.convert_to_tensor(targets, "int32")
    # `train_on_batch` is Keras's public one-step API: one XLA-compiled step per call, on tensors already
    # on the device. It returns the loss as a Python float, so every step waits for the device; the
    # PyTorch step does the same (`loss.item()`), as a training loop that logs its loss does.
    return seconds_per_step(lambda: model.train_on_batch(clips, targets), warmup, steps, lambda: None)


def time_torch(model, clips, targets, precision, warmup, steps, channels_last):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    memory_format = torch.channels_last_3d if channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format).train()
    clips = torch.from_numpy(clips).permute(0, 4, 1, 2, 3).to(device, memory_format=memory_format)
    targets = torch.from_numpy(targets).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=RunConfig.learning_rate, eps=keras.config.epsilon())

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "mixed_bfloat16"):
            loss = sparse_categorical_crossentropy(model(clips), targets)
        loss.backward()
        optimizer.step()
        return loss.item()

    wait = torch.cuda.synchronize if device.type == "cuda" else lambda: None
    return seconds_per_step(train_step, warmup, steps, wait)


def release_torch_memory():
    """Give PyTorch's cached GPU memory back before JAX allocates its own (which JAX keeps)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def parameter_count(torch_model):
    return sum(parameter.numel() for parameter in torch_model.parameters())


def train_tflops(macs, seconds, batch_size):
    """Achieved TFLOP/s of training: a step costs about 3 forward passes, 2 FLOPs per multiply-add."""
    return 3 * 2 * macs * batch_size / seconds / 1e12


def model_flops_utilisation(tflops, peak_tflops):
    return tflops / peak_tflops if peak_tflops else None


def print_speeds(rows, macs, batch_size, peak_tflops):
    """One line per ``(framework, seconds per step)``."""
    print(f"{'framework':<32} {'clips/s':>9} {'ms/step':>9} {'TFLOP/s':>9} {'MFU':>7}")
    for framework, seconds in rows:
        tflops = train_tflops(macs, seconds, batch_size)
        mfu = model_flops_utilisation(tflops, peak_tflops)
        mfu = "-" if mfu is None else f"{mfu:.1%}"
        print(f"{framework:<32} {batch_size / seconds:>9.1f} {1000 * seconds:>9.1f} {tflops:>9.2f} {mfu:>7}")


def print_targets(keras_mfu, ratio):
    if keras_mfu is None:
        print("MFU: - (unknown device)")
        print(f"target MFU >= {MFU_TARGET:.0%}: unknown (no peak TFLOP/s for this device)")
    else:
        print(f"target MFU >= {MFU_TARGET:.0%}: Keras {keras_mfu:.1%}, {_met(keras_mfu >= MFU_TARGET)}")
    print(f"target Keras/PyTorch >= {RATIO_TARGET:.1f}x: {ratio:.3f}x, {_met(ratio >= RATIO_TARGET)}")


def _met(condition):
    return "met" if condition else "NOT met"


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=parse_clip, default=(16, 112, 112), help="FRAMESxHEIGHTxWIDTH")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (compilation, cuDNN autotuning)")
    parser.add_argument("--precision", choices=("mixed_bfloat16", "float32"), default="mixed_bfloat16")
    parser.add_argument("--num-classes", type=int, default=101)
    parser.add_argument("--preset", choices=("paper", "small"), default="paper")
    parser.add_argument("--torch-channels-last", action="store_true",
                        help="PyTorch in the channels_last_3d memory format (default: plain NCDHW)")
    return parser.parse_args()


def main():
    arguments = parse_arguments()
    clip, batch_size = arguments.clip, arguments.batch_size
    keras.mixed_precision.set_dtype_policy(arguments.precision)
    keras.utils.set_random_seed(0)
    torch.manual_seed(0)
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True

    keras_model = build_keras_c3d(clip, arguments.preset, arguments.num_classes)
    torch_model = build_torch_c3d(clip, arguments.preset, arguments.num_classes)
    keras_parameters, torch_parameters = keras_model.count_params(), parameter_count(torch_model)
    print(f"parameters: Keras {keras_parameters:,}, PyTorch {torch_parameters:,}")
    assert keras_parameters == torch_parameters, "the two C3D models differ"
    macs = benchmark.count_macs(keras_model)
    clips, targets = random_batch(clip, batch_size, arguments.num_classes)

    # PyTorch first: its cached memory can be given back, JAX's cannot.
    torch_seconds = time_torch(torch_model, clips, targets, arguments.precision, arguments.warmup,
                               arguments.steps, arguments.torch_channels_last)
    del torch_model
    release_torch_memory()
    keras_seconds = time_keras(keras_model, clips, targets, arguments.warmup, arguments.steps)

    backend = keras.backend.backend()
    device = benchmark.device_name()
    peak_tflops = benchmark.peak_tflops(device)
    torch_device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    print(f"device: {device} (Keras), {torch_device} (PyTorch); bf16 peak: {peak_tflops or '-'} TFLOP/s")
    print(f"Keras {keras.__version__}, backend {backend} {importlib.import_module(backend).__version__}, "
          f"PyTorch {torch.__version__}")
    print(f"C3D {arguments.preset} preset, clips {'x'.join(map(str, clip))}x3, batch {batch_size}, "
          f"{arguments.num_classes} classes, {arguments.precision}, {arguments.steps} timed steps after "
          f"{arguments.warmup} warm-up, {macs / 1e9:.2f} GMACs per clip (forward)\n")
    torch_layout = "channels_last_3d" if arguments.torch_channels_last else "NCDHW"
    rows = [(f"Keras ({backend}, XLA)", keras_seconds), (f"PyTorch eager ({torch_layout})", torch_seconds)]
    print_speeds(rows, macs, batch_size, peak_tflops)
    ratio = torch_seconds / keras_seconds
    print(f"\nKeras/PyTorch: {ratio:.3f}x")
    print_targets(model_flops_utilisation(train_tflops(macs, keras_seconds, batch_size), peak_tflops), ratio)


if __name__ == "__main__":
    main()
