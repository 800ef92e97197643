"""ConvLSTM next-frame predictor (Shi et al. 2015) and its autoregressive roll-out."""

import keras
import numpy as np

from videokit.models import _common, streaming

PRESETS = {
    # Close to the Moving MNIST model of Shi et al. 2015: 64x64 frames, three
    # ConvLSTM layers of 128, 64 and 64 filters, 5x5 kernels. Meant for a GPU.
    "paper": {"input_shape": (10, 64, 64, 1), "filters": (128, 64, 64), "kernel_size": 5},
    # Trains in seconds on a CPU: 32x32 frames, two narrow ConvLSTM layers.
    "small": {"input_shape": (10, 32, 32, 1), "filters": (16, 16), "kernel_size": 3},
}


@_common.uses_presets(PRESETS)
def convlstm_predictor(input_shape=None, *, preset=None, filters=None, kernel_size=None, name="convlstm_predictor"):
    """Builds a ConvLSTM model that predicts the next frame at every step.

    A stack of `ConvLSTM2D` layers (Shi et al. 2015, "Convolutional LSTM
    Network") reads frames `0..T-1`; a per-frame convolution turns the hidden
    state of step `t` into the prediction of frame `t + 1`, a sigmoid image in
    `[0, 1]`. Train it on `(clips[:, :-1], clips[:, 1:])`, e.g. with binary
    cross-entropy, and forecast further with `rollout`. Shi et al. read the
    context with an encoder and hand its states to a separate forecaster; here
    the same stack does both, the forecast being fed back one frame at a time.

    The model is causal in time: the prediction at step `t` depends only on
    frames `<= t`. The ConvLSTM layers run forward in time, and the output head
    is a `Conv3D` with kernel size 1 in time, so it looks at one step only. The
    keras-io ConvLSTM example ends with a `Conv3D` of kernel `(3, 3, 3)` and
    `padding="same"`, which lets the prediction of frame `t + 1` see the hidden
    state of step `t + 1`, i.e. frame `t + 1` itself (keras-io issue #1003): its
    loss looks good but the model cannot forecast. For the same reason there is
    no `BatchNormalization` between the layers: in training mode its statistics
    are averaged over all the time steps, future ones included.

    Arguments left as `None` take their value from `preset` (the paper
    configuration when `preset` is `None`); explicit arguments always win.

    Args:
        input_shape: Clip shape `(time, height, width, channels)`. `time` may
            be `None` for clips of any length. Default from the preset:
            `(10, 64, 64, 1)` (paper) or `(10, 32, 32, 1)` (small).
        preset: `None` (the paper configuration: 64x64 frames, 128-64-64
            filters, 5x5 kernels, for a GPU) or `"small"` (32x32 frames, 16-16
            filters, 3x3 kernels: trains in seconds on a CPU).
        filters: Filters of the `ConvLSTM2D` layers, one layer per entry.
        kernel_size: Spatial kernel size of the ConvLSTM layers and of the
            output head.
        name: Name of the model.

    Input shape:
        `(batch, time, height, width, channels)` float frames in `[0, 1]`.

    Output shape:
        Same as the input: step `t` holds the prediction of frame `t + 1`.
        Float32, also under a mixed precision policy.

    Returns:
        A functional `keras.Model`.

    Example:

    >>> model = convlstm_predictor(preset="small")
    >>> model.compile("adam", "binary_crossentropy")
    >>> clips = np.random.rand(4, 11, 32, 32, 1).astype("float32")
    >>> history = model.fit(clips[:, :-1], clips[:, 1:], epochs=1, verbose=0)
    >>> rollout(model, clips[:, :5], steps=3).shape
    (4, 3, 32, 32, 1)
    """
    settings = _common.resolve_preset(
        "convlstm_predictor", PRESETS, preset, input_shape=input_shape, filters=filters, kernel_size=kernel_size
    )
    clip_shape = _common.check_clip_shape("convlstm_predictor", settings["input_shape"], unknown=("time",))
    kernel_size = settings["kernel_size"]

    frames = _common.clip_input(clip_shape)
    hidden = frames
    for index, layer_filters in enumerate(settings["filters"]):
        hidden = keras.layers.ConvLSTM2D(
            layer_filters, kernel_size, padding="same", return_sequences=True, name=f"convlstm{index}"
        )(hidden)
    next_frames = keras.layers.Conv3D(
        clip_shape[-1],
        (1, kernel_size, kernel_size),
        padding="same",
        activation="sigmoid",
        dtype="float32",
        name="next_frame",
    )(hidden)
    return keras.Model(frames, next_frames, name=name)


def rollout(model, context, steps):
    """Forecasts `steps` frames after `context`, feeding each prediction back.

    The context frames are read one at a time, carrying the ConvLSTM states;
    the prediction after the last context frame is the first forecast frame.
    It is then fed back as the next input, and so on, `steps` times. Each
    frame goes through the network once, so the cost grows linearly with
    `context` length + `steps`; the result equals running `model` on the
    growing clip `context + forecasts` and keeping its last prediction.

    Args:
        model: A model built by `convlstm_predictor` (a chain of `ConvLSTM2D`
            layers and per-frame layers).
        context: Array `(batch, time, height, width, channels)` of frames in
            `[0, 1]`, with at least one frame.
        steps: Number of frames to forecast, at least 1.

    Returns:
        NumPy float32 array `(batch, steps, height, width, channels)`.

    Example:

    >>> model = convlstm_predictor(preset="small")
    >>> context = np.random.rand(2, 10, 32, 32, 1).astype("float32")
    >>> rollout(model, context, steps=5).shape
    (2, 5, 32, 32, 1)
    """
    context = np.asarray(context)
    _validate_context(model, context)
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"rollout expects steps to be a positive integer; got {steps!r}.")

    live = streaming.stream(model, batch_size=context.shape[0])
    for frame in range(context.shape[1]):
        prediction = live.step(context[:, frame])
    forecasts = [prediction]
    for _ in range(steps - 1):
        forecasts.append(live.step(forecasts[-1]))
    return np.stack(forecasts, axis=1).astype("float32")


def _validate_context(model, context):
    frame_shape = tuple(model.input_shape[2:])
    if context.ndim != 5 or context.shape[1] < 1 or context.shape[2:] != frame_shape:
        raise ValueError(
            "rollout expects context of shape (batch, time, height, width, channels) = "
            f"(batch, time) + {frame_shape} with time >= 1; got {context.shape}."
        )
    if not np.issubdtype(context.dtype, np.floating):
        raise ValueError(
            f"rollout expects context frames as floats in [0, 1]; got dtype {context.dtype} "
            "(divide uint8 frames by 255)."
        )
