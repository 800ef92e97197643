"""Video GAN generators: VGAN's two streams and a MoCoGAN-style content/motion generator.

* `vgan_generator`: Vondrick, Pirsiavash & Torralba 2016, "Generating Videos
  with Scene Dynamics" (https://arxiv.org/abs/1609.02612).
* `mocogan_generator`: in the spirit of Tulyakov et al. 2018, "MoCoGAN:
  Decomposing Motion and Content for Video Generation"
  (https://arxiv.org/abs/1707.04993).

Both are functional models with a dict output whose ``"video"`` entry is the
clip in ``[-1, 1]``; `videokit.models.gan.VideoGAN` trains on that entry only.
"""

import math

import keras

from videokit.layers.masked_composite import MaskedComposite
from videokit.models import _common
from videokit.models.gan._grid import check_video_shape, spatial_steps, upsampling_plan

VGAN_PRESETS = {
    "paper": {"latent_dim": 100, "output_shape": (32, 64, 64, 3), "base_filters": 64},
    "small": {"latent_dim": 32, "output_shape": (8, 32, 32, 3), "base_filters": 16},
}

MOCOGAN_PRESETS = {
    "paper": {
        "latent_dim": 10,
        "output_shape": (16, 64, 64, 3),
        "content_dim": 50,
        "motion_dim": 10,
        "base_filters": 64,
    },
    "small": {
        "latent_dim": 8,
        "output_shape": (8, 32, 32, 3),
        "content_dim": 16,
        "motion_dim": 8,
        "base_filters": 16,
    },
}


def _norm_relu(x, name):
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def _project(z, grid, filters, name):
    """Dense projection of a code to a ``grid + (filters,)`` feature map."""
    x = keras.layers.Dense(math.prod(grid) * filters, use_bias=False, name=f"{name}_dense")(z)
    x = keras.layers.Reshape((*grid, filters), name=f"{name}_reshape")(x)
    return _norm_relu(x, name)


def _foreground_stream(z, start, temporal, base_filters, channels):
    """3D transposed convolutions: code -> foreground video and mask."""
    steps = len(temporal)
    x = _project(z, start, base_filters * 2 ** (steps - 1), "fg_project")
    for i, t_stride in enumerate(temporal[:-1]):
        x = keras.layers.Conv3DTranspose(
            base_filters * 2 ** (steps - 2 - i),
            4,
            strides=(t_stride, 2, 2),
            padding="same",
            use_bias=False,
            name=f"fg_up{i + 1}",
        )(x)
        x = _norm_relu(x, f"fg_up{i + 1}")
    strides = (temporal[-1], 2, 2)
    foreground = keras.layers.Conv3DTranspose(
        channels, 4, strides=strides, padding="same", name="fg_rgb"
    )(x)
    mask = keras.layers.Conv3DTranspose(1, 4, strides=strides, padding="same", name="fg_mask")(x)
    foreground = keras.layers.Activation("tanh", dtype="float32", name="foreground")(foreground)
    mask = keras.layers.Activation("sigmoid", dtype="float32", name="mask")(mask)
    return foreground, mask


def _image_generator_layers(grid, steps, base_filters, channels, name):
    """Layers of a 2D DCGAN generator: code -> ``(h, w, channels)`` image in [-1, 1]."""
    layers = [
        keras.layers.Dense(
            math.prod(grid) * base_filters * 2 ** (steps - 1), use_bias=False, name=f"{name}_dense"
        ),
        keras.layers.Reshape((*grid, base_filters * 2 ** (steps - 1)), name=f"{name}_reshape"),
        keras.layers.BatchNormalization(name=f"{name}_bn"),
        keras.layers.ReLU(name=f"{name}_relu"),
    ]
    for i in range(steps - 1):
        layers += [
            keras.layers.Conv2DTranspose(
                base_filters * 2 ** (steps - 2 - i),
                4,
                strides=2,
                padding="same",
                use_bias=False,
                name=f"{name}_up{i + 1}",
            ),
            keras.layers.BatchNormalization(name=f"{name}_up{i + 1}_bn"),
            keras.layers.ReLU(name=f"{name}_up{i + 1}_relu"),
        ]
    layers.append(
        keras.layers.Conv2DTranspose(channels, 4, strides=2, padding="same", name=f"{name}_rgb")
    )
    return layers


