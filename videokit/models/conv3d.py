"""3D convolutional video classifiers: C3D, R3D and R(2+1)D.

* `c3d`: Tran et al. 2015, "Learning Spatiotemporal Features with 3D
  Convolutional Networks" (https://arxiv.org/abs/1412.0767).
* `r3d` and `r2plus1d`: the 18-layer video ResNets of Tran et al. 2018, "A
  Closer Look at Spatiotemporal Convolutions for Action Recognition"
  (https://arxiv.org/abs/1711.11248). Both share one ResNet skeleton and differ
  only in the convolution: full ``3x3x3`` (`r3d`) or (2+1)D (`r2plus1d`).

Every builder has two presets: ``"paper"`` (the published configuration, the
default) and ``"small"`` (``8x32x32`` clips, few filters, 8 classes like
`videokit.data.moving_shapes`), which trains in seconds on a CPU. Explicit
arguments override the preset.
"""

import keras

from videokit.layers.conv2plus1d import Conv2Plus1D
from videokit.models import _common

C3D_PRESETS = {
    # Sports-1M, as published: 79,991,015 parameters.
    "paper": {
        "input_shape": (16, 112, 112, 3),
        "num_classes": 487,
        "filters": (64, 128, 256, 256, 512, 512, 512, 512),
        "fc_units": 4096,
        "dropout": 0.5,
    },
    # Trains in seconds on a CPU, e.g. on `videokit.data.moving_shapes(n, num_frames=8, size=32)`.
    "small": {
        "input_shape": (8, 32, 32, 3),
        "num_classes": 8,
        "filters": (8, 16, 32, 32, 64, 64, 64, 64),
        "fc_units": 128,
        "dropout": 0.2,
    },
}

RESNET_PRESETS = {
    # Kinetics-400, as published (torchvision's r3d_18 and r2plus1d_18 layout).
    "paper": {
        "input_shape": (16, 112, 112, 3),
        "num_classes": 400,
        "stem_filters": 64,
        "stage_filters": (64, 128, 256, 512),
        "blocks_per_stage": (2, 2, 2, 2),
    },
    # Trains in seconds on a CPU.
    "small": {
        "input_shape": (8, 32, 32, 3),
        "num_classes": 8,
        "stem_filters": 8,
        "stage_filters": (8, 16, 32, 64),
        "blocks_per_stage": (2, 2, 2, 2),
    },
}

# C3D: (name of the convolutions, pool size) per block; pool5 pads like Caffe.
_C3D_BLOCKS = (
    (("conv1a",), (1, 2, 2)),
    (("conv2a",), (2, 2, 2)),
    (("conv3a", "conv3b"), (2, 2, 2)),
    (("conv4a", "conv4b"), (2, 2, 2)),
    (("conv5a", "conv5b"), (2, 2, 2)),
)
_C3D_MIN_FRAMES = 8
_C3D_MIN_PIXELS = 16


