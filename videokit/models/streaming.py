"""Run a causal video model one frame at a time, carrying its state.

A model built as a chain of layers that never look ahead in time can process
a live stream: each new frame goes through the network once, and each layer
keeps what it needs from the past in a state (Kondratyuk et al. 2021,
MoViNets, for the stream buffers; Shi et al. 2015 for the ConvLSTM states):

* `CausalConv3D`: a buffer of its ``k_t - 1`` previous input frames, stacked
  along the channels so that every state is at most 4-D (``(batch, height,
  width, (k_t - 1) * channels)``: what mobile runtimes take best);
* `ConvLSTM2D`: its hidden and cell states ``h`` and ``c``;
* `CumulativeAverage`: a running sum and a count;
* `LastFrame` (a clip's answer is its last frame's): nothing, every streamed
  frame is the last one so far;
* per-frame layers (a `Conv3D` or pooling of time extent 1, `Dense`,
  `TimeDistributed`, activations, normalisation, dropout): no state.

Streaming ``T`` frames gives the same outputs as running the model on the
whole clip, at a cost per frame that does not grow with ``T``.
"""

import keras
import numpy as np
from keras import ops

from videokit.layers.causal_conv3d import CausalConv3D
from videokit.layers.cumulative_average import CumulativeAverage
from videokit.layers.last_frame import LastFrame

# The registered classifiers that `stream` runs (checked by tests/test_causal_c3d.py).
CAUSAL_CLASSIFIERS = ("causal_c3d",)

_PER_FRAME_LAYERS = (
    keras.layers.Dense,
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.Softmax,
    keras.layers.Dropout,
    keras.layers.TimeDistributed,
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
)
_TIME_EXTENT_ONE_LAYERS = (
    keras.layers.Conv3D,
    keras.layers.MaxPooling3D,
    keras.layers.AveragePooling3D,
)


class _Step(keras.layers.Layer):
    """One step of a stateful layer, as a layer of the step model: ``(input, *states) -> (output, *states)``."""

    def __init__(self, layer, **kwargs):
        super().__init__(name=f"{layer.name}_step", **kwargs)
        self.layer = layer

    def call(self, inputs, *states):
        if isinstance(self.layer, CausalConv3D):
            return self.layer.packed_step(inputs, *states)
        if isinstance(self.layer, CumulativeAverage):
            return self.layer.step(inputs, *states)
        output, new_states = self.layer.cell(inputs, list(states))  # ConvLSTM2D
        return (output, *new_states)


class VideoStream:
    """A causal model fed one frame at a time; see `stream`.

    Attributes:
        model: the offline model.
        batch_size: how many streams run side by side.
    """

    def __init__(self, model, batch_size=1):
        self.model = model
        self.batch_size = batch_size
        self.step_model, self.state_shapes = step_model(model)
        self.reset()

    def reset(self):
        """Forget every frame seen so far: states back to zeros."""
        self._states = [np.zeros((self.batch_size, *shape), "float32") for shape in self.state_shapes]
        self.frames_seen = 0

    def step(self, frame):
        """The model's output for the newest frame.

        Args:
            frame: ``(batch_size, height, width, channels)``.

        Returns:
            A NumPy array: the offline model's output at this frame's time step.
        """
        frame = np.asarray(frame, dtype="float32")
        expected = (self.batch_size, *self.model.input_shape[2:])
        if frame.shape != expected:
            raise ValueError(f"VideoStream.step expects a frame of shape {expected}; got {frame.shape}.")
        output, *self._states = self.step_model.predict_on_batch([frame, *self._states])
        self.frames_seen += 1
        return output

    def run(self, clips):
        """Stream every frame of ``clips`` ``(batch_size, time, ...)``; the outputs stacked over time."""
        return np.stack([self.step(clips[:, t]) for t in range(np.shape(clips)[1])], axis=1)


def stream(model, batch_size=1):
    """Run a causal video model one frame at a time.

    Args:
        model: a functional or sequential model that is a chain of
            `CausalConv3D`, `ConvLSTM2D`, `CumulativeAverage` and per-frame
            layers, taking clips ``(batch, time, height, width, channels)``
            and giving one output per time step ``(batch, time, ...)``, or,
            ended by `LastFrame` and per-frame layers (the registered
            `causal_c3d`), one output per clip: the last frame's.
        batch_size: how many streams to run side by side.

    Returns:
        A `VideoStream`: ``.step(frame)`` returns the output for the newest
        frame, ``.reset()`` starts a new stream.

    Raises:
        ValueError: naming the first layer that looks at more than one frame
            in a way a stream cannot (a `Conv3D` with a time kernel above 1,
            global pooling over time, a bidirectional or backwards RNN...).

    Example:

    >>> model = keras.Sequential([
    ...     keras.Input((None, 8, 8, 1)),
    ...     CausalConv3D(4, 3, activation="relu"),
    ...     keras.layers.TimeDistributed(keras.layers.GlobalAveragePooling2D()),
    ...     CumulativeAverage(),
    ...     keras.layers.Dense(3),
    ... ])
    >>> clip = np.random.rand(1, 6, 8, 8, 1).astype("float32")
    >>> live = stream(model)
    >>> outputs = [live.step(clip[:, t]) for t in range(6)]
    >>> bool(np.allclose(np.stack(outputs, axis=1), model(clip), atol=1e-5))
    True
    """
    return VideoStream(model, batch_size)


