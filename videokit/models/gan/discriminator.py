"""The video critic: strided 3D convolutions and LeakyReLU down to one logit per clip."""

import math

import keras

from videokit.models import _common
from videokit.models.gan._grid import check_video_shape, spatial_steps

PRESETS = {
    "paper": {"input_shape": (32, 64, 64, 3), "base_filters": 64},
    "small": {"input_shape": (8, 32, 32, 3), "base_filters": 16},
}


@_common.uses_presets(PRESETS)
def video_discriminator(
    input_shape=None,
    *,
    preset=None,
    base_filters=None,
    normalization="layer",
    name="video_discriminator",
):
    """3D-conv video discriminator: strided `Conv3D` + LeakyReLU, one logit.

    Each step is a ``4x4x4`` `Conv3D` with stride 2 in space (and in time while
    more than one frame is left), then LeakyReLU(0.2); channels double from
    ``base_filters``. The ~4x4 map is flattened into one dense logit. There is
    no batch norm: it mixes the clips of a batch, which is wrong for a
    gradient penalty on single clips; ``normalization="layer"`` normalises each
    position's channels instead (not after the first conv, as in DCGAN).

    Args:
        input_shape: tuple ``(frames, height, width, channels)``; height and
            width divisible by ``2**k`` where ``2**k`` is about ``min(h, w) / 4``.
        preset: ``None`` (the paper configuration, VGAN's: 32 frames of
            64x64, 64 filters) or ``"small"`` (8 frames of 32x32, 16
            filters). Its values fill the arguments left as ``None``;
            explicit arguments win.
        base_filters: int, the channels of the first convolution.
        normalization: ``"layer"`` or None.
        name: the model name.

    Input shape:
        ``(batch, T, H, W, C)``, clips in ``[-1, 1]``.

    Output shape:
        ``(batch, 1)``: float32 logits, also under mixed precision.

    Returns:
        A functional `keras.Model`.

    Example:

    >>> discriminator = video_discriminator(preset="small")
    >>> tuple(discriminator(keras.ops.zeros((2, 8, 32, 32, 3))).shape)
    (2, 1)
    """
    if normalization not in ("layer", None):
        raise ValueError(f"video_discriminator expects normalization to be 'layer' or None; got {normalization!r}.")
    args = _common.resolve_preset(
        "video_discriminator", PRESETS, preset, input_shape=input_shape, base_filters=base_filters
    )
    shape = check_video_shape("video_discriminator", args["input_shape"], "input_shape")
    videos = _common.clip_input(shape)
    x = videos
    frames = shape[0]
    for i in range(spatial_steps(shape[1], shape[2])):
        t_stride = 2 if frames > 1 else 1
        frames = math.ceil(frames / t_stride)
        x = keras.layers.Conv3D(
            args["base_filters"] * 2**i,
            4,
            strides=(t_stride, 2, 2),
            padding="same",
            name=f"conv{i + 1}",
        )(x)
        if normalization == "layer" and i > 0:
            x = keras.layers.LayerNormalization(name=f"conv{i + 1}_ln")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"conv{i + 1}_lrelu")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    logits = keras.layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model(videos, logits, name=name)
