"""Video GANs: VGAN and MoCoGAN-style generators, a 3D-conv critic, a trainer.

* `vgan_generator`: Vondrick, Pirsiavash & Torralba 2016, "Generating Videos
  with Scene Dynamics" (https://arxiv.org/abs/1609.02612). A 3D transposed-conv
  foreground stream and a 2D transposed-conv background stream, mixed by a
  learned mask.
* `mocogan_generator`: in the spirit of Tulyakov et al. 2018, "MoCoGAN:
  Decomposing Motion and Content for Video Generation"
  (https://arxiv.org/abs/1707.04993). One content code per video, a recurrent
  motion code per frame, one shared image generator.
* `video_discriminator`: strided `Conv3D` + LeakyReLU, one logit per clip.
* `VideoGAN`: a `keras.Model` whose `fit()` alternates a discriminator step and
  a generator step on the TensorFlow, JAX and PyTorch backends.

Generators are functional models with a dict output whose ``"video"`` entry is
the clip in ``[-1, 1]``; `VideoGAN` trains on that entry only.
"""

import math

import keras
import numpy as np
from keras import ops

from videokit.models import _gan_steps

LOSS_KINDS = ("non_saturating", "hinge")

# What each builder uses for an argument left as None without a preset.
_DEFAULTS = {
    "vgan_generator": {"latent_dim": 100, "output_shape": (16, 64, 64, 3), "base_filters": 64},
    "mocogan_generator": {
        "latent_dim": 10, "output_shape": (16, 64, 64, 3), "content_dim": 50, "motion_dim": 10, "base_filters": 64,
    },
    "video_discriminator": {"input_shape": (16, 64, 64, 3), "base_filters": 64},
}

_PRESETS = {
    "vgan_generator": {
        "small": {"latent_dim": 32, "output_shape": (8, 32, 32, 3), "base_filters": 16},
        "paper": {"latent_dim": 100, "output_shape": (32, 64, 64, 3), "base_filters": 64},
    },
    "mocogan_generator": {
        "small": {
            "latent_dim": 8,
            "output_shape": (8, 32, 32, 3),
            "content_dim": 16,
            "motion_dim": 8,
            "base_filters": 16,
        },
        "paper": {
            "latent_dim": 10,
            "output_shape": (16, 64, 64, 3),
            "content_dim": 50,
            "motion_dim": 10,
            "base_filters": 64,
        },
    },
    "video_discriminator": {
        "small": {"input_shape": (8, 32, 32, 3), "base_filters": 16},
        "paper": {"input_shape": (32, 64, 64, 3), "base_filters": 64},
    },
}


# ---------------------------------------------------------------- losses


def _check_loss_kind(kind):
    if kind not in LOSS_KINDS:
        raise ValueError(f"The loss kind must be one of {LOSS_KINDS}, got {kind!r}.")


def discriminator_loss(real_logits, fake_logits, kind="non_saturating"):
    """Discriminator loss from the logits of real and generated clips.

    With ``D(x) = sigmoid(l(x))`` and logits ``l``:

    * ``"non_saturating"`` (the GAN cross-entropy, Goodfellow et al. 2014):
      ``L_D = -E[log D(x)] - E[log(1 - D(G(z)))]``, computed stably from the
      logits as ``E[softplus(-l(x))] + E[softplus(l(G(z)))]``.
    * ``"hinge"`` (Lim & Ye 2017; Miyato et al. 2018):
      ``L_D = E[relu(1 - l(x))] + E[relu(1 + l(G(z)))]``.

    Args:
        real_logits: tensor of shape ``(batch, 1)`` or ``(batch,)``, the
            discriminator logits ``l(x)`` of real clips.
        fake_logits: tensor of the same kind, the logits ``l(G(z))`` of
            generated clips.
        kind: ``"non_saturating"`` or ``"hinge"``.

    Returns:
        A float32 scalar tensor.

    Example:

    >>> import numpy as np
    >>> loss = discriminator_loss(np.zeros((4, 1)), np.zeros((4, 1)))
    >>> round(float(loss), 4)  # 2 log 2: a discriminator that cannot tell.
    1.3863
    """
    _check_loss_kind(kind)
    real_logits = ops.cast(real_logits, "float32")
    fake_logits = ops.cast(fake_logits, "float32")
    if kind == "hinge":
        return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))
    return ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))


