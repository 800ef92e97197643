"""Model speed: clips per second, peak memory, multiply-adds and MFU."""

import resource
import time

import keras
import numpy as np

# Dense bf16/fp16 tensor-core peaks in TFLOP/s, for model FLOP utilisation (MFU).
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L4": 121.0, "T4": 65.0, "V100": 125.0}


def count_macs(model):
    """Multiply-accumulates of one forward pass of one example.

    Counts convolutions (1D/2D/3D and transposed), dense layers, LSTM/GRU and
    ConvLSTM2D cells, through ``TimeDistributed`` wrappers and nested models.
    Layers whose shapes are not known from the functional graph (layers built
    inside custom layers' ``call``) are counted through their sublayers when
    those are standard; element-wise work (activations, normalisation,
    pooling) is left out, as is usual for MFU.

    Args:
        model: a built functional ``keras.Model``.

    Returns:
        The number of multiply-accumulates per example (an ``int``).
    """
    return int(sum(_layer_macs(layer) for layer in model.layers))


def _layer_macs(layer, repeat=1):
    if isinstance(layer, keras.Model):
        return repeat * count_macs(layer)
    if isinstance(layer, keras.layers.TimeDistributed):
        frames = layer.output.shape[1]
        inner = layer.layer
        return _shape_macs(inner, layer.input.shape[2:], layer.output.shape[2:], repeat * frames)
    try:
        input_shape, output_shape = layer.input.shape[1:], layer.output.shape[1:]
    except (AttributeError, ValueError):
        return 0
    return _shape_macs(layer, input_shape, output_shape, repeat)


def _shape_macs(layer, input_shape, output_shape, repeat):
    name = type(layer).__name__
    if name.startswith("ConvLSTM"):
        gates = 4 * int(np.prod(layer.kernel_size)) * layer.filters
        per_frame = int(np.prod(output_shape[-3:-1] if len(output_shape) > 3 else output_shape[:-1]))
        return repeat * input_shape[0] * per_frame * gates * (input_shape[-1] + layer.filters)
    if name in ("LSTM", "GRU", "SimpleRNN"):
        gates = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[name]
        return repeat * input_shape[0] * gates * layer.units * (input_shape[-1] + layer.units)
    if hasattr(layer, "multiply_adds"):  # layers that count their own: transformer blocks, tubelets
        return repeat * layer.multiply_adds(tuple(input_shape))
    if hasattr(layer, "spatial_conv") and hasattr(layer, "temporal_conv"):  # Conv2Plus1D
        middle_shape = layer.spatial_conv.compute_output_shape((None, *input_shape))[1:]
        return (_shape_macs(layer.spatial_conv, input_shape, middle_shape, repeat)
                + _shape_macs(layer.temporal_conv, middle_shape, output_shape, repeat))
    if hasattr(layer, "kernel_size") and hasattr(layer, "filters"):
        groups = getattr(layer, "groups", 1) or 1
        kernel = int(np.prod(layer.kernel_size)) * input_shape[-1] // groups * layer.filters
        positions = input_shape[:-1] if "Transpose" in name else output_shape[:-1]
        return repeat * int(np.prod(positions)) * kernel
    if isinstance(layer, keras.layers.Dense):
        return repeat * int(np.prod(output_shape[:-1])) * input_shape[-1] * layer.units
    return repeat * sum(_layer_macs(sublayer) for sublayer in getattr(layer, "_layers", []))


def measure(model_name, clip, batch_size, *, preset="paper", precision="float32", jit=False, steps=5,
            num_classes=101):
    """Time training and inference of a videokit model on random clips.

    Args:
        model_name: a name from ``videokit.training.MODEL_NAMES`` (classifiers
            and predictors).
        clip: ``(frames, height, width)``.
        batch_size: clips per step.
        preset: the builder's preset.
        precision: Keras dtype policy.
        jit: XLA-compile the steps.
        steps: timed steps, after one untimed warm-up step.
        num_classes: classes of a classifier.

    Returns:
        A dict: ``train_clips_per_s``, ``infer_clips_per_s``,
        ``peak_memory_mib``, ``gmacs_per_clip``, ``device`` and, on a known
        GPU, ``tflops`` (achieved in training, counting 3 forward passes of
        work per step) and ``mfu``.
    """
    from videokit import training

    config = training.RunConfig(model=model_name, clip=clip, batch_size=batch_size, preset=preset,
                                precision=precision, jit=jit)
    task = training.task_for(config)
    keras.mixed_precision.set_dtype_policy(precision)
    try:
        model = training.build_model(config, num_classes=num_classes)
        rng = np.random.default_rng(0)
        inputs = rng.random((batch_size, *model.input_shape[1:]), dtype=np.float32)
        targets = task.random_targets(model, batch_size, rng)
        train_time = _time_steps(lambda: model.train_on_batch(inputs, targets), steps)
        infer_time = _time_steps(lambda: model.predict_on_batch(inputs), steps)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    macs = count_macs(model)
    result = {
        "model": model_name, "clip": "x".join(map(str, clip)), "batch": batch_size, "precision": precision,
        "device": device_name(), "train_clips_per_s": batch_size / train_time,
        "infer_clips_per_s": batch_size / infer_time, "gmacs_per_clip": macs / 1e9,
        "peak_memory_mib": _peak_memory_mib(),
    }
    peak = peak_tflops(result["device"])
    if peak:
        result["tflops"] = 3 * 2 * macs * result["train_clips_per_s"] / 1e12
        result["mfu"] = result["tflops"] / peak
    return result


def format_table(results):
    """Results of ``measure`` as an aligned text table."""
    header = f"{'model':>14} {'clip':>10} {'batch':>5} {'precision':>14} {'train clips/s':>13} " \
             f"{'infer clips/s':>13} {'GMACs/clip':>10} {'peak MiB':>9} {'TFLOP/s':>8} {'MFU':>6}  device"
    lines = [header]
    for r in results:
        tflops = f"{r['tflops']:.1f}" if "tflops" in r else "-"
        mfu = f"{r['mfu']:.1%}" if "mfu" in r else "-"
        lines.append(f"{r['model']:>14} {r['clip']:>10} {r['batch']:>5} {r['precision']:>14} "
                     f"{r['train_clips_per_s']:>13.1f} {r['infer_clips_per_s']:>13.1f} {r['gmacs_per_clip']:>10.2f} "
                     f"{r['peak_memory_mib']:>9.0f} {tflops:>8} {mfu:>6}  {r['device']}")
    return "\n".join(lines)


def _time_steps(step, steps):
    np.asarray(step())  # warm-up: tracing and compilation
    started = time.perf_counter()
    for _ in range(steps):
        np.asarray(step())  # converting to NumPy waits for the device
    return (time.perf_counter() - started) / steps


def peak_tflops(device):
    """Dense bf16 peak TFLOP/s of a device named by ``device_name()``, or ``None`` if unknown."""
    return next((value for name, value in PEAK_TFLOPS.items() if name in device), None)


def device_name():
    """The accelerator Keras runs on, e.g. ``"NVIDIA H100 80GB HBM3"``, or ``"CPU"``."""
    if keras.backend.backend() == "jax":
        import jax

        device = jax.devices()[0]
        return getattr(device, "device_kind", device.platform)
    if keras.backend.backend() == "tensorflow":
        from videokit import tf_support

        return tf_support.gpu_name() or "CPU"
    return "CPU"


def _peak_memory_mib():
    if keras.backend.backend() == "jax":
        import jax

        stats = jax.devices()[0].memory_stats() or {}
        if "peak_bytes_in_use" in stats:
            return stats["peak_bytes_in_use"] / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