def _apply_layers(layers, x):
    for layer in layers:
        x = layer(x)
    return x


@_common.uses_presets(VGAN_PRESETS)
def vgan_generator(
    output_shape=None,
    *,
    preset=None,
    latent_dim=None,
    base_filters=None,
    name="vgan_generator",
):
    """VGAN two-stream generator (Vondrick, Pirsiavash & Torralba 2016).

    A code ``z`` feeds two streams. The foreground stream (a dense projection
    to a small 3D grid, then stride-2 `Conv3DTranspose` + batch norm + ReLU)
    ends in two heads: a foreground video ``f = tanh(.)`` and a one-channel
    mask ``m = sigmoid(.)``. The background stream does the same with
    `Conv2DTranspose` and ends in a static image ``b = tanh(.)``. The clip is

        video = m * f + (1 - m) * b      (b repeated over time)

    so static scenery costs one image and the 3D stream only has to draw what
    moves. The paper also adds an L1 penalty on ``m``, which pushes the mask
    to 0 wherever the background can draw the clip:
    ``VideoGAN.compile(mask_penalty=...)``.

    The number of stride-2 steps is fixed by the frame size (down to about
    4x4); time is doubled in the last steps as far as ``frames`` allows.

    Args:
        output_shape: tuple ``(frames, height, width, channels)``; height and
            width divisible by ``2**k`` where ``2**k`` is about ``min(h, w) / 4``.
        preset: ``None`` (the paper configuration: 100-d code, 32 frames of
            64x64, 64 filters) or ``"small"`` (32-d code, 8 frames of 32x32,
            16 filters: trains in seconds on a CPU). Its values fill the
            arguments left as ``None``; explicit arguments win.
        latent_dim: int, the size of the code ``z``.
        base_filters: int, the channels before the last layer; each earlier
            step doubles them (64 gives the paper's 512-256-128-64).
        name: the model name.

    Input shape:
        ``(batch, latent_dim)``, usually standard normal noise.

    Output shape:
        A dict: ``"video"`` ``(batch, T, H, W, C)`` in ``[-1, 1]``,
        ``"foreground"`` ``(batch, T, H, W, C)``, ``"mask"``
        ``(batch, T, H, W, 1)`` in ``[0, 1]``, ``"background"``
        ``(batch, H, W, C)``; all float32, also under mixed precision.

    Returns:
        A functional `keras.Model`. `VideoGAN` trains on its ``"video"`` output;
        the other outputs are there to look at.

    Example:

    >>> generator = vgan_generator(preset="small")
    >>> outputs = generator(keras.random.normal((2, 32)))
    >>> tuple(outputs["video"].shape), tuple(outputs["mask"].shape)
    ((2, 8, 32, 32, 3), (2, 8, 32, 32, 1))
    """
    args = _common.resolve_preset(
        "vgan_generator", VGAN_PRESETS, preset,
        latent_dim=latent_dim, output_shape=output_shape, base_filters=base_filters,
    )
    shape = check_video_shape("vgan_generator", args["output_shape"], "output_shape")
    (frames, height, width), temporal = upsampling_plan(shape)
    z = keras.Input((args["latent_dim"],), name="latent")
    foreground, mask = _foreground_stream(
        z, (frames, height, width), temporal, args["base_filters"], shape[-1]
    )
    background_layers = _image_generator_layers(
        (height, width), len(temporal), args["base_filters"], shape[-1], "bg"
    )
    background = _apply_layers(background_layers, z)
    background = keras.layers.Activation("tanh", dtype="float32", name="background")(background)
    video = MaskedComposite(dtype="float32", name="video")([foreground, mask, background])
    outputs = {"video": video, "foreground": foreground, "mask": mask, "background": background}
    return keras.Model(z, outputs, name=name)