def generator_loss(fake_logits, kind="non_saturating"):
    """Generator loss from the discriminator logits of generated clips.

    * ``"non_saturating"``: ``L_G = -E[log D(G(z))] = E[softplus(-l(G(z)))]``.
      The minimax game asks the generator to minimise ``E[log(1 - D(G(z)))]``,
      but early in training the discriminator rejects the fakes confidently,
      ``D(G(z))`` is near 0, and that loss is flat there: its gradient
      vanishes (it *saturates*). Maximising ``log D(G(z))`` instead has the
      same fixed point and strong gradients exactly when the generator is bad.
    * ``"hinge"``: ``L_G = -E[l(G(z))]``.

    Args:
        fake_logits: tensor of shape ``(batch, 1)`` or ``(batch,)``, the
            discriminator logits ``l(G(z))`` of generated clips.
        kind: ``"non_saturating"`` or ``"hinge"``.

    Returns:
        A float32 scalar tensor.

    Example:

    >>> import numpy as np
    >>> round(float(generator_loss(np.zeros((4, 1)))), 4)  # log 2
    0.6931
    """
    _check_loss_kind(kind)
    fake_logits = ops.cast(fake_logits, "float32")
    if kind == "hinge":
        return -ops.mean(fake_logits)
    return ops.mean(ops.softplus(-fake_logits))


def r1_penalty(input_gradients):
    """R1 gradient penalty ``0.5 * E[||grad_x l(x)||^2]`` on real clips.

    Mescheder, Geiger & Nowozin 2018, "Which Training Methods for GANs do
    actually Converge?" (https://arxiv.org/abs/1801.04406). It pushes the
    discriminator to be flat on the real data, which damps the oscillations of
    GAN training. `VideoGAN` adds ``gradient_penalty * r1_penalty(...)`` to the
    discriminator loss.

    Args:
        input_gradients: tensor of shape ``(batch, frames, height, width,
            channels)``, the gradient of the discriminator logits with respect
            to the real clips.

    Returns:
        A float32 scalar tensor.

    Example:

    >>> import numpy as np
    >>> float(r1_penalty(np.ones((2, 1, 2, 2, 1))))
    2.0
    """
    gradients = ops.cast(input_gradients, "float32")
    squared_norms = ops.sum(
        ops.reshape(ops.square(gradients), (ops.shape(gradients)[0], -1)), axis=1
    )
    return 0.5 * ops.mean(squared_norms)


# ------------------------------------------------------------ architecture


def _preset_values(builder, preset, **given):
    """The builder arguments: explicit ones, then the preset's, then the defaults."""
    presets = _PRESETS[builder]
    if preset is not None and preset not in presets:
        raise ValueError(f"`preset` must be None or one of {tuple(presets)}, got {preset!r}.")
    explicit = {key: value for key, value in given.items() if value is not None}
    return {**_DEFAULTS[builder], **presets.get(preset, {}), **explicit}


def _check_video_shape(shape, name):
    shape = tuple(shape)
    if len(shape) != 4 or not all(isinstance(s, int) and s > 0 for s in shape):
        raise ValueError(
            f"`{name}` must be (frames, height, width, channels) of positive ints, got {shape!r}."
        )
    frames, height, width, _ = shape
    if min(height, width) < 8:
        raise ValueError(f"`{name}` must have height and width of at least 8, got {shape!r}.")
    steps = _spatial_steps(height, width)
    if height % 2**steps or width % 2**steps:
        raise ValueError(
            f"`{name}` must have height and width divisible by {2**steps} "
            f"(the {steps} stride-2 steps down to about 4x4), got {shape!r}."
        )
    return shape