@_common.uses_presets(C3D_PRESETS)
@_common.with_args_doc(_common.HEAD_ARGS_DOC)
def c3d(
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
    name="c3d",
):
    """Build C3D (Tran et al. 2015), a VGG-style network of 3x3x3 convolutions.

    Eight ``3x3x3`` convolutions (stride 1, `"same"` padding, ReLU) in five
    blocks, each followed by a max pooling: pool1 is ``1x2x2`` (it keeps time
    at first), pools 2-5 are ``2x2x2``. Like the original Caffe net, pool5
    pads the bottom and right, so a ``16x112x112`` clip ends in a ``1x4x4x512``
    map, i.e. 8192 features. Then two fully connected layers fc6, fc7 with ReLU
    and dropout and a softmax classifier. Convolutions and fc6, fc7 start from
    He-uniform weights: with Keras's default Glorot initialisation the signal
    fades through the eight ReLU convolutions and the small preset barely trains. The paper configuration on Sports-1M
    (487 classes) has 79,991,015 parameters: 27,655,936 in the convolutions
    and 52,335,079 in the fully connected layers.

    Args:
        input_shape: tuple ``(time, height, width, channels)`` of one clip;
            time at least 8, height and width at least 16.
            Default from the preset: ``(16, 112, 112, 3)`` (paper) or
            ``(8, 32, 32, 3)`` (small).
        num_classes: int, number of classes. Default from the preset: 487
            (Sports-1M, paper) or 8 (small, as `videokit.data.moving_shapes`).
        preset: ``None`` (the paper configuration) or ``"small"``;
            arguments given explicitly override it.
        filters: tuple of eight ints, the channels of conv1a ... conv5b.
            Default from the preset: ``(64, 128, 256, 256, 512, 512, 512, 512)``
            or ``(8, 16, 32, 32, 64, 64, 64, 64)``.
        fc_units: int, width of fc6 and fc7: 4096 (paper) or 128 (small).
        dropout: float, dropout rate after fc6 and fc7: 0.5 (paper) or 0.2
            (small, whose 128 units learn too slowly with 0.5).
        name: name of the model.

    Returns:
        A `keras.Model` mapping clips ``(batch, time, height, width, channels)``
        (pixel values as they come, e.g. floats in ``[0, 1]``) to class
        probabilities ``(batch, num_classes)`` in float32; with
        ``include_top=False``, to pool5's features.

    Example:

    >>> model = c3d(preset="small")
    >>> model.output_shape
    (None, 8)
    >>> c3d(num_classes=487).count_params()
    79991015
    """
    settings = _common.resolve_preset(
        "c3d", C3D_PRESETS, preset,
        input_shape=input_shape, num_classes=num_classes, filters=filters, fc_units=fc_units, dropout=dropout,
    )
    shape = _common.check_clip_shape(
        "c3d", settings["input_shape"], min_frames=_C3D_MIN_FRAMES, min_size=_C3D_MIN_PIXELS,
        why="c3d halves time 3 times and height and width 4 times before pool5",
    )
    _common.check_head("c3d", include_top=include_top, pooling=pooling, num_classes=settings["num_classes"])
    conv_filters = tuple(settings["filters"])
    conv_names = [conv for convs, _ in _C3D_BLOCKS for conv in convs]
    if len(conv_filters) != len(conv_names):
        raise ValueError(
            f"c3d expects filters with {len(conv_names)} ints, one per convolution "
            f"{tuple(conv_names)}; got {settings['filters']!r}."
        )

    inputs = _common.clip_input(shape)
    x = inputs
    filters_by_conv = dict(zip(conv_names, conv_filters))
    for index, (convs, pool_size) in enumerate(_C3D_BLOCKS, start=1):
        for conv in convs:
            x = keras.layers.Conv3D(
                filters_by_conv[conv],
                3,
                padding="same",
                activation="relu",
                kernel_initializer="he_uniform",
                name=conv,
            )(x)
        last = index == len(_C3D_BLOCKS)
        x = keras.layers.MaxPooling3D(
            pool_size, padding="same" if last else "valid", name=f"pool{index}"
        )(x)

    def top(x):
        x = keras.layers.Flatten(name="flatten")(x)
        for layer in ("fc6", "fc7"):
            x = keras.layers.Dense(
                settings["fc_units"], activation="relu", kernel_initializer="he_uniform", name=layer
            )(x)
            x = keras.layers.Dropout(settings["dropout"], name=f"dropout{layer[-1]}")(x)
        return x

    outputs = _common.classifier_head(
        x, top=top, include_top=include_top, pooling=pooling,
        num_classes=settings["num_classes"], classifier_activation=classifier_activation,
    )
    return keras.Model(inputs, outputs, name=name)


def _conv3d_factory(filters, kernel_size, strides, name):
    return keras.layers.Conv3D(
        filters, kernel_size, strides=strides, padding="same", use_bias=False, name=name
    )


def _conv2plus1d_factory(filters, kernel_size, strides, name):
    return Conv2Plus1D(filters, kernel_size, strides=strides, use_bias=False, name=name)


def _batch_norm_relu(x, name, relu=True):
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _residual_block(x, filters, strides, conv_factory, name):
    """Basic ResNet block: conv-BN-ReLU-conv-BN, plus a (projected) shortcut, ReLU."""
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = keras.layers.Conv3D(
            filters, 1, strides=strides, use_bias=False, name=f"{name}_shortcut"
        )(x)
        shortcut = keras.layers.BatchNormalization(name=f"{name}_shortcut_bn")(shortcut)
    x = conv_factory(filters, (3, 3, 3), strides, f"{name}_conv1")(x)
    x = _batch_norm_relu(x, f"{name}_conv1")
    x = conv_factory(filters, (3, 3, 3), 1, f"{name}_conv2")(x)
    x = _batch_norm_relu(x, f"{name}_conv2", relu=False)
    x = keras.layers.Add(name=f"{name}_add")([x, shortcut])
    return keras.layers.ReLU(name=f"{name}_out")(x)


def _video_resnet(conv_factory, model_name, preset, head, name, **arguments):
    """The ResNet-18-style skeleton shared by `r3d` and `r2plus1d`.

    ``conv_factory(filters, kernel_size, strides, name)`` returns the layer
    used for the ``3x7x7`` stem and for every ``3x3x3`` convolution of the
    residual blocks; it is the only difference between the two models.
    ``head`` holds the `_common.classifier_head` switches.
    """
    settings = _common.resolve_preset(model_name, RESNET_PRESETS, preset, **arguments)
    shape = _common.check_clip_shape(model_name, settings["input_shape"], unknown=("time", "height", "width"))
    _common.check_head(model_name, include_top=head["include_top"], pooling=head["pooling"],
               num_classes=settings["num_classes"])
    stage_filters = tuple(settings["stage_filters"])
    blocks_per_stage = tuple(settings["blocks_per_stage"])
    if len(stage_filters) != len(blocks_per_stage):
        raise ValueError(
            f"{model_name} expects one number of blocks per stage; got stage_filters="
            f"{stage_filters} and blocks_per_stage={blocks_per_stage}."
        )

    inputs = _common.clip_input(shape)
    x = conv_factory(settings["stem_filters"], (3, 7, 7), (1, 2, 2), "stem_conv")(inputs)
    x = _batch_norm_relu(x, "stem")
    for stage, (filters, blocks) in enumerate(zip(stage_filters, blocks_per_stage), start=1):
        for block in range(1, blocks + 1):
            strides = 2 if stage > 1 and block == 1 else 1
            x = _residual_block(x, filters, strides, conv_factory, f"stage{stage}_block{block}")
    outputs = _common.classifier_head(
        x, top=keras.layers.GlobalAveragePooling3D(name="avg_pool"), num_classes=settings["num_classes"], **head
    )
    return keras.Model(inputs, outputs, name=name)


