"""A causal 3D-convolutional classifier that runs on a live stream: C3D made causal, in the MoViNet manner.

C3D (Tran et al. 2015, https://arxiv.org/abs/1412.0767) with the two changes
that MoViNet's stream buffers rest on (Kondratyuk et al. 2021, "MoViNets: Mobile
Video Networks for Efficient Video Recognition", https://arxiv.org/abs/2103.11511):

* every 3D convolution is a `CausalConv3D`: all its temporal padding goes
  before the first frame, so frame ``t`` of every layer depends on input
  frames ``0..t`` only, and the pools never stride in time;
* global average pooling over time becomes a `CumulativeAverage` (a running
  mean of the per-frame features), and the clip's answer is the one at its
  last frame (`LastFrame`).

So `videokit.models.stream` runs the model one frame at a time with a buffer
of ``k_t - 1`` frames per convolution, and after frame ``t`` gives exactly what
the model gives offline on the clip's first ``t + 1`` frames. There is no
published causal C3D: the ``"paper"`` preset is C3D's published layout (input,
eight convolutions of 64 to 512 filters, fc of 4096 units, Sports-1M's 487
classes) under these two changes.
"""

import keras

from videokit.layers.causal_conv3d import CausalConv3D
from videokit.layers.cumulative_average import CumulativeAverage
from videokit.layers.last_frame import LastFrame
from videokit.models import _common

PRESETS = {
    "paper": {
        "input_shape": (16, 112, 112, 3),
        "num_classes": 487,
        "filters": (64, 128, 256, 256, 512, 512, 512, 512),
        "fc_units": 4096,
        "dropout": 0.5,
    },
    "small": {
        "input_shape": (8, 32, 32, 3),
        "num_classes": 8,
        "filters": (8, 16, 32, 32, 64, 64, 64, 64),
        "fc_units": 64,
        "dropout": 0.2,
    },
}

# (names of the convolutions, whether a 1x2x2 pool follows), as C3D's five blocks; no pool strides in time.
_BLOCKS = (
    (("conv1a",), True),
    (("conv2a",), True),
    (("conv3a", "conv3b"), True),
    (("conv4a", "conv4b"), True),
    (("conv5a", "conv5b"), False),
)
_MIN_PIXELS = 16


@_common.uses_presets(PRESETS)
@_common.with_args_doc(_common.HEAD_ARGS_DOC)
def causal_c3d(
    input_shape=None,
    num_classes=None,
    *,
    preset=None,
    classifier_activation="softmax",
    include_top=True,
    pooling=None,
    filters=None,
    fc_units=None,
    dropout=None,
    name="causal_c3d",
):
    """Build a causal C3D: a classifier that streams frame by frame.

    Eight ``3x3x3`` `CausalConv3D` layers (ReLU, He-uniform weights) in C3D's
    five blocks, the first four followed by a ``1x2x2`` max pooling (height
    and width halve, time never does); then per frame a global average over
    space, a running mean over the frames so far (`CumulativeAverage`), the
    last frame's mean (`LastFrame`), one fully connected layer with ReLU and
    dropout, and the classifier. Any number of frames goes in, and the output
    after ``t`` frames is the prediction from those frames only.

    Args:
        input_shape: tuple ``(time, height, width, channels)`` of one clip;
            time may be ``None`` (any length), height and width at least 16.
            Default from the preset: ``(16, 112, 112, 3)`` (paper) or
            ``(8, 32, 32, 3)`` (small).
        num_classes: int: 487 (paper, Sports-1M as C3D) or 8 (small).
        preset: ``None`` (the paper configuration) or ``"small"``;
            arguments given explicitly override it.
        filters: eight ints, the channels of conv1a ... conv5b.
        fc_units: int, width of the fully connected layer: 4096 or 64.
        dropout: float, dropout rate after it: 0.5 or 0.2.
        name: name of the model.

    Returns:
        A `keras.Model` from clips ``(batch, time, height, width, channels)``
        to class probabilities ``(batch, num_classes)`` at the clip's last
        frame; with ``include_top=False``, to conv5b's feature map
        ``(batch, time, height / 16, width / 16, filters[-1])``.

    Example:

    >>> model = causal_c3d(preset="small")
    >>> model.output_shape
    (None, 8)
    >>> live = stream(model)  # doctest: +SKIP
    >>> live.step(frame).shape  # doctest: +SKIP
    (1, 8)
    """
    settings = _common.resolve_preset(
        "causal_c3d", PRESETS, preset,
        input_shape=input_shape, num_classes=num_classes, filters=filters, fc_units=fc_units, dropout=dropout,
    )
    shape = _common.check_clip_shape(
        "causal_c3d", settings["input_shape"], unknown=("time",), min_size=_MIN_PIXELS,
        why="causal_c3d halves height and width 4 times",
    )
    _common.check_head("causal_c3d", include_top=include_top, pooling=pooling, num_classes=settings["num_classes"])
    conv_names = [conv for convs, _ in _BLOCKS for conv in convs]
    if len(tuple(settings["filters"])) != len(conv_names):
        raise ValueError(
            f"causal_c3d expects filters with {len(conv_names)} ints, one per convolution "
            f"{tuple(conv_names)}; got {settings['filters']!r}."
        )
    filters_by_conv = dict(zip(conv_names, settings["filters"]))

    clips = _common.clip_input(shape)
    x = clips
    for index, (convs, pooled) in enumerate(_BLOCKS, start=1):
        for conv in convs:
            x = CausalConv3D(filters_by_conv[conv], 3, activation="relu", kernel_initializer="he_uniform",
                             name=conv)(x)
        if pooled:
            x = keras.layers.MaxPooling3D((1, 2, 2), name=f"pool{index}")(x)

    def top(x):
        x = keras.layers.TimeDistributed(keras.layers.GlobalAveragePooling2D(), name="frame_features")(x)
        x = CumulativeAverage(name="running_mean")(x)
        x = LastFrame(name="last_frame")(x)
        x = keras.layers.Dense(settings["fc_units"], activation="relu", kernel_initializer="he_uniform",
                               name="fc6")(x)
        return keras.layers.Dropout(settings["dropout"], name="dropout6")(x)

    outputs = _common.classifier_head(
        x, top=top, include_top=include_top, pooling=pooling,
        num_classes=settings["num_classes"], classifier_activation=classifier_activation,
    )
    return keras.Model(clips, outputs, name=name)