def _spatial_steps(height, width):
    """Stride-2 steps between a ~4x4 grid and the frame size."""
    return int(math.log2(min(height, width) // 4))


def _temporal_strides(frames, steps):
    """Temporal stride of each of ``steps`` up-sampling steps (1 first, then 2)."""
    doublings = 0
    while doublings < steps and frames % 2 ** (doublings + 1) == 0:
        doublings += 1
    return [1] * (steps - doublings) + [2] * doublings


def _upsampling_plan(shape):
    """Start grid ``(t, h, w)`` and per-step strides to reach ``shape``."""
    frames, height, width, _ = shape
    steps = _spatial_steps(height, width)
    temporal = _temporal_strides(frames, steps)
    start = (frames // math.prod(temporal), height // 2**steps, width // 2**steps)
    return start, temporal


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


@keras.saving.register_keras_serializable(package="videokit")
class MaskedComposite(keras.layers.Layer):
    """VGAN composite ``video = m * f + (1 - m) * b``, ``b`` repeated over time.

    Args:
        **kwargs: standard `keras.layers.Layer` arguments (``name``, ``dtype``).

    Call arguments:
        inputs: list ``[foreground, mask, background]``: ``foreground`` of
            shape ``(batch, frames, height, width, channels)``, ``mask`` of
            shape ``(batch, frames, height, width, 1)`` in ``[0, 1]``,
            ``background`` of shape ``(batch, height, width, channels)``.

    Input shape:
        ``[(batch, T, H, W, C), (batch, T, H, W, 1), (batch, H, W, C)]``.

    Output shape:
        ``(batch, T, H, W, C)``.

    Returns:
        The mixed video: where the mask is 1 the moving foreground shows,
        where it is 0 the static background.

    Example:

    >>> import numpy as np
    >>> f, m, b = np.ones((1, 2, 4, 4, 3)), np.full((1, 2, 4, 4, 1), 0.25), -np.ones((1, 4, 4, 3))
    >>> float(MaskedComposite()([f, m, b])[0, 0, 0, 0, 0])
    -0.5
    """

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                "MaskedComposite expects [foreground, mask, background], "
                f"got {len(input_shape)} inputs."
            )
        foreground, mask, background = (tuple(s) for s in input_shape)
        if len(foreground) != 5 or mask[:-1] != foreground[:-1] or mask[-1] != 1:
            raise ValueError(
                "MaskedComposite expects foreground (batch, T, H, W, C) and mask "
                f"(batch, T, H, W, 1), got {foreground} and {mask}."
            )
        if background[1:] != foreground[2:]:
            raise ValueError(
                f"MaskedComposite expects background (batch, H, W, C) = (batch, {foreground[2:]}), "
                f"got {background}."
            )

    def call(self, inputs):
        foreground, mask, background = inputs
        background = ops.expand_dims(background, 1)
        return mask * foreground + (1.0 - mask) * background

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])