_RESNET_ARGS_DOC = """        input_shape: tuple ``(time, height, width, channels)`` of one clip
            (time, height and width may be ``None``). Default from the preset:
            ``(16, 112, 112, 3)`` (paper) or ``(8, 32, 32, 3)`` (small).
        num_classes: int. Default from the preset: 400 (Kinetics-400, paper)
            or 8 (small, as `videokit.data.moving_shapes`).
        preset: ``None`` (the paper configuration) or ``"small"``; arguments
            given explicitly override it.
        stem_filters: int, channels of the stem: 64 (paper) or 8 (small).
        stage_filters: tuple of ints, channels of each stage:
            ``(64, 128, 256, 512)`` (paper) or ``(8, 16, 32, 64)`` (small).
        blocks_per_stage: tuple of ints, residual blocks in each stage:
            ``(2, 2, 2, 2)`` in both presets.
        name: name of the model.
""" + _common.HEAD_ARGS_DOC


@_common.uses_presets(RESNET_PRESETS)
@_common.with_args_doc(_RESNET_ARGS_DOC)
def r3d(
    input_shape=None,
    num_classes=None,
    *,
    preset=None,
    classifier_activation="softmax",
    include_top=True,
    pooling=None,
    stem_filters=None,
    stage_filters=None,
    blocks_per_stage=None,
    name="r3d",
):
    """Build R3D-18, the 18-layer video ResNet of full 3D convolutions.

    The baseline of Tran et al. 2018: a stem convolution with a ``3x7x7``
    kernel and strides ``(1, 2, 2)``, then four stages of two basic residual
    blocks (two ``3x3x3`` `Conv3D` with batch normalization, added to the
    input or to a ``1x1x1`` projection when the shape changes); the first
    block of stages 2-4 halves time, height and width. Global average pooling
    and a softmax classifier follow. The paper configuration has 33,371,472
    trainable parameters, as torchvision's ``r3d_18``.

    Args:

    Returns:
        A `keras.Model` mapping clips ``(batch, time, height, width, channels)``
        to class probabilities ``(batch, num_classes)`` in float32; with
        ``include_top=False``, to the last stage's features.

    Example:

    >>> model = r3d(preset="small")
    >>> model.output_shape
    (None, 8)
    """
    head = {"include_top": include_top, "pooling": pooling, "classifier_activation": classifier_activation}
    return _video_resnet(
        _conv3d_factory, "r3d", preset, head, name, input_shape=input_shape, num_classes=num_classes,
        stem_filters=stem_filters, stage_filters=stage_filters, blocks_per_stage=blocks_per_stage,
    )


@_common.uses_presets(RESNET_PRESETS)
@_common.with_args_doc(_RESNET_ARGS_DOC)
def r2plus1d(
    input_shape=None,
    num_classes=None,
    *,
    preset=None,
    classifier_activation="softmax",
    include_top=True,
    pooling=None,
    stem_filters=None,
    stage_filters=None,
    blocks_per_stage=None,
    name="r2plus1d",
):
    """Build R(2+1)D-18, the 18-layer video ResNet of (2+1)D convolutions.

    The network of `r3d` (Tran et al. 2018) with every 3D convolution, stem
    included, replaced by a `videokit.layers.Conv2Plus1D`: a spatial
    ``1 x d x d`` convolution, batch normalization, ReLU and a temporal
    ``t x 1 x 1`` convolution, whose intermediate channels
    (`videokit.layers.conv2plus1d.intermediate_channels`) keep the weight
    count of the 3D convolution while doubling the nonlinearities.
    (torchvision's ``r2plus1d_18`` fixes the stem's intermediate channels to
    45 instead.)

    Args:

    Returns:
        A `keras.Model` mapping clips ``(batch, time, height, width, channels)``
        to class probabilities ``(batch, num_classes)`` in float32; with
        ``include_top=False``, to the last stage's features.

    Example:

    >>> model = r2plus1d(preset="small")
    >>> model.output_shape
    (None, 8)
    """
    head = {"include_top": include_top, "pooling": pooling, "classifier_activation": classifier_activation}
    return _video_resnet(
        _conv2plus1d_factory, "r2plus1d", preset, head, name, input_shape=input_shape, num_classes=num_classes,
        stem_filters=stem_filters, stage_filters=stage_filters, blocks_per_stage=blocks_per_stage,
    )
