"""3D convolutional video classifiers: C3D, R3D, MC3 and R(2+1)D.

* `c3d`: Tran et al. 2015, "Learning Spatiotemporal Features with 3D
  Convolutional Networks" (https://arxiv.org/abs/1412.0767).
* `r3d`, `mc3` and `r2plus1d`: the 18-layer video ResNets of Tran et al. 2018,
  "A Closer Look at Spatiotemporal Convolutions for Action Recognition"
  (https://arxiv.org/abs/1711.11248). They share one ResNet skeleton and differ
  only in the convolution: full ``3x3x3`` (`r3d`), ``3x3x3`` in the stem and
  first stage and ``1x3x3`` above (`mc3`), or (2+1)D (`r2plus1d`).

Every builder has two presets: ``"paper"`` (the published configuration, the
default) and ``"small"`` (``8x32x32`` clips, few filters, 8 classes like
`videokit.data.moving_shapes`), which trains in seconds on a CPU. The video
ResNets have a third, ``"torchvision"``: the paper network computed exactly as
torchvision's ``r3d_18``, ``mc3_18`` and ``r2plus1d_18`` compute it, which
`videokit.weights.import_weights` fills with their Kinetics-400 weights.
Explicit arguments override the preset.
"""

import keras

from videokit.layers.conv2plus1d import Conv2Plus1D, intermediate_channels
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

# Kinetics-400's pixel statistics, which torchvision's video models were trained to see
# (torchvision.transforms' video presets normalise by them; here they are the model's first step).
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)

_RESNET_PAPER = {
    "input_shape": (16, 112, 112, 3),
    "num_classes": 400,
    "stem_filters": 64,
    "stage_filters": (64, 128, 256, 512),
    "blocks_per_stage": (2, 2, 2, 2),
    "padding": "same",
    "batch_norm_epsilon": 1e-3,
    "batch_norm_momentum": 0.99,
    "input_mean": None,
    "input_std": None,
}

RESNET_PRESETS = {
    # Kinetics-400, as published (torchvision's r3d_18 and r2plus1d_18 layout).
    "paper": _RESNET_PAPER,
    # Trains in seconds on a CPU.
    "small": {
        **_RESNET_PAPER,
        "input_shape": (8, 32, 32, 3),
        "num_classes": 8,
        "stem_filters": 8,
        "stage_filters": (8, 16, 32, 64),
    },
    # The paper network exactly as torchvision computes it, for its Kinetics-400 weights
    # (`videokit.weights.torchvision_video`): PyTorch's padding and batch normalization, and
    # Kinetics' mean and standard deviation taken out of the pixels as the first step.
    "torchvision": {
        **_RESNET_PAPER,
        "padding": "symmetric",
        "batch_norm_epsilon": 1e-5,
        "batch_norm_momentum": 0.9,
        "input_mean": KINETICS_MEAN,
        "input_std": KINETICS_STD,
    },
}

# R(2+1)D also chooses M, the channels between each (2+1)D convolution's spatial and temporal half.
R2PLUS1D_PRESETS = {
    name: {**settings, "intermediate_filters": "per_conv", "stem_intermediate_filters": None}
    for name, settings in RESNET_PRESETS.items()
}
# torchvision (after Facebook's VMZ code) uses one M per residual block, that of its first
# convolution, and 45 in the stem.
R2PLUS1D_PRESETS["torchvision"].update(intermediate_filters="per_block", stem_intermediate_filters=45)

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


PADDINGS = ("same", "symmetric")
INTERMEDIATE_FILTERS = ("per_conv", "per_block")

# What a residual stage convolves with: full 3x3x3 ("3d"), 1x3x3 in space only ("2d", which
# then strides in space only), or a (2+1)D convolution ("2plus1d").
_STAGE_KERNELS = {"3d": (3, 3, 3), "2d": (1, 3, 3), "2plus1d": (3, 3, 3)}


def _strides(kind, stride):
    return (1, stride, stride) if kind == "2d" else (stride, stride, stride)