def vgan_generator(
    latent_dim=None,
    output_shape=None,
    *,
    base_filters=None,
    preset=None,
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
    moves. The paper also adds an L1 penalty on ``m``; it is left out here.

    The number of stride-2 steps is fixed by the frame size (down to about
    4x4); time is doubled in the last steps as far as ``frames`` allows.

    Args:
        latent_dim: int, the size of the code ``z``.
        output_shape: tuple ``(frames, height, width, channels)``; height and
            width divisible by ``2**k`` where ``2**k`` is about ``min(h, w) / 4``.
        base_filters: int, the channels before the last layer; each earlier
            step doubles them (64 gives the paper's 512-256-128-64).
        preset: None, ``"small"`` (32-d code, 8 frames of 32x32, 16 filters:
            trains in seconds on a CPU) or ``"paper"`` (100-d code, 32 frames of
            64x64, 64 filters). Its values fill the arguments left as
            ``None``; explicit arguments win. Without a preset: a 100-d
            code, 16 frames of 64x64, 64 filters.
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
    args = _preset_values(
        "vgan_generator",
        preset,
        latent_dim=latent_dim,
        output_shape=output_shape,
        base_filters=base_filters,
    )
    shape = _check_video_shape(args["output_shape"], "output_shape")
    (frames, height, width), temporal = _upsampling_plan(shape)
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


def mocogan_generator(
    latent_dim=None,
    output_shape=None,
    content_dim=None,
    motion_dim=None,
    *,
    base_filters=None,
    preset=None,
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
        latent_dim: int, the size of the per-frame motion noise ``eps_t``.
        output_shape: tuple ``(frames, height, width, channels)``.
        content_dim: int, the size of the content code ``z_C``.
        motion_dim: int, the size of the motion code ``z_M(t)`` (GRU units).
        base_filters: int, the channels before the last layer of the image
            generator; each earlier step doubles them.
        preset: None, ``"small"`` (8 frames of 32x32, ``content_dim=16``,
            ``motion_dim=latent_dim=8``, 16 filters) or ``"paper"`` (16 frames
            of 64x64, ``content_dim=50``, ``motion_dim=latent_dim=10``, 64
            filters). Its values fill the arguments left as ``None``;
            explicit arguments win. Without a preset: the paper's code
            sizes with 16 frames of 64x64.
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
    args = _preset_values(
        "mocogan_generator",
        preset,
        latent_dim=latent_dim,
        output_shape=output_shape,
        content_dim=content_dim,
        motion_dim=motion_dim,
        base_filters=base_filters,
    )
    shape = _check_video_shape(args["output_shape"], "output_shape")
    frames, height, width, channels = shape
    steps = _spatial_steps(height, width)
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


def video_discriminator(
    input_shape=None,
    *,
    base_filters=None,
    normalization="layer",
    preset=None,
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
        base_filters: int, the channels of the first convolution.
        normalization: ``"layer"`` or None.
        preset: None, ``"small"`` (8 frames of 32x32, 16 filters) or
            ``"paper"`` (VGAN: 32 frames of 64x64, 64 filters). Its values
            fill the arguments left as ``None``; explicit arguments win.
            Without a preset: 16 frames of 64x64, 64 filters.
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
        raise ValueError(f"`normalization` must be 'layer' or None, got {normalization!r}.")
    args = _preset_values(
        "video_discriminator", preset, input_shape=input_shape, base_filters=base_filters
    )
    shape = _check_video_shape(args["input_shape"], "input_shape")
    videos = keras.Input(shape, name="video")
    x = videos
    frames = shape[0]
    for i in range(_spatial_steps(shape[1], shape[2])):
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


# ------------------------------------------------------------------ trainer


def video_of(generator_outputs):
    """The clip in a generator's output: its ``"video"`` entry, or the tensor itself.

    Args:
        generator_outputs: a dict with a ``"video"`` key (as returned by
            `vgan_generator` and `mocogan_generator`) or a video tensor.

    Returns:
        The video tensor ``(batch, T, H, W, C)``.

    Example:

    >>> video_of({"video": 1, "mask": 2})
    1
    """
    if isinstance(generator_outputs, dict):
        return generator_outputs["video"]
    return generator_outputs


class _OptimizerPair:
    """The two optimizers of a GAN seen as one by Keras's `fit()` machinery.

    `fit()` builds ``model.optimizer`` and, on JAX, carries
    ``model.optimizer.variables`` through the jitted train step;
    `keras.callbacks.LearningRateScheduler` visits ``.optimizers``.
    """

    def __init__(self, discriminator_optimizer, generator_optimizer):
        self.optimizers = [discriminator_optimizer, generator_optimizer]

    @property
    def built(self):
        return all(optimizer.built for optimizer in self.optimizers)

    def build(self, variables):
        raise RuntimeError("VideoGAN builds its optimizers itself; call `VideoGAN.compile()`.")

    @property
    def variables(self):
        return [v for optimizer in self.optimizers for v in optimizer.variables]


@keras.saving.register_keras_serializable(package="videokit")
class VideoGAN(keras.Model):
    """A generator and a discriminator trained against each other by `fit()`.

    Each `fit()` batch of real clips ``x`` (in ``[-1, 1]``) makes two steps:

    1. discriminator: with fresh noise ``z``, minimise
       ``discriminator_loss(D(x), D(G(z)), loss)`` (plus
       ``gradient_penalty * r1_penalty(grad_x D(x))`` if set) over D's weights;
    2. generator: with new noise, minimise ``generator_loss(D(G(z)), loss)``
       over G's weights, against the just-updated discriminator.

    See `discriminator_loss`, `generator_loss` and `r1_penalty` for the math.
    The logs are ``d_loss``, ``g_loss``, and ``d_real`` / ``d_fake``, the mean
    discriminator logits of real and generated clips. Training runs on the
    TensorFlow, JAX (stateless, jitted) and PyTorch backends; only the
    gradient and state handling differs (`videokit.models._gan_steps`).

    The generator takes noise shaped like its inputs (one tensor, or a dict
    such as `mocogan_generator`'s) and returns a video or a dict with a
    ``"video"`` entry. Calling the `VideoGAN` on latents returns the video.

    Under mixed precision use ``"mixed_bfloat16"``: `VideoGAN` does no loss
    scaling, which ``"mixed_float16"`` would need. On a CPU, prefer the
    TensorFlow (or PyTorch) backend: XLA's CPU kernels for 3D transposed
    convolutions, and for the input gradients of strided 3D convolutions,
    are tens of times slower, so JAX trains the small presets at about 1 clip
    per second there (on a GPU all backends are fast).

    Args:
        generator: a `keras.Model` from noise to videos in ``[-1, 1]``, e.g.
            `vgan_generator` or `mocogan_generator`.
        discriminator: a `keras.Model` from videos to one logit per clip,
            e.g. `video_discriminator`; no batch norm if you use a penalty.
        seed: int or None, seeds the noise drawn during training.
        **kwargs: standard `keras.Model` arguments (``name``).

    Call arguments:
        latents: noise shaped like ``generator.input``.
        training: bool, passed to the generator.

    Returns:
        The generated videos ``(batch, T, H, W, C)`` in ``[-1, 1]``.

    Example:

    >>> from videokit.data import moving_shapes
    >>> videos, _, _ = moving_shapes(8, num_frames=8, size=32)
    >>> gan = VideoGAN(vgan_generator(preset="small"), video_discriminator(preset="small"), seed=0)
    >>> gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5),
    ...             keras.optimizers.Adam(2e-4, beta_1=0.5))
    >>> history = gan.fit(videos / 127.5 - 1.0, batch_size=4, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['d_fake', 'd_loss', 'd_real', 'g_loss']
    >>> gan.generate(2, seed=1).shape
    (2, 8, 32, 32, 3)
    """

    def __init__(self, generator, discriminator, *, seed=None, **kwargs):
        super().__init__(**kwargs)
        video_shape = tuple(video_of(generator.output).shape[1:])
        critic_shape = tuple(discriminator.input.shape[1:])
        if video_shape != critic_shape:
            raise ValueError(
                f"The discriminator must take the generator's videos {video_shape}, "
                f"but its input shape is {critic_shape}."
            )
        self.generator = generator
        self.discriminator = discriminator
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.loss_kind = "non_saturating"
        self.gradient_penalty = 0.0
        self.built = True

    @property
    def latent_shape(self):
        """Shape of one noise sample: a tuple, or a dict of tuples for dict inputs."""
        return keras.tree.map_structure(lambda t: tuple(t.shape[1:]), self.generator.input)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]

    def compile(
        self, d_optimizer, g_optimizer, loss="non_saturating", gradient_penalty=0.0, **kwargs
    ):
        """Configure the two optimizers and the adversarial loss.

        Args:
            d_optimizer: a `keras.optimizers.Optimizer` for the discriminator.
            g_optimizer: a `keras.optimizers.Optimizer` for the generator (a
                different instance).
            loss: ``"non_saturating"`` or ``"hinge"``.
            gradient_penalty: float >= 0, the weight ``gamma`` of the R1
                penalty on real clips (0 turns it off; 1 to 10 is usual).
            **kwargs: other `keras.Model.compile` arguments (``run_eagerly``,
                ``jit_compile``, ``steps_per_execution``).
        """
        _check_loss_kind(loss)
        if gradient_penalty < 0:
            raise ValueError(f"`gradient_penalty` must be >= 0, got {gradient_penalty!r}.")
        if d_optimizer is g_optimizer:
            raise ValueError(
                "`d_optimizer` and `g_optimizer` must be two optimizer instances, got the same one."
            )
        super().compile(optimizer=None, **kwargs)
        for optimizer, network in (
            (d_optimizer, self.discriminator),
            (g_optimizer, self.generator),
        ):
            if not optimizer.built:
                optimizer.build(network.trainable_variables)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.optimizer = _OptimizerPair(d_optimizer, g_optimizer)
        self.loss_kind = loss
        self.gradient_penalty = float(gradient_penalty)

    def get_compile_config(self):
        # The two optimizers are not serialized: a reloaded VideoGAN is
        # recompiled by hand.
        return None

    def call(self, latents, training=False):
        return video_of(self.generator(latents, training=training))

    def sample_latents(self, batch_size, seed=None):
        """Standard normal noise for ``batch_size`` clips, shaped like ``generator.input``.

        Args:
            batch_size: int (or scalar tensor), the number of clips.
            seed: None (draw from the GAN's seed generator) or an int.

        Returns:
            A tensor ``(batch_size, *latent_shape)``, or a dict of them.
        """
        if seed is None:
            seed = self.seed_generator
        elif isinstance(seed, int):  # one generator, so that each input of a dict gets its own noise
            seed = keras.random.SeedGenerator(seed)
        return keras.tree.map_structure(
            lambda t: keras.random.normal((batch_size, *t.shape[1:]), seed=seed),
            self.generator.input,
        )

    def generate(self, n, seed=None, as_uint8=False):
        """Generate ``n`` clips ready to display.

        Args:
            n: int, the number of clips.
            seed: None or an int; the same int gives the same clips.
            as_uint8: bool; return ``uint8`` in ``[0, 255]`` instead of float
                in ``[0, 1]``.

        Returns:
            A NumPy array ``(n, T, H, W, C)``.
        """
        videos = ops.convert_to_numpy(self(self.sample_latents(n, seed=seed), training=False))
        videos = np.clip((videos.astype("float32") + 1.0) / 2.0, 0.0, 1.0)
        return np.round(videos * 255).astype("uint8") if as_uint8 else videos

    def train_step(self, *args):
        # TensorFlow and PyTorch call train_step(data); JAX calls
        # train_step(state, data) and expects (logs, new_state) back.
        return _gan_steps.train_step(self, *args)

    # The two objectives, shared by all backends. They call the networks
    # statefully and draw their own noise; `_gan_steps` wraps them in a
    # gradient tape, `loss.backward()` or a JAX stateless scope.

    def _discriminator_objective(self, real, input_gradient):
        """``(d_loss, (real_logits, fake_logits))`` on a batch of real clips."""
        latents = self.sample_latents(ops.shape(real)[0])
        fake = ops.stop_gradient(video_of(self.generator(latents, training=True)))
        real_logits = self.discriminator(real, training=True)
        fake_logits = self.discriminator(fake, training=True)
        loss = discriminator_loss(real_logits, fake_logits, self.loss_kind)
        if self.gradient_penalty > 0:
            gradients = input_gradient(lambda x: self.discriminator(x, training=True), real)
            loss = loss + self.gradient_penalty * r1_penalty(gradients)
        return loss, (real_logits, fake_logits)

    def _generator_objective(self, batch_size):
        """``(g_loss, fake_logits)`` for ``batch_size`` fresh clips."""
        fake = video_of(self.generator(self.sample_latents(batch_size), training=True))
        fake_logits = self.discriminator(fake, training=True)
        return generator_loss(fake_logits, self.loss_kind), fake_logits

    def get_config(self):
        return {
            "name": self.name,
            "seed": self.seed,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        generator = keras.saving.deserialize_keras_object(config.pop("generator"))
        discriminator = keras.saving.deserialize_keras_object(config.pop("discriminator"))
        return cls(generator, discriminator, **config)
