"""Time-fusion video classifiers of Karpathy et al. (CVPR 2014).

"Large-scale Video Classification with Convolutional Neural Networks" asks
*where* in a CNN the frames of a clip should meet:

* `single_frame`: never; one frame (the middle one) through a 2D CNN.
* `early_fusion`: at the pixels; a window of frames is stacked on the channel
  axis, so the first convolution sees all of them at once.
* `late_fusion`: at the first fully connected layer; two frames far apart go
  through the same 2D tower (shared weights) and only the classifier sees both.
* `slow_fusion`: gradually; 3D convolutions with a short temporal kernel and
  a temporal stride of 2, so every layer sees more time than the one below.
* `multi_level_fusion`: a 3D CNN whose features at several depths are pooled
  and concatenated, so the classifier sees low- and high-level features.

All builders share one convolution stage, the AlexNet-like layout of the
paper: `conv -> (BatchNorm) -> ReLU -> (max pool)`, with BatchNorm after the
first two convolutions, where the paper had local response normalisation,
and 2x2 max pooling after the first two and the last convolution.
"""

import keras

from videokit.models import _common

PRESETS = {
    # Trains in seconds on a CPU, e.g. on `videokit.data.moving_shapes(n, num_frames=8, size=32)`.
    "small": {
        "input_shape": (8, 32, 32, 3),
        "num_classes": 8,
        "filters": (16, 32, 64),
        "kernel_sizes": (5, 3, 3),
        "first_stride": 2,
        "dense_units": (64,),
        "dropout": 0.0,
    },
    # Karpathy et al. 2014 on Sports-1M: 10 frames of 170x170, 487 classes. Meant for a GPU.
    "paper": {
        "input_shape": (10, 170, 170, 3),
        "num_classes": 487,
        "filters": (96, 256, 384, 384, 256),
        "kernel_sizes": (11, 5, 3, 3, 3),
        "first_stride": 3,
        "dense_units": (4096, 4096),
        "dropout": 0.5,
    },
}

_NORMALIZED_STAGES = 2  # BatchNorm (the paper: LRN) and pooling after the first two convolutions.

_SHARED_ARGS_DOC = """\
        input_shape: the clip shape `(time, height, width, channels)`.
            Default from the preset: `(10, 170, 170, 3)` (paper) or
            `(8, 32, 32, 3)` (small).
        num_classes: number of output classes: 487 (paper, Sports-1M) or 8
            (small, as `videokit.data.moving_shapes`).
        preset: `None` (the paper configuration: the 96-256-384-384-256
            network with two 4096-unit layers and dropout 0.5, for a GPU) or
            `"small"` (16-32-64 filters, one 64-unit hidden layer: trains in
            seconds on a CPU). Arguments given explicitly override the preset.
        filters: output channels of each convolution, e.g. `(16, 32, 64)`.
        kernel_sizes: spatial kernel size of each convolution, as many as
            `filters`.
        first_stride: spatial stride of the first convolution.
        dense_units: units of each hidden fully connected layer.
        dropout: dropout rate after each hidden fully connected layer.
        name: name of the model.
""" + _common.HEAD_ARGS_DOC

_with_shared_args_doc = _common.with_args_doc(_SHARED_ARGS_DOC)
_PRESET_ARGUMENTS = tuple(PRESETS["paper"])
_HEAD_ARGUMENTS = ("include_top", "pooling", "classifier_activation")


def _start(model, arguments, min_frames):
    """Settings, clip input and head switches of a builder, from its arguments (its `locals()`).

    The preset's values are replaced by the arguments given (see
    `videokit.models._common.resolve_preset`); the clip shape and the head
    switches are checked.
    """
    settings = _common.resolve_preset(
        model, PRESETS, arguments["preset"], **{key: arguments[key] for key in _PRESET_ARGUMENTS}
    )
    for key in ("filters", "kernel_sizes", "dense_units"):
        settings[key] = tuple(settings[key])
    if not settings["filters"] or len(settings["filters"]) != len(settings["kernel_sizes"]):
        raise ValueError(
            f"{model} expects filters and kernel_sizes non-empty and of the same length; "
            f"got filters={settings['filters']} and kernel_sizes={settings['kernel_sizes']}."
        )
    head = {key: arguments[key] for key in _HEAD_ARGUMENTS}
    _common.check_head(model, include_top=head["include_top"], pooling=head["pooling"], num_classes=settings["num_classes"])
    shape = _common.check_clip_shape(model, settings["input_shape"], min_frames=min_frames)
    return settings, _common.clip_input(shape), head


