"""Augmentations that treat a clip as one thing: every frame gets the same crop, flip or mix.

Augmenting each frame on its own (a different crop per frame) makes the camera
shake and invents motion the video does not have; the papers' recipe (TSN,
I3D, SlowFast, VideoMAE) draws one random transform per clip and applies it to
all of its frames. The four layers here do that on batches of clips
``(batch, time, height, width, channels)``, in `keras.ops`, so they run on
every backend and inside a model or a data pipeline:

* `ClipRandomResizedCrop`: one box per clip (a random scale and aspect
  ratio), cut from every frame and resized;
* `ClipRandomFlip`: a left-right flip of the whole clip, or none;
* `ClipMixUp`: a convex mix of two clips and of their labels (Zhang et al. 2018);
* `ClipCutMix`: a box of another clip pasted into every frame, the labels
  mixed by the box's area (Yun et al. 2019).

They act in training only; at inference the crop takes the centre box and the
others pass their inputs through.
"""

import math

import keras
from keras import ops


def _check_clips(layer, clips):
    if len(clips.shape) != 5:
        raise ValueError(
            f"{layer} expects clips (batch, time, height, width, channels); got a tensor of shape {tuple(clips.shape)}."
        )


def _per_clip(values, rank=5):
    return ops.reshape(values, (-1,) + (1,) * (rank - 1))


def _interpolation(start, length, size, frame_size):
    """Bilinear weights ``(batch, size, frame_size)``: output pixel i of a box ``[start, start + length)``.

    Output pixel centres ``start + (i + 0.5) * length / size`` are sampled from the input pixel centres
    on either side (a triangle kernel, the edge pixel repeated outside the frame); each row sums to 1.
    """
    centres = start[:, None] + (ops.arange(size, dtype="float32")[None] + 0.5) * (length / size)[:, None] - 0.5
    centres = ops.clip(centres, 0.0, frame_size - 1.0)
    pixels = ops.arange(frame_size, dtype="float32")
    return ops.maximum(0.0, 1.0 - ops.abs(centres[:, :, None] - pixels[None, None]))


@keras.saving.register_keras_serializable(package="videokit")
class ClipRandomResizedCrop(keras.layers.Layer):
    """One random box per clip, cut from every frame and resized to ``(height, width)``.

    The box covers a fraction ``scale`` of the frame's area with an aspect
    ratio (width / height) in ``ratio``, drawn log-uniformly, and lies
    wholly inside the frame (Szegedy et al.'s crop, as torchvision's
    ``RandomResizedCrop``, drawn once per clip). At inference the box is the
    largest centred one of the output's aspect ratio.

    Args:
        height: int, output frame height.
        width: int, output frame width.
        scale: ``(min, max)`` fraction of the frame area.
        ratio: ``(min, max)`` aspect ratio of the box.
        seed: int or None.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: clips ``(batch, time, H, W, channels)``, floats.
        training: bool; random boxes only when true.

    Input shape:
        ``(batch, time, H, W, channels)``.

    Output shape:
        ``(batch, time, height, width, channels)``.

    Returns:
        The cropped clips.

    Example:

    >>> crop = ClipRandomResizedCrop(16, 16, seed=0)
    >>> clips = np.random.rand(2, 4, 32, 40, 3).astype("float32")
    >>> tuple(crop(clips, training=True).shape)
    (2, 4, 16, 16, 3)
    """

    def __init__(self, height, width, scale=(0.25, 1.0), ratio=(3 / 4, 4 / 3), seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f"ClipRandomResizedCrop expects 0 < scale[0] <= scale[1] <= 1; got scale={scale}.")
        if not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"ClipRandomResizedCrop expects 0 < ratio[0] <= ratio[1]; got ratio={ratio}.")
        self.height, self.width = height, width
        self.scale, self.ratio, self.seed = tuple(scale), tuple(ratio), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def boxes(self, batch, frame_height, frame_width, training=True):
        """``(top, left, box_height, box_width)`` per clip, each ``(batch,)`` float."""
        if not training:
            aspect = self.width / self.height
            box_height = min(frame_height, frame_width / aspect)
            box_width = box_height * aspect
            constant = ops.ones((batch,))
            return ((frame_height - box_height) / 2 * constant, (frame_width - box_width) / 2 * constant,
                    box_height * constant, box_width * constant)
        area = keras.random.uniform((batch,), *self.scale, seed=self.seed_generator) * frame_height * frame_width
        log_ratio = keras.random.uniform((batch,), math.log(self.ratio[0]), math.log(self.ratio[1]),
                                         seed=self.seed_generator)
        aspect = ops.exp(log_ratio)
        box_width = ops.minimum(ops.sqrt(area * aspect), float(frame_width))
        box_height = ops.minimum(ops.sqrt(area / aspect), float(frame_height))
        top = keras.random.uniform((batch,), seed=self.seed_generator) * (frame_height - box_height)
        left = keras.random.uniform((batch,), seed=self.seed_generator) * (frame_width - box_width)
        return top, left, box_height, box_width

    def call(self, inputs, training=False):
        _check_clips("ClipRandomResizedCrop", inputs)
        frame_height, frame_width = inputs.shape[2], inputs.shape[3]
        top, left, box_height, box_width = self.boxes(ops.shape(inputs)[0], frame_height, frame_width, training)
        rows = _interpolation(top, box_height, self.height, frame_height)  # (batch, height, H)
        columns = _interpolation(left, box_width, self.width, frame_width)  # (batch, width, W)
        inputs = ops.cast(inputs, self.compute_dtype)
        return ops.einsum("bih,bthwc,bjw->btijc", rows, inputs, columns)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:2], self.height, self.width, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width, "scale": self.scale,
                "ratio": self.ratio, "seed": self.seed}