def _conv3d(x, filters, kernel_size, strides, settings, name):
    """A bias-free `Conv3D`; with ``padding="symmetric"``, after PyTorch's ``kernel_size // 2`` zeros per side."""
    padding = settings["padding"]
    if padding == "symmetric":
        pads = tuple((size // 2, size // 2) for size in kernel_size)
        if any(before for before, _ in pads):
            x = keras.layers.ZeroPadding3D(pads, name=f"{name}_pad")(x)
        padding = "valid"
    return keras.layers.Conv3D(filters, kernel_size, strides=strides, padding=padding, use_bias=False, name=name)(x)


def _conv2plus1d(x, filters, kernel_size, strides, settings, name, intermediate_filters=None):
    return Conv2Plus1D(
        filters, kernel_size, strides=strides, padding=settings["padding"],
        intermediate_filters=intermediate_filters, use_bias=False,
        batch_norm_epsilon=settings["batch_norm_epsilon"], batch_norm_momentum=settings["batch_norm_momentum"],
        name=name,
    )(x)


def _batch_norm_relu(x, name, settings, relu=True):
    x = keras.layers.BatchNormalization(
        epsilon=settings["batch_norm_epsilon"], momentum=settings["batch_norm_momentum"], name=f"{name}_bn"
    )(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _block_conv(x, kind, filters, stride, settings, name, block_inputs):
    if kind != "2plus1d":
        return _conv3d(x, filters, _STAGE_KERNELS[kind], _strides(kind, stride), settings, name)
    middle = None  # per_conv: each convolution's own M, from its own input channels
    if settings["intermediate_filters"] == "per_block":
        middle = intermediate_channels((3, 3, 3), block_inputs, filters)
    return _conv2plus1d(x, filters, (3, 3, 3), stride, settings, name, middle)


def _residual_block(x, kind, filters, stride, settings, name):
    """Basic ResNet block: conv-BN-ReLU-conv-BN, plus a (projected) shortcut, ReLU."""
    shortcut = x
    block_inputs = x.shape[-1]
    if stride != 1 or block_inputs != filters:
        shortcut = keras.layers.Conv3D(
            filters, 1, strides=_strides(kind, stride), use_bias=False, name=f"{name}_shortcut"
        )(x)
        shortcut = keras.layers.BatchNormalization(
            epsilon=settings["batch_norm_epsilon"], momentum=settings["batch_norm_momentum"],
            name=f"{name}_shortcut_bn",
        )(shortcut)
    x = _block_conv(x, kind, filters, stride, settings, f"{name}_conv1", block_inputs)
    x = _batch_norm_relu(x, f"{name}_conv1", settings)
    x = _block_conv(x, kind, filters, 1, settings, f"{name}_conv2", block_inputs)
    x = _batch_norm_relu(x, f"{name}_conv2", settings, relu=False)
    x = keras.layers.Add(name=f"{name}_add")([x, shortcut])
    return keras.layers.ReLU(name=f"{name}_out")(x)


def _check_resnet_settings(model_name, settings, channels):
    if settings["padding"] not in PADDINGS:
        raise ValueError(f"{model_name} expects padding to be one of {PADDINGS}; got {settings['padding']!r}.")
    if settings.get("intermediate_filters", "per_conv") not in INTERMEDIATE_FILTERS:
        raise ValueError(
            f"{model_name} expects intermediate_filters to be one of {INTERMEDIATE_FILTERS}; "
            f"got {settings['intermediate_filters']!r}."
        )
    mean, std = settings["input_mean"], settings["input_std"]
    if (mean is None) != (std is None):
        raise ValueError(
            f"{model_name} expects input_mean and input_std together (or neither); got input_mean={mean!r}, "
            f"input_std={std!r}."
        )
    if mean is not None and (len(mean) != channels or len(std) != channels or min(std) <= 0):
        raise ValueError(
            f"{model_name} expects input_mean and input_std with one value per channel ({channels}), the "
            f"standard deviations positive; got input_mean={mean!r}, input_std={std!r}."
        )


def _video_resnet(model_name, presets, preset, head, name, *, stem, stage_kinds, **arguments):
    """The ResNet-18-style skeleton shared by `r3d`, `mc3` and `r2plus1d`.

    ``stem`` is ``"3d"`` (a ``3x7x7`` `Conv3D`) or ``"2plus1d"`` (its
    `Conv2Plus1D`); ``stage_kinds`` names the convolution of the first
    residual stages (keys of `_STAGE_KERNELS`), the last one repeated for
    the stages above. ``head`` holds the `_common.classifier_head` switches.
    """
    settings = _common.resolve_preset(model_name, presets, preset, **arguments)
    shape = _common.check_clip_shape(model_name, settings["input_shape"], unknown=("time", "height", "width"))
    _common.check_head(model_name, include_top=head["include_top"], pooling=head["pooling"],
               num_classes=settings["num_classes"])
    _check_resnet_settings(model_name, settings, shape[-1])
    stage_filters = tuple(settings["stage_filters"])
    blocks_per_stage = tuple(settings["blocks_per_stage"])
    if len(stage_filters) != len(blocks_per_stage):
        raise ValueError(
            f"{model_name} expects one number of blocks per stage; got stage_filters="
            f"{stage_filters} and blocks_per_stage={blocks_per_stage}."
        )

    inputs = _common.clip_input(shape)
    x = inputs
    if settings["input_mean"] is not None:
        x = keras.layers.Normalization(
            mean=list(settings["input_mean"]), variance=[std**2 for std in settings["input_std"]],
            name="input_normalization",
        )(x)
    if stem == "2plus1d":
        x = _conv2plus1d(x, settings["stem_filters"], (3, 7, 7), (1, 2, 2), settings, "stem_conv",
                         settings["stem_intermediate_filters"])
    else:
        x = _conv3d(x, settings["stem_filters"], (3, 7, 7), (1, 2, 2), settings, "stem_conv")
    x = _batch_norm_relu(x, "stem", settings)
    for stage, (filters, blocks) in enumerate(zip(stage_filters, blocks_per_stage), start=1):
        kind = stage_kinds[min(stage, len(stage_kinds)) - 1]
        for block in range(1, blocks + 1):
            stride = 2 if stage > 1 and block == 1 else 1
            x = _residual_block(x, kind, filters, stride, settings, f"stage{stage}_block{block}")
    outputs = _common.classifier_head(
        x, top=keras.layers.GlobalAveragePooling3D(name="avg_pool"), num_classes=settings["num_classes"], **head
    )
    return keras.Model(inputs, outputs, name=name)


_RESNET_ARGS_DOC = """        input_shape: tuple ``(time, height, width, channels)`` of one clip
            (time, height and width may be ``None``). Default from the preset:
            ``(16, 112, 112, 3)`` (paper, torchvision) or ``(8, 32, 32, 3)``
            (small).
        num_classes: int. Default from the preset: 400 (Kinetics-400, paper
            and torchvision) or 8 (small, as `videokit.data.moving_shapes`).
        preset: ``None`` (the paper configuration), ``"small"`` or
            ``"torchvision"`` (the paper network as torchvision computes it,
            for its Kinetics-400 weights: ``padding="symmetric"``, PyTorch's
            batch normalization, Kinetics' mean and standard deviation);
            arguments given explicitly override it.
        stem_filters: int, channels of the stem: 64 (paper) or 8 (small).
        stage_filters: tuple of ints, channels of each stage:
            ``(64, 128, 256, 512)`` (paper) or ``(8, 16, 32, 64)`` (small).
        blocks_per_stage: tuple of ints, residual blocks in each stage:
            ``(2, 2, 2, 2)`` in every preset.
        padding: ``"same"`` (Keras's, default) or ``"symmetric"`` (PyTorch's
            and torchvision's: ``kernel_size // 2`` zeros on both sides of
            each axis). They differ only where a stride of 2 meets an even
            size: ``"same"`` then pads the end alone.
        batch_norm_epsilon: float, every batch normalization's epsilon:
            ``1e-3`` (Keras's, default) or ``1e-5`` (torchvision).
        batch_norm_momentum: float, every batch normalization's momentum:
            ``0.99`` (Keras's, default) or ``0.9`` (torchvision's
            ``momentum=0.1``).
        input_mean: ``None`` (default) or one float per channel; with
            ``input_std``, the model's first step is
            ``(clips - input_mean) / input_std`` (a `keras.layers.Normalization`
            named ``"input_normalization"``). torchvision:
            `KINETICS_MEAN`.
        input_std: ``None`` or one positive float per channel; torchvision:
            `KINETICS_STD`.
        name: name of the model.
""" + _common.HEAD_ARGS_DOC

_R2PLUS1D_ARGS_DOC = _RESNET_ARGS_DOC.replace("        name: name of the model.\n", """\
        intermediate_filters: ``"per_conv"`` (paper, default: each (2+1)D
            convolution has the M of `videokit.layers.conv2plus1d.intermediate_channels`
            for its own input and output channels) or ``"per_block"``
            (torchvision: both convolutions of a residual block use the M of
            its first one).
        stem_intermediate_filters: int or ``None``, M of the stem; ``None``
            (paper) is the formula's 83, torchvision uses 45.
        name: name of the model.
""")


def _head(include_top, pooling, classifier_activation):
    return {"include_top": include_top, "pooling": pooling, "classifier_activation": classifier_activation}


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
    padding=None,
    batch_norm_epsilon=None,
    batch_norm_momentum=None,
    input_mean=None,
    input_std=None,
    name="r3d",
):
    """Build R3D-18, the 18-layer video ResNet of full 3D convolutions.

    The baseline of Tran et al. 2018: a stem convolution with a ``3x7x7``
    kernel and strides ``(1, 2, 2)``, then four stages of two basic residual
    blocks (two ``3x3x3`` `Conv3D` with batch normalization, added to the
    input or to a ``1x1x1`` projection when the shape changes); the first
    block of stages 2-4 halves time, height and width. Global average pooling
    and a softmax classifier follow. The paper configuration has 33,371,472
    trainable parameters, as torchvision's ``r3d_18``; the ``"torchvision"``
    preset computes exactly as ``r3d_18`` does, and
    `videokit.weights.import_weights` loads its Kinetics-400 weights into it.

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
    return _video_resnet(
        "r3d", RESNET_PRESETS, preset, _head(include_top, pooling, classifier_activation), name,
        stem="3d", stage_kinds=("3d",), input_shape=input_shape, num_classes=num_classes,
        stem_filters=stem_filters, stage_filters=stage_filters, blocks_per_stage=blocks_per_stage,
        padding=padding, batch_norm_epsilon=batch_norm_epsilon, batch_norm_momentum=batch_norm_momentum,
        input_mean=input_mean, input_std=input_std,
    )


@_common.uses_presets(RESNET_PRESETS)
@_common.with_args_doc(_RESNET_ARGS_DOC)
def mc3(
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
    padding=None,
    batch_norm_epsilon=None,
    batch_norm_momentum=None,
    input_mean=None,
    input_std=None,
    name="mc3",
):
    """Build MC3-18, the mixed-convolution video ResNet: 3D convolutions low, 2D ones high.

    Tran et al. 2018's MC3: the network of `r3d` whose stem and first stage
    keep their 3D convolutions while stages 2-4 convolve in space only
    (``1x3x3`` kernels; their first block and its shortcut halve height and
    width but keep time). Motion is modelled early, appearance late; the
    paper configuration has 11,695,440 trainable parameters (a third of
    R3D-18's), as torchvision's ``mc3_18``. The ``"torchvision"`` preset
    computes exactly as ``mc3_18`` does.

    Args:

    Returns:
        A `keras.Model` mapping clips ``(batch, time, height, width, channels)``
        to class probabilities ``(batch, num_classes)`` in float32; with
        ``include_top=False``, to the last stage's features.

    Example:

    >>> model = mc3(preset="small")
    >>> model.output_shape
    (None, 8)
    """
    return _video_resnet(
        "mc3", RESNET_PRESETS, preset, _head(include_top, pooling, classifier_activation), name,
        stem="3d", stage_kinds=("3d", "2d"), input_shape=input_shape, num_classes=num_classes,
        stem_filters=stem_filters, stage_filters=stage_filters, blocks_per_stage=blocks_per_stage,
        padding=padding, batch_norm_epsilon=batch_norm_epsilon, batch_norm_momentum=batch_norm_momentum,
        input_mean=input_mean, input_std=input_std,
    )


@_common.uses_presets(R2PLUS1D_PRESETS)
@_common.with_args_doc(_R2PLUS1D_ARGS_DOC)
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
    padding=None,
    batch_norm_epsilon=None,
    batch_norm_momentum=None,
    input_mean=None,
    input_std=None,
    intermediate_filters=None,
    stem_intermediate_filters=None,
    name="r2plus1d",
):
    """Build R(2+1)D-18, the 18-layer video ResNet of (2+1)D convolutions.

    The network of `r3d` (Tran et al. 2018) with every 3D convolution, stem
    included, replaced by a `videokit.layers.Conv2Plus1D`: a spatial
    ``1 x d x d`` convolution, batch normalization, ReLU and a temporal
    ``t x 1 x 1`` convolution, whose intermediate channels
    (`videokit.layers.conv2plus1d.intermediate_channels`) keep the weight
    count of the 3D convolution while doubling the nonlinearities.
    torchvision's ``r2plus1d_18`` counts them differently: 45 in the stem,
    and one M per residual block (that of its first convolution, so the
    second convolution of each stage's first block has 230 rather than 288
    in stage 2); the ``"torchvision"`` preset follows it (31,505,325
    trainable parameters) and computes exactly as ``r2plus1d_18`` does.

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
    return _video_resnet(
        "r2plus1d", R2PLUS1D_PRESETS, preset, _head(include_top, pooling, classifier_activation), name,
        stem="2plus1d", stage_kinds=("2plus1d",), input_shape=input_shape, num_classes=num_classes,
        stem_filters=stem_filters, stage_filters=stage_filters, blocks_per_stage=blocks_per_stage,
        padding=padding, batch_norm_epsilon=batch_norm_epsilon, batch_norm_momentum=batch_norm_momentum,
        input_mean=input_mean, input_std=input_std, intermediate_filters=intermediate_filters,
        stem_intermediate_filters=stem_intermediate_filters,
    )