def _finish(clip, features, settings, head, name):
    """The model: `features`, then Flatten and the hidden fully connected layers, then the classifier."""

    def top(x):
        x = x if len(x.shape) == 2 else keras.layers.Flatten(name="flatten")(x)
        for number, units in enumerate(settings["dense_units"], start=1):
            x = keras.layers.Dense(units, activation="relu", name=f"fc{number}")(x)
            if settings["dropout"]:
                x = keras.layers.Dropout(settings["dropout"], name=f"dropout{number}")(x)
        return x

    outputs = _common.classifier_head(features, top=top, num_classes=settings["num_classes"], **head)
    return keras.Model(clip, outputs, name=name)


def _conv_stage(x, index, settings, temporal_kernel=1, temporal_stride=1):
    """One stage: conv -> (BatchNorm) -> ReLU -> (max pool), 2D or 3D by the rank of `x`."""
    stage = index + 1
    filters = settings["filters"][index]
    kernel = settings["kernel_sizes"][index]
    stride = settings["first_stride"] if index == 0 else 1
    normalized = index < _NORMALIZED_STAGES
    if len(x.shape) == 5:
        x = keras.layers.Conv3D(
            filters,
            (temporal_kernel, kernel, kernel),
            strides=(temporal_stride, stride, stride),
            padding="same",
            use_bias=not normalized,
            name=f"conv{stage}",
        )(x)
        pool = keras.layers.MaxPooling3D((1, 2, 2), padding="same", name=f"pool{stage}")
    else:
        x = keras.layers.Conv2D(
            filters,
            kernel,
            strides=stride,
            padding="same",
            use_bias=not normalized,
            name=f"conv{stage}",
        )(x)
        pool = keras.layers.MaxPooling2D(2, padding="same", name=f"pool{stage}")
    if normalized:
        x = keras.layers.BatchNormalization(name=f"norm{stage}")(x)
    x = keras.layers.ReLU(name=f"relu{stage}")(x)
    if normalized or index == len(settings["filters"]) - 1:
        x = pool(x)
    return x


def _frame_tower(frame, settings):
    """The 2D CNN of the paper's single-frame model, on `(batch, height, width, channels)`."""
    for index in range(len(settings["filters"])):
        frame = _conv_stage(frame, index, settings)
    return frame


def _frame(clip, index, name):
    """Frame `index` of a clip `(batch, time, height, width, channels)`, without the time axis."""
    time = clip.shape[1]
    cropping = ((index, time - index - 1), (0, 0), (0, 0))
    frame = keras.layers.Cropping3D(cropping, name=f"{name}_crop")(clip)
    return _squeeze_time(frame, name)


def _squeeze_time(x, name):
    return keras.layers.Reshape(tuple(x.shape[2:]), name=name)(x)