@keras.saving.register_keras_serializable(package="videokit")
class ClipRandomFlip(keras.layers.Layer):
    """Flip each clip left-right with probability 1/2, all of its frames together.

    Mind the labels: a flip turns "moves left" into "moves right"; use it only
    where the classes are mirror-symmetric.

    Args:
        seed: int or None.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: clips ``(batch, time, height, width, channels)``.
        training: bool; flips only when true.

    Input shape:
        ``(batch, time, height, width, channels)``.

    Output shape:
        Same as the input.

    Returns:
        The clips, some flipped.

    Example:

    >>> clips = np.random.rand(8, 4, 6, 6, 1).astype("float32")
    >>> tuple(ClipRandomFlip(seed=0)(clips, training=True).shape)
    (8, 4, 6, 6, 1)
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        _check_clips("ClipRandomFlip", inputs)
        if not training:
            return inputs
        flip = keras.random.uniform((ops.shape(inputs)[0],), seed=self.seed_generator) < 0.5
        return ops.where(_per_clip(flip), ops.flip(inputs, axis=3), inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class _ClipMix(keras.layers.Layer):
    """Shared by `ClipMixUp` and `ClipCutMix`: each clip is mixed with another clip of the batch."""

    def __init__(self, alpha, seed=None, **kwargs):
        super().__init__(**kwargs)
        if alpha <= 0:
            raise ValueError(f"{type(self).__name__} expects alpha > 0; got {alpha!r}.")
        self.alpha, self.seed = alpha, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _partners_and_weights(self, batch):
        partners = keras.random.shuffle(ops.arange(batch), seed=self.seed_generator)
        weights = keras.random.beta((batch,), self.alpha, self.alpha, seed=self.seed_generator)
        return partners, weights

    def call(self, inputs, training=False):
        if not isinstance(inputs, dict) or set(inputs) != {"clips", "labels"}:
            raise ValueError(
                f"{type(self).__name__} expects a dict {{'clips': (batch, T, H, W, C), 'labels': (batch, classes) "
                f"one-hot}}; got {type(inputs).__name__} {sorted(inputs) if isinstance(inputs, dict) else ''}."
            )
        clips, labels = inputs["clips"], ops.cast(inputs["labels"], self.compute_dtype)
        _check_clips(type(self).__name__, clips)
        if not training:
            return {"clips": clips, "labels": labels}
        partners, weights = self._partners_and_weights(ops.shape(clips)[0])
        clips, own_share = self._mix(clips, ops.take(clips, partners, axis=0), weights)
        labels = own_share[:, None] * labels + (1.0 - own_share[:, None]) * ops.take(labels, partners, axis=0)
        return {"clips": clips, "labels": labels}

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "seed": self.seed}


@keras.saving.register_keras_serializable(package="videokit")
class ClipMixUp(_ClipMix):
    """MixUp for clips: ``w * clip + (1 - w) * other clip``, labels mixed with the same ``w ~ Beta(a, a)``.

    Args:
        alpha: the Beta distribution's parameter (0.2 to 1 is usual).
        seed: int or None.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: ``{"clips": (batch, T, H, W, C), "labels": (batch, classes)}``, one-hot labels.
        training: bool; mixes only when true.

    Input shape:
        The dict above.

    Output shape:
        The same dict; the labels sum to 1 per clip.

    Returns:
        The mixed clips and labels.

    Example:

    >>> batch = {"clips": np.random.rand(4, 2, 8, 8, 3).astype("float32"), "labels": np.eye(4, dtype="float32")}
    >>> mixed = ClipMixUp(alpha=0.4, seed=0)(batch, training=True)
    >>> np.allclose(keras.ops.convert_to_numpy(mixed["labels"]).sum(axis=1), 1.0)
    True
    """

    def _mix(self, clips, others, weights):
        weights = ops.cast(weights, clips.dtype)
        return _per_clip(weights) * clips + (1.0 - _per_clip(weights)) * others, weights


@keras.saving.register_keras_serializable(package="videokit")
class ClipCutMix(_ClipMix):
    """CutMix for clips: a box of another clip pasted into every frame (a tube), labels mixed by area.

    The box has a fraction ``1 - w`` of the frame's area (``w ~ Beta(a, a)``),
    a random centre, and is clipped to the frame; the labels are mixed by the
    area actually pasted.

    Args:
        alpha: the Beta distribution's parameter (1 is usual).
        seed: int or None.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: ``{"clips": (batch, T, H, W, C), "labels": (batch, classes)}``, one-hot labels.
        training: bool; mixes only when true.

    Input shape:
        The dict above.

    Output shape:
        The same dict; the labels sum to 1 per clip.

    Returns:
        The mixed clips and labels.

    Example:

    >>> batch = {"clips": np.random.rand(4, 2, 8, 8, 3).astype("float32"), "labels": np.eye(4, dtype="float32")}
    >>> tuple(ClipCutMix(alpha=1.0, seed=0)(batch, training=True)["clips"].shape)
    (4, 2, 8, 8, 3)
    """

    def _mix(self, clips, others, weights):
        height, width = clips.shape[2], clips.shape[3]
        side = ops.sqrt(1.0 - weights)
        centre_y = keras.random.uniform(ops.shape(weights), 0, height, seed=self.seed_generator)
        centre_x = keras.random.uniform(ops.shape(weights), 0, width, seed=self.seed_generator)
        rows, columns = ops.arange(height, dtype="float32") + 0.5, ops.arange(width, dtype="float32") + 0.5
        inside_rows = ops.abs(rows[None] - centre_y[:, None]) < (side * height / 2)[:, None]  # (batch, H)
        inside_columns = ops.abs(columns[None] - centre_x[:, None]) < (side * width / 2)[:, None]  # (batch, W)
        box = ops.logical_and(inside_rows[:, :, None], inside_columns[:, None, :])  # (batch, H, W), every frame
        pasted = ops.mean(ops.cast(box, "float32"), axis=(1, 2))
        mixed = ops.where(box[:, None, :, :, None], others, clips)
        return mixed, ops.cast(1.0 - pasted, clips.dtype)
