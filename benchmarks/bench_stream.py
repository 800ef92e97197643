"""Streaming inference: one step per new frame, against re-running the whole window at every frame.

A live classifier answers after every frame about the last ``T`` frames. The
naive way runs the model on that ``T``-frame window each time; a causal model
run by `videokit.models.stream` keeps a buffer per layer and pushes only the new
frame through the network. The model here is MoViNet-shaped (causal 3D
convolutions, per-frame pooling, a running mean, a head per step), built with
random weights at the given frame size; both ways are timed in this process on
the same frames, the per-frame latencies and their ratio are printed (target
``>= T/2``), and the two answers for the last frame are checked equal.

The streamed answer is a running mean over every frame since the start; the
window's is over its ``T`` frames. They coincide for the first window, which is
the frame checked.

On the TensorFlow backend the step function is also exported
(`videokit.export`, ``streaming=True``) to each format given by ``--exported``
and timed in its own runtime on the same frames (onnxruntime, the LiteRT
interpreter, TensorFlow for a SavedModel), beside the Keras step.

Usage:
    python benchmarks/bench_stream.py [--window 16] [--size 112] [--frames 48] [--exported onnx,tflite]
"""

import argparse
import tempfile
import time

import keras
import numpy as np

from videokit.layers import CausalConv3D, CumulativeAverage
from videokit.models import stream


def causal_classifier(size, classes=10):
    keras.utils.set_random_seed(0)
    layers = [keras.Input((None, size, size, 3))]
    for filters in (16, 32, 64):
        layers += [CausalConv3D(filters, 3, activation="relu"), keras.layers.MaxPooling3D((1, 2, 2))]
    layers += [
        keras.layers.TimeDistributed(keras.layers.GlobalAveragePooling2D()),
        CumulativeAverage(),
        keras.layers.Dense(classes, activation="softmax"),
    ]
    return keras.Sequential(layers)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=int, default=16, help="frames the naive way re-runs at every new frame")
    parser.add_argument("--size", type=int, default=112, help="frame height and width")
    parser.add_argument("--frames", type=int, default=48, help="frames of the stream timed")
    parser.add_argument("--exported", default="onnx,tflite",
                        help="formats whose exported step is timed too, comma-separated ('' for none; TensorFlow only)")
    arguments = parser.parse_args()
    window, frames = arguments.window, arguments.frames
    model = causal_classifier(arguments.size)
    video = np.random.default_rng(0).random((1, window + frames, arguments.size, arguments.size, 3), "float32")

    live = stream(model)
    for t in range(window):  # warm up both ways (tracing, first calls) on the first window
        streamed = live.step(video[:, t])
    windowed = model.predict_on_batch(video[:, :window])[:, -1]
    np.testing.assert_allclose(streamed, windowed, atol=1e-4)

    started = time.perf_counter()
    for t in range(window, window + frames):
        live.step(video[:, t])
    stream_seconds = (time.perf_counter() - started) / frames
    started = time.perf_counter()
    for t in range(window, window + frames):
        model.predict_on_batch(video[:, t + 1 - window : t + 1])
    window_seconds = (time.perf_counter() - started) / frames

    print(f"backend {keras.backend.backend()}, frames {arguments.size}x{arguments.size}, window T = {window}")
    print(f"re-running the window at every frame: {window_seconds * 1e3:8.2f} ms per frame")
    print(f"streaming one frame at a time:        {stream_seconds * 1e3:8.2f} ms per frame")
    ratio = window_seconds / stream_seconds
    print(f"ratio {ratio:.1f}x (target >= T/2 = {window / 2:.0f}x: {'met' if ratio >= window / 2 else 'not met'})")
    formats = [name for name in arguments.exported.split(",") if name]
    if formats and keras.backend.backend() != "tensorflow":
        print(f"exported steps not timed: export goes through TensorFlow, and the backend is {keras.backend.backend()}")
        return
    for format in formats:
        milliseconds, difference = time_exported_step(model, format, video, window, frames)
        print(f"exported {format + ' step:':<29}{milliseconds:8.2f} ms per frame "
              f"(its outputs == Keras's stream to {difference:.1g})")


def time_exported_step(model, format, video, warm_up, frames):
    """Per-frame latency of the step exported to ``format``, run by its runtime; and its largest difference."""
    from videokit.export import default_path, export_model, step_runner

    with tempfile.TemporaryDirectory() as folder:
        result = export_model(model, default_path(folder, format, streaming=True), format, streaming=True)
        run = step_runner(result.path, format)
        states = [np.zeros((1, *shape), "float32") for shape in result.state_shapes]
        for t in range(warm_up):
            _, states = run(video[:, t], states)
        started = time.perf_counter()
        for t in range(warm_up, warm_up + frames):
            _, states = run(video[:, t], states)
        return (time.perf_counter() - started) / frames * 1e3, result.max_difference


if __name__ == "__main__":
    main()
