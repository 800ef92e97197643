"""Training augmentation for clips, drawn once per clip and applied to all of its frames.

Pure NumPy, so the same code runs under every Keras backend, inside tf.data's
loading threads, a ``PyDataset`` and after the frame cache. Every random
choice comes from the ``numpy.random.Generator`` it is given (``VideoFolder``
seeds one per ``(seed, epoch, clip)``), so augmentation is reproducible.

The operations, by name (``Augmentation("crop,flip,mixup")``):

* where the frames go (at most one of these four): ``shift``, a crop of the
  output size at a random place (what ``augment=True`` has always done);
  ``crop``, a random resized crop (a random area fraction ``crop_scale`` and
  aspect ratio ``crop_ratio``, resized to the output size; Szegedy et al.,
  as torchvision's ``RandomResizedCrop``); ``multiscale``, TSN's multi-scale
  crop (each side ``1``, ``.875``, ``.75`` or ``.66`` of the frame's shorter
  side, at a corner or the centre, resized); ``scale``, scale jitter (the
  frames enlarged by a random factor in ``scale_range``, then cut at a random
  place);
* ``flip``: a left-right flip of the whole clip with probability 1/2;
* ``jitter``: the whole clip moved by a random number of frames, up to
  ``max_shift`` either way (kept inside the video);
* ``speed``: a frame-rate change: the clip's frames spread
  ``r`` times further apart around its centre, ``r`` log-uniform in
  ``[1 / max_speed, max_speed]``;
* ``mixup`` and ``cutmix`` (batches, with their labels): each clip mixed with
  another clip of the batch, its one-hot label mixed in the same proportion
  (Zhang et al. 2018; Yun et al. 2019, the box the same in every frame).
  With both, each batch uses one of them, at random.

Spatial operations take one box (and one flip decision) per clip; temporal
ones move all of a clip's frame indices together. Nothing is drawn per frame.
"""

import dataclasses
import math

import numpy as np