def _chain(model):
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    for layer in layers:
        _check_streamable(layer)
    return layers


def _check_streamable(layer):
    if isinstance(layer, (CausalConv3D, CumulativeAverage, LastFrame, *_PER_FRAME_LAYERS)):
        return
    if isinstance(layer, keras.layers.ConvLSTM2D):
        if layer.go_backwards or not layer.return_sequences:
            raise ValueError(
                f"stream needs ConvLSTM2D layers that run forwards and return every step; "
                f"layer {layer.name!r} has go_backwards={layer.go_backwards}, "
                f"return_sequences={layer.return_sequences}."
            )
        return
    if isinstance(layer, _TIME_EXTENT_ONE_LAYERS):
        extent = layer.kernel_size[0] if isinstance(layer, keras.layers.Conv3D) else layer.pool_size[0]
        if extent == 1 and layer.strides[0] == 1:
            return
        raise ValueError(
            f"stream cannot run layer {layer.name!r} ({type(layer).__name__}) frame by frame: it spans "
            f"{extent} frames with stride {layer.strides[0]} in time; use CausalConv3D, or a time extent of 1."
        )
    raise ValueError(
        f"stream cannot run layer {layer.name!r} ({type(layer).__name__}) frame by frame; expected a chain of "
        "CausalConv3D, ConvLSTM2D, CumulativeAverage, LastFrame and per-frame layers."
    )


def _state_shapes(layer, frame_shape):
    """The shapes (without batch) of the states of ``layer`` for input frames of ``frame_shape``."""
    if isinstance(layer, CausalConv3D):
        height, width, channels = frame_shape
        return [(height, width, layer.buffer_frames * channels)] if layer.buffer_frames else []
    if isinstance(layer, CumulativeAverage):
        return [tuple(frame_shape), (1,) * len(frame_shape)]
    if isinstance(layer, keras.layers.ConvLSTM2D):
        output_shape = layer.compute_output_shape((None, 1, *frame_shape))[2:]
        return [tuple(output_shape)] * 2
    return []


def step_model(model):
    """The step function of a causal model, as a model that shares its weights.

    Args:
        model: a causal model, as `stream` takes.

    Returns:
        ``(step, state_shapes)``: a `keras.Model` ``[frame, *states] ->
        [output, *new_states]`` (frames ``(batch, height, width, channels)``,
        every state at most 4-D) and the shapes of the states without the
        batch axis, all zeros at the start of a stream. This is what
        `videokit.export` writes for a streaming model.

    Raises:
        ValueError: as `stream`.
    """
    frame = keras.Input(model.input_shape[2:], name="frame")
    hidden, state_inputs, state_outputs, shapes = frame, [], [], []
    for layer in _chain(model):
        if isinstance(layer, LastFrame):  # a streamed frame is the last one so far
            continue
        layer_shapes = _state_shapes(layer, tuple(hidden.shape[1:]))
        if not layer_shapes:
            hidden = _per_frame(layer, hidden)
            continue
        states = [keras.Input(shape, name=f"state{len(shapes) + index}") for index, shape in enumerate(layer_shapes)]
        hidden, *new_states = _Step(layer)(hidden, *states)
        state_inputs += states
        state_outputs += new_states
        shapes += layer_shapes
    return keras.Model([frame, *state_inputs], [hidden, *state_outputs]), shapes


def _per_frame(layer, frame):
    """A stateless layer on one frame, with 4-D operations where the layer has a 2D equivalent."""
    if isinstance(layer, keras.layers.TimeDistributed):
        return layer.layer(frame)
    if isinstance(layer, (keras.layers.MaxPooling3D, keras.layers.AveragePooling3D)):
        pool = keras.layers.MaxPooling2D if isinstance(layer, keras.layers.MaxPooling3D) else keras.layers.AveragePooling2D
        return pool(layer.pool_size[1:], layer.strides[1:], layer.padding, name=f"{layer.name}_frame")(frame)
    return layer(ops.expand_dims(frame, 1))[:, 0]  # apply it to a clip of one frame