@_common.uses_presets(PRESETS)
@_with_shared_args_doc
def single_frame(
    input_shape=None,
    num_classes=None,
    *,
    preset=None,
    classifier_activation="softmax",
    include_top=True,
    pooling=None,
    filters=None,
    kernel_sizes=None,
    first_stride=None,
    dense_units=None,
    dropout=None,
    name="single_frame",
):
    """Single-frame baseline: the middle frame of the clip through a 2D CNN.

    The reference point of Karpathy et al. (2014): how far does appearance
    alone go? Time is ignored entirely.

    Args:

    Returns:
        A `keras.Model` from clips `(batch, time, height, width, channels)` to
        class scores `(batch, num_classes)`.

    Example:

    >>> model = single_frame((16, 64, 64, 3), num_classes=5, preset="small")
    >>> model.output_shape
    (None, 5)
    """
    settings, clip, head = _start("single_frame", locals(), min_frames=1)
    middle = _frame(clip, clip.shape[1] // 2, "middle_frame")
    return _finish(clip, _frame_tower(middle, settings), settings, head, name)


@_common.uses_presets(PRESETS)
@_with_shared_args_doc
def early_fusion(
    input_shape=None,
    num_classes=None,
    *,
    preset=None,
    classifier_activation="softmax",
    include_top=True,
    pooling=None,
    window=None,
    filters=None,
    kernel_sizes=None,
    first_stride=None,
    dense_units=None,
    dropout=None,
    name="early_fusion",
):
    """Early fusion: a window of frames stacked on channels before the first layer.

    The `window` middle frames are put side by side on the channel axis,
    `(height, width, window * channels)`, and go through the 2D CNN. The
    first convolution is therefore a 3D convolution whose temporal kernel
    spans the whole window with 'valid' padding in time
    (`11 x 11 x 3 x 10` in the paper): it combines pixels of all frames at
    once, so it can detect local motion direction and speed.

    Args:
        window: number of consecutive (middle) frames fused; defaults to all
            `time` frames of the clip (the paper uses 10).

    Returns:
        A `keras.Model` from clips `(batch, time, height, width, channels)` to
        class scores `(batch, num_classes)`.

    Example:

    >>> model = early_fusion((10, 64, 64, 3), num_classes=5, preset="small")
    >>> tuple(model.get_layer("conv1").kernel.shape)  # 10 frames x 3 colours in
    (5, 5, 30, 16)
    """
    settings, clip, head = _start("early_fusion", locals(), min_frames=2)
    time, height, width, channels = clip.shape[1:]
    window = window or time
    if not 2 <= window <= time:
        raise ValueError(
            f"early_fusion expects 2 <= window <= time of input_shape=(time, height, width, "
            f"channels); got window={window} and input_shape={clip.shape[1:]}."
        )
    start = (time - window) // 2
    frames = keras.layers.Cropping3D(
        ((start, time - window - start), (0, 0), (0, 0)), name="window_crop"
    )(clip)
    frames = keras.layers.Permute((2, 3, 1, 4), name="frames_last")(frames)
    stacked = keras.layers.Reshape((height, width, window * channels), name="frames_on_channels")(
        frames
    )
    return _finish(clip, _frame_tower(stacked, settings), settings, head, name)


@_common.uses_presets(PRESETS)
@_with_shared_args_doc
def late_fusion(
    input_shape=None,
    num_classes=None,
    *,
    preset=None,
    classifier_activation="softmax",
    include_top=True,
    pooling=None,
    filters=None,
    kernel_sizes=None,
    first_stride=None,
    dense_units=None,
    dropout=None,
    name="late_fusion",
):
    """Late fusion: two frames far apart through one shared 2D tower, merged at the first FC layer.

    The first and last frames of the clip (15 frames apart for a 16-frame
    clip, as in the paper) go through the same `frame_tower` (a nested
    model, so the weights are shared); their flattened features are
    concatenated and only the first fully connected layer combines them. No
    convolution sees motion, but the classifier can compare two moments.

    Args:

    Returns:
        A `keras.Model` from clips `(batch, time, height, width, channels)` to
        class scores `(batch, num_classes)`.

    Example:

    >>> model = late_fusion((16, 64, 64, 3), num_classes=5, preset="small")
    >>> model.get_layer("frame_tower").output_shape
    (None, 4, 4, 64)
    """
    settings, clip, head = _start("late_fusion", locals(), min_frames=2)
    frame = keras.Input(clip.shape[2:], name="frame")
    tower = keras.Model(frame, _frame_tower(frame, settings), name="frame_tower")
    first = keras.layers.Flatten(name="first_features")(tower(_frame(clip, 0, "first_frame")))
    last_index = clip.shape[1] - 1
    last = keras.layers.Flatten(name="last_features")(tower(_frame(clip, last_index, "last_frame")))
    features = keras.layers.Concatenate(name="late_fusion")([first, last])
    return _finish(clip, features, settings, head, name)


@_common.uses_presets(PRESETS)
@_with_shared_args_doc
def slow_fusion(
    input_shape=None,
    num_classes=None,
    *,
    preset=None,
    classifier_activation="softmax",
    include_top=True,
    pooling=None,
    temporal_kernel_sizes=(4, 2),
    temporal_stride=2,
    filters=None,
    kernel_sizes=None,
    first_stride=None,
    dense_units=None,
    dropout=None,
    name="slow_fusion",
):
    """Slow fusion: 3D convolutions whose temporal extent grows through the network.

    Each convolution has a short temporal kernel (`temporal_kernel_sizes`:
    4 for the first layer, then 2, the last entry repeating) and a temporal
    stride of 2, so time is halved at every layer until one step is left;
    the remaining layers are 2D. The temporal receptive field grows from 4
    frames at the first layer to 6, 10, 18, ... frames above: low layers see
    local motion, high layers the whole clip. 'same' padding in time keeps
    every frame for any clip length (the paper used 'valid' padding on
    exactly 10 frames: 4, then 2, then 1 time steps).

    Args:
        temporal_kernel_sizes: temporal kernel of the first, second, ...
            convolution; the last entry is used for all deeper layers.
        temporal_stride: temporal stride of the convolutions that fuse time.

    Returns:
        A `keras.Model` from clips `(batch, time, height, width, channels)` to
        class scores `(batch, num_classes)`.

    Example:

    >>> model = slow_fusion((8, 64, 64, 3), num_classes=5, preset="small")
    >>> [model.get_layer(f"conv{n}").output.shape[1] for n in (1, 2)]  # time steps
    [4, 2]
    """
    settings, clip, head = _start("slow_fusion", locals(), min_frames=2)
    temporal_kernel_sizes = tuple(temporal_kernel_sizes)
    if not temporal_kernel_sizes or temporal_stride < 1:
        raise ValueError(
            "slow_fusion expects at least one temporal kernel size and temporal_stride >= 1; "
            f"got temporal_kernel_sizes={temporal_kernel_sizes} and "
            f"temporal_stride={temporal_stride}."
        )
    x = clip
    for index in range(len(settings["filters"])):
        if len(x.shape) == 5 and x.shape[1] == 1:
            x = _squeeze_time(x, f"time_fused{index}")
        if len(x.shape) == 5:
            temporal_kernel = temporal_kernel_sizes[min(index, len(temporal_kernel_sizes) - 1)]
            x = _conv_stage(x, index, settings, temporal_kernel, temporal_stride)
        else:
            x = _conv_stage(x, index, settings)
    return _finish(clip, x, settings, head, name)


@_common.uses_presets(PRESETS)
@_with_shared_args_doc
def multi_level_fusion(
    input_shape=None,
    num_classes=None,
    *,
    preset=None,
    classifier_activation="softmax",
    include_top=True,
    pooling=None,
    temporal_kernel_size=3,
    filters=None,
    kernel_sizes=None,
    first_stride=None,
    dense_units=None,
    dropout=None,
    name="multi_level_fusion",
):
    """Multi-level fusion: pooled features from every depth of a 3D CNN, concatenated.

    A 3D CNN (kernels `temporal_kernel_size x k x k`, 'same' padding) whose
    output after every stage is averaged over time and space; the vectors
    of all stages are concatenated before the classifier, so it sees edges
    and motion from the lowest layer next to the abstract features of the
    last one (the idea behind feature-pyramid and skip-connection heads).

    Args:
        temporal_kernel_size: temporal size of every 3D kernel.

    Returns:
        A `keras.Model` from clips `(batch, time, height, width, channels)` to
        class scores `(batch, num_classes)`.

    Example:

    >>> model = multi_level_fusion((8, 64, 64, 3), num_classes=5, preset="small")
    >>> model.get_layer("multi_level_fusion").output.shape  # 16 + 32 + 64
    (None, 112)
    """
    settings, clip, head = _start("multi_level_fusion", locals(), min_frames=1)
    x = clip
    pooled = []
    for index in range(len(settings["filters"])):
        x = _conv_stage(x, index, settings, temporal_kernel_size)
        pooled.append(keras.layers.GlobalAveragePooling3D(name=f"level{index + 1}_pool")(x))
    features = keras.layers.Concatenate(name="multi_level_fusion")(pooled)
    return _finish(clip, features, settings, head, name)