BOXES = ("shift", "crop", "multiscale", "scale")
OPERATIONS = (*BOXES, "flip", "jitter", "speed", "mixup", "cutmix")
MULTISCALE_SIDES = (1.0, 0.875, 0.75, 0.66)


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """Which clip augmentations to apply, and their parameters.

    Args:
        operations: names from ``OPERATIONS``, as a comma-separated string
            (``"crop,flip,mixup"``) or a sequence; ``"none"`` or ``""`` for none.
        crop_scale: ``(min, max)`` area fraction of ``crop``'s box.
        crop_ratio: ``(min, max)`` aspect ratio (width / height) of ``crop``'s box.
        scale_range: ``(min, max)`` enlargement factor of ``scale`` (at least 1).
        max_shift: frames ``jitter`` may move a clip either way.
        max_speed: ``speed``'s largest frame-rate factor (more than 1).
        mixup_alpha: ``mixup``'s Beta parameter.
        cutmix_alpha: ``cutmix``'s Beta parameter.

    Example:

    >>> augmentation = Augmentation("crop,flip")
    >>> clip = np.zeros((8, 40, 40, 3), np.uint8)
    >>> augmentation.spatial(clip, (32, 32), np.random.default_rng(0)).shape
    (8, 32, 32, 3)
    """

    operations: tuple = ()
    crop_scale: tuple = (0.25, 1.0)
    crop_ratio: tuple = (3 / 4, 4 / 3)
    scale_range: tuple = (1.0, 1.25)
    max_shift: int = 4
    max_speed: float = 2.0
    mixup_alpha: float = 0.2
    cutmix_alpha: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "operations", parse_operations(self.operations))
        if not 0 < self.crop_scale[0] <= self.crop_scale[1] <= 1:
            raise ValueError(f"crop_scale must be (min, max) with 0 < min <= max <= 1; got {self.crop_scale}.")
        if not 0 < self.crop_ratio[0] <= self.crop_ratio[1]:
            raise ValueError(f"crop_ratio must be (min, max) with 0 < min <= max; got {self.crop_ratio}.")
        if not 1 <= self.scale_range[0] <= self.scale_range[1]:
            raise ValueError(f"scale_range must be (min, max) with 1 <= min <= max; got {self.scale_range}.")
        if self.max_shift < 0 or self.max_speed <= 1:
            raise ValueError(f"max_shift must be at least 0 and max_speed more than 1; got {self.max_shift} and "
                             f"{self.max_speed}.")
        if self.mixup_alpha <= 0 or self.cutmix_alpha <= 0:
            raise ValueError(f"mixup_alpha and cutmix_alpha must be positive; got {self.mixup_alpha} and "
                             f"{self.cutmix_alpha}.")

    def __bool__(self):
        return bool(self.operations)

    @property
    def mixes(self):
        """Whether batches are mixed (``mixup`` or ``cutmix``), so that labels become soft one-hot rows."""
        return "mixup" in self.operations or "cutmix" in self.operations

    # ------------------------------------------------------------------
    # Time

    def frame_indices(self, indices, num_video_frames, rng):
        """A clip's frame indices after ``speed`` and ``jitter``: all moved together, kept in the video.

        Args:
            indices: the sampler's frame indices of one clip, non-decreasing.
            num_video_frames: frames in the video.
            rng: a ``numpy.random.Generator``.

        Returns:
            An ``int64`` array of the same length.
        """
        positions = np.asarray(indices, dtype=np.float64)
        if "speed" in self.operations:
            rate = math.exp(rng.uniform(-math.log(self.max_speed), math.log(self.max_speed)))
            centre = (positions[0] + positions[-1]) / 2
            positions = centre + (positions - centre) * rate
        if "jitter" in self.operations:
            positions = positions + int(rng.integers(-self.max_shift, self.max_shift + 1))
        positions = np.round(positions)
        low, high = positions.min(), positions.max()
        if high - low <= num_video_frames - 1:  # it fits: slide it back inside, keeping its spacing
            positions -= min(low, 0) + max(high - (num_video_frames - 1), 0)
        return np.clip(positions, 0, num_video_frames - 1).astype(np.int64)

    # ------------------------------------------------------------------
    # Space

    def box(self, frame_size, out_size, rng):
        """One box ``(top, left, height, width)`` in pixels (floats) of a ``frame_size`` frame, for a clip."""
        frame_height, frame_width = frame_size
        out_height, out_width = out_size
        if "crop" in self.operations:
            return self._random_resized_box(frame_height, frame_width, rng)
        if "multiscale" in self.operations:
            short = min(frame_height, frame_width)
            height, width = (min(short * rng.choice(MULTISCALE_SIDES), size) for size in frame_size)
            places = [(0, 0), (0, 1), (1, 0), (1, 1), (0.5, 0.5)]  # corners and the centre
            down, right = places[int(rng.integers(len(places)))]
            return (frame_height - height) * down, (frame_width - width) * right, height, width
        if "scale" in self.operations:
            factor = rng.uniform(*self.scale_range)
            height, width = out_height / factor, out_width / factor
            return rng.uniform(0, frame_height - height), rng.uniform(0, frame_width - width), height, width
        height, width = out_height, out_width
        if "shift" in self.operations:
            return float(rng.integers(frame_height - height + 1)), float(rng.integers(frame_width - width + 1)), \
                height, width
        return (frame_height - height) // 2, (frame_width - width) // 2, height, width

    def spatial(self, clip, out_size, rng):
        """Cut one box from every frame of ``clip`` ``(T, H, W, C)``, resize it to ``out_size``, maybe flip it.

        A box of exactly ``out_size`` on whole pixels is cut without
        resampling; any other is resampled bilinearly. ``uint8`` clips stay
        ``uint8`` (rounded).
        """
        top, left, height, width = self.box(clip.shape[1:3], out_size, rng)
        if (height, width) == tuple(out_size) and float(top).is_integer() and float(left).is_integer():
            top, left = int(top), int(left)
            clip = clip[:, top : top + out_size[0], left : left + out_size[1]]
        else:
            clip = resize_box(clip, (top, left, height, width), out_size)
        if "flip" in self.operations and rng.random() < 0.5:
            clip = clip[:, :, ::-1]
        return clip

    def _random_resized_box(self, frame_height, frame_width, rng):
        area = rng.uniform(*self.crop_scale) * frame_height * frame_width
        aspect = math.exp(rng.uniform(math.log(self.crop_ratio[0]), math.log(self.crop_ratio[1])))
        width = min(math.sqrt(area * aspect), frame_width)
        height = min(math.sqrt(area / aspect), frame_height)
        return rng.uniform(0, frame_height - height), rng.uniform(0, frame_width - width), height, width

    # ------------------------------------------------------------------
    # Batches

    def mix(self, clips, labels, num_classes, rng):
        """MixUp or CutMix a batch: ``(clips, soft_labels)``, each label row summing to 1.

        Args:
            clips: ``(batch, T, H, W, C)``.
            labels: ``(batch,)`` class numbers.
            num_classes: the number of classes.
            rng: a ``numpy.random.Generator``.

        Returns:
            The mixed clips (the input's dtype; ``uint8`` rounded) and
            ``float32`` labels ``(batch, num_classes)``.
        """
        one_hot = np.eye(num_classes, dtype=np.float32)[np.asarray(labels)]
        kinds = [kind for kind in ("mixup", "cutmix") if kind in self.operations]
        if not kinds:
            return clips, one_hot
        kind = kinds[int(rng.integers(len(kinds)))]
        partners = rng.permutation(len(clips))
        if kind == "mixup":
            own = rng.beta(self.mixup_alpha, self.mixup_alpha, len(clips)).astype(np.float32)
            mixed = own[:, None, None, None, None] * clips + (1 - own[:, None, None, None, None]) * clips[partners]
        else:
            mixed, own = _cut_and_paste(clips, partners, rng.beta(self.cutmix_alpha, self.cutmix_alpha, len(clips)),
                                        rng)
        if clips.dtype == np.uint8:
            mixed = np.clip(np.round(mixed), 0, 255).astype(np.uint8)
        labels = own[:, None] * one_hot + (1 - own[:, None]) * one_hot[partners]
        return mixed.astype(clips.dtype, copy=False), labels.astype(np.float32)