@_common.uses_presets(MOCOGAN_PRESETS)
def mocogan_generator(
    output_shape=None,
    *,
    preset=None,
    latent_dim=None,
    content_dim=None,
    motion_dim=None,
    base_filters=None,
    name="mocogan_generator",
):
    """Content/motion generator in the spirit of MoCoGAN (Tulyakov et al. 2018).

    A video is a content code ``z_C`` (one per clip, the same for every frame)
    and a path of motion codes ``z_M(t)``: a GRU reads per-frame noise
    ``eps_t`` and emits ``z_M(1..T)``. Every frame is drawn from
    ``[z_C, z_M(t)]`` by one shared 2D image generator (dense projection, then
    stride-2 `Conv2DTranspose` + batch norm + ReLU, ``tanh``), applied with
    `TimeDistributed`. The GRU is causal, so the noise of frame ``t`` changes
    frames ``t..T`` and never an earlier one. (The paper's two discriminators,
    one on images and one on clips, are left out: `VideoGAN` uses one.)

    Args:
        output_shape: tuple ``(frames, height, width, channels)``.
        preset: ``None`` (the paper configuration: 16 frames of 64x64,
            ``content_dim=50``, ``motion_dim=latent_dim=10``, 64 filters) or
            ``"small"`` (8 frames of 32x32, ``content_dim=16``,
            ``motion_dim=latent_dim=8``, 16 filters). Its values fill the
            arguments left as ``None``; explicit arguments win.
        latent_dim: int, the size of the per-frame motion noise ``eps_t``.
        content_dim: int, the size of the content code ``z_C``.
        motion_dim: int, the size of the motion code ``z_M(t)`` (GRU units).
        base_filters: int, the channels before the last layer of the image
            generator; each earlier step doubles them.
        name: the model name.

    Input shape:
        A dict: ``"content"`` ``(batch, content_dim)`` and ``"motion_noise"``
        ``(batch, frames, latent_dim)``, both usually standard normal.

    Output shape:
        A dict: ``"video"`` ``(batch, T, H, W, C)`` in ``[-1, 1]`` (float32)
        and ``"motion"`` ``(batch, T, motion_dim)``, the motion codes (the
        GRU runs in float32, also under mixed precision).

    Returns:
        A functional `keras.Model`.

    Example:

    >>> generator = mocogan_generator(preset="small")
    >>> latents = {"content": keras.random.normal((2, 16)),
    ...            "motion_noise": keras.random.normal((2, 8, 8))}
    >>> tuple(generator(latents)["video"].shape)
    (2, 8, 32, 32, 3)
    """
    args = _common.resolve_preset(
        "mocogan_generator", MOCOGAN_PRESETS, preset, latent_dim=latent_dim, output_shape=output_shape,
        content_dim=content_dim, motion_dim=motion_dim, base_filters=base_filters,
    )
    shape = check_video_shape("mocogan_generator", args["output_shape"], "output_shape")
    frames, height, width, channels = shape
    steps = spatial_steps(height, width)
    content = keras.Input((args["content_dim"],), name="content")
    motion_noise = keras.Input((frames, args["latent_dim"]), name="motion_noise")
    motion = keras.layers.GRU(
        args["motion_dim"], return_sequences=True, dtype="float32", name="motion"
    )(motion_noise)
    repeated_content = keras.layers.RepeatVector(frames, name="content_per_frame")(content)
    codes = keras.layers.Concatenate(name="frame_codes")([repeated_content, motion])
    grid = (height // 2**steps, width // 2**steps)
    image_generator = keras.Sequential(
        [
            keras.Input((args["content_dim"] + args["motion_dim"],)),
            *_image_generator_layers(grid, steps, args["base_filters"], channels, "frame"),
        ],
        name="image_generator",
    )
    frames_out = keras.layers.TimeDistributed(image_generator, name="frames")(codes)
    video = keras.layers.Activation("tanh", dtype="float32", name="video")(frames_out)
    return keras.Model(
        {"content": content, "motion_noise": motion_noise},
        {"video": video, "motion": motion},
        name=name,
    )