def parse_operations(operations):
    """``"crop,flip"`` or ``["crop", "flip"]`` -> ``("crop", "flip")``, checked; ``"none"`` -> ``()``."""
    if operations is None or operations is False:
        return ()
    if operations is True:
        return ("shift", "flip")
    names = operations.split(",") if isinstance(operations, str) else list(operations)
    names = tuple(name.strip() for name in names if name.strip() and name.strip() != "none")
    unknown = [name for name in names if name not in OPERATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation {unknown[0]!r}; choose from {', '.join(OPERATIONS)} "
                         "(comma-separated, e.g. crop,flip,mixup), or none.")
    boxes = [name for name in names if name in BOXES]
    if len(boxes) > 1:
        raise ValueError(f"augmentations {' and '.join(boxes)} both choose the crop box; keep one of "
                         f"{', '.join(BOXES)}.")
    return tuple(dict.fromkeys(names))


def as_augmentation(augment):
    """An ``Augmentation`` from what ``VideoFolder(augment=...)`` takes: a bool, names, or an ``Augmentation``."""
    return augment if isinstance(augment, Augmentation) else Augmentation(augment)


def resize_box(clip, box, out_size):
    """Bilinear resampling of the box ``(top, left, height, width)`` of every frame to ``out_size``.

    Output pixel ``i`` samples the box at ``top + (i + 1/2) * height / out_height``
    (pixel centres), from the input pixel centres on either side; the same
    weights for every frame.
    """
    top, left, height, width = box
    rows = _weights(top, height, out_size[0], clip.shape[1])  # (out_height, H)
    columns = _weights(left, width, out_size[1], clip.shape[2])  # (out_width, W)
    frames = clip.astype(np.float32)
    resized = np.einsum("ih,thwc->tiwc", rows, frames, optimize=True)
    resized = np.einsum("jw,tiwc->tijc", columns, resized, optimize=True)
    if clip.dtype == np.uint8:
        return np.clip(np.round(resized), 0, 255).astype(np.uint8)
    return resized.astype(clip.dtype, copy=False)


def _weights(start, length, size, frame_size):
    centres = start + (np.arange(size, dtype=np.float32) + 0.5) * (length / size) - 0.5
    centres = np.clip(centres, 0.0, frame_size - 1.0)
    return np.maximum(0.0, 1.0 - np.abs(centres[:, None] - np.arange(frame_size, dtype=np.float32)[None]))


def _cut_and_paste(clips, partners, own_share, rng):
    """CutMix: a box of ``1 - own_share`` of the frame area from the partner clip, in every frame."""
    height, width = clips.shape[2:4]
    mixed = clips.copy()
    kept = np.empty(len(clips), np.float32)
    for number, (partner, share) in enumerate(zip(partners, own_share)):
        side = math.sqrt(1 - share)
        centre_y, centre_x = rng.uniform(0, height), rng.uniform(0, width)
        top, bottom = (int(np.clip(round(centre_y + sign * side * height / 2), 0, height)) for sign in (-1, 1))
        left, right = (int(np.clip(round(centre_x + sign * side * width / 2), 0, width)) for sign in (-1, 1))
        mixed[number, :, top:bottom, left:right] = clips[partner, :, top:bottom, left:right]
        kept[number] = 1 - (bottom - top) * (right - left) / (height * width)
    return mixed, kept
