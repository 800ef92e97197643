"""Datasets of real video files in the UCF101 / HMDB51 folder layouts."""

import copy
import logging
import pathlib
import re

import numpy as np
from tqdm import tqdm

from videokit import io

VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".gif")
_HMDB_SPLIT = re.compile(r"^(?P<label>.+)_test_split(?P<split>\d+)\.txt$")
logger = logging.getLogger("videokit")


class VideoFolder:
    """Video clips from a folder with one sub-folder per class.

    The layout is UCF101's and HMDB51's: ``root/<class name>/<video file>``.
    Class names are the sub-folder names, sorted, so label numbers are stable.
    An official split can restrict the videos:

    * UCF101: ``split_file`` is a ``trainlist01.txt`` / ``testlist01.txt``
      style list of ``<class>/<file> [label]`` lines relative to ``root``.
    * HMDB51: ``split_file`` is the folder of ``<class>_test_split<N>.txt``
      files, with ``split`` (1, 2 or 3) and ``subset`` (``"train"`` or
      ``"test"``) choosing the lines marked 1 or 2.

    Each clip is sampled with ``read_video``'s policies and resized by
    FFmpeg; augmentation (``augment=True``) takes one random crop position
    and one horizontal flip decision per clip, the same for all its frames.

    Args:
        root: the dataset folder.
        num_frames: frames per clip.
        size: ``(height, width)`` (or an int) frames are resized to.
        crop_size: ``(height, width)`` of the crop taken from the resized
            frames (random with ``augment``, centred otherwise); ``None``
            keeps the whole frame.
        frame_step: distance between frames of a clip.
        sampling: clip policy, ``"random"`` by default for training; use
            ``"center"`` or ``"uniform"`` for evaluation.
        augment: random crop and horizontal flip, consistent over a clip.
        split_file: an official split list (UCF101) or folder (HMDB51).
        split: HMDB51 split number.
        subset: HMDB51 subset, ``"train"`` or ``"test"``.
        on_error: ``"raise"`` stops at the first unreadable video;
            ``"skip"`` logs a warning naming it and uses another clip.
        seed: seed for sampling and augmentation.

    Example:

    >>> train = VideoFolder("UCF-101", split_file="ucfTrainTestlist/trainlist01.txt",
    ...                     num_frames=16, size=(128, 171), crop_size=112, augment=True)  # doctest: +SKIP
    >>> model.fit(train.as_pydataset(batch_size=8, shuffle=True, workers=4))  # doctest: +SKIP
    """

    def __init__(self, root, *, num_frames=16, size=(112, 112), crop_size=None, frame_step=1,
                 sampling="random", augment=False, split_file=None, split=1, subset="train",
                 on_error="raise", seed=0):
        self.root = pathlib.Path(root)
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}.")
        if sampling not in io.SAMPLING_POLICIES:
            raise ValueError(f"sampling must be one of {io.SAMPLING_POLICIES}, got {sampling!r}.")
        self.num_frames, self.frame_step, self.sampling = num_frames, frame_step, sampling
        self.size = _pair(size, "size")
        self.crop_size = _pair(crop_size, "crop_size") if crop_size is not None else self.size
        if self.crop_size[0] > self.size[0] or self.crop_size[1] > self.size[1]:
            raise ValueError(f"crop_size {self.crop_size} must fit inside size {self.size}.")
        self.augment, self.on_error, self.seed = augment, on_error, seed
        self.class_names = _class_names(self.root)
        self.samples = _samples(self.root, self.class_names, split_file, split, subset)
        self.skipped = []

    def __len__(self):
        return len(self.samples)

    @property
    def clip_shape(self):
        """``(num_frames, height, width, 3)`` of every clip."""
        return (self.num_frames, *self.crop_size, 3)

    @property
    def labels(self):
        return np.array([label for _, label in self.samples], dtype=np.int32)

    def load(self, index, *, epoch=0):
        """Load clip ``index`` as ``float32`` in ``[0, 1]`` with its label.

        The randomness (clip position, crop, flip) depends only on
        ``(seed, epoch, index)``, so loading is reproducible and gives the
        same result in any worker process. ``epoch`` is any integer: the
        PyDataset passes the epoch number, the tf.data pipeline a fresh random
        number per pass.
        """
        rng = np.random.default_rng([self.seed, epoch, index])
        for attempt in range(len(self.samples)):
            path, label = self.samples[(index + attempt) % len(self.samples)]
            try:
                clip = io.read_video(path, num_frames=self.num_frames, frame_step=self.frame_step,
                                     size=self.size, sampling=self.sampling, seed=rng)
            except io.VideoReadError as error:
                if self.on_error == "raise":
                    raise
                self._record_skip(path, error)
                continue
            return self._crop_and_flip(clip, rng).astype(np.float32) / 255.0, label
        raise io.VideoReadError(self.root, "no readable video in the dataset.")

    def check(self, progress=True):
        """Probe every video once and drop (``on_error="skip"``) or report the unreadable ones.

        Returns:
            The list of ``(path, problem)`` pairs found.
        """
        problems, good = [], []
        for path, label in tqdm(self.samples, desc="checking videos", unit="video", disable=not progress):
            try:
                info = io.probe(path)
                io.sample_indices(info.num_frames, self.num_frames, frame_step=self.frame_step,
                                  sampling="clip" if self.sampling != "uniform" else "uniform")
                good.append((path, label))
            except ValueError as error:
                problems.append((path, str(error)))
        if problems and self.on_error == "raise":
            raise io.VideoReadError(problems[0][0], f"{problems[0][1]} ({len(problems)} unreadable videos in all)")
        self.samples = good
        for path, problem in problems:
            self._record_skip(path, problem)
        return problems

    def split(self, validation_fraction=0.2):
        """Split into training and validation folders, stratified by class.

        Every class gives its last ``validation_fraction`` of videos (at least
        one) to validation. The validation folder samples centred clips
        without augmentation.

        Returns:
            A tuple ``(train, validation)`` of ``VideoFolder`` objects.
        """
        if not 0 < validation_fraction < 1:
            raise ValueError(f"validation_fraction must be between 0 and 1, got {validation_fraction}.")
        train, validation = copy.copy(self), copy.copy(self)
        train.samples, validation.samples = [], []
        for label in range(len(self.class_names)):
            videos = [sample for sample in self.samples if sample[1] == label]
            held_out = max(1, round(len(videos) * validation_fraction)) if len(videos) > 1 else 0
            train.samples += videos[: len(videos) - held_out]
            validation.samples += videos[len(videos) - held_out :]
        if not validation.samples:
            raise ValueError(f"{self.root}: too few videos to hold any out for validation.")
        validation.sampling, validation.augment = "center", False
        train.skipped = validation.skipped = []
        return train, validation

    def as_pydataset(self, batch_size=8, *, shuffle=True, workers=1, use_multiprocessing=False,
                     max_queue_size=10):
        """A ``keras.utils.PyDataset`` of ``(clips, labels)`` batches (any backend)."""
        from videokit.data.sequence import ClipSequence

        return ClipSequence(self, batch_size, shuffle=shuffle, workers=workers,
                            use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size)

    def as_tf_dataset(self, batch_size=8, *, shuffle=True, num_parallel_calls=None):
        """A ``tf.data.Dataset`` of ``(clips, labels)`` batches; imports TensorFlow."""
        from videokit.data.tf_dataset import folder_to_tf_dataset

        return folder_to_tf_dataset(self, batch_size, shuffle=shuffle, num_parallel_calls=num_parallel_calls)

    def _crop_and_flip(self, clip, rng):
        height, width = self.crop_size
        spare_y, spare_x = self.size[0] - height, self.size[1] - width
        if self.augment:
            top, left = int(rng.integers(spare_y + 1)), int(rng.integers(spare_x + 1))
        else:
            top, left = spare_y // 2, spare_x // 2
        clip = clip[:, top : top + height, left : left + width]
        if self.augment and rng.random() < 0.5:
            clip = clip[:, :, ::-1]
        return clip

    def _record_skip(self, path, problem):
        self.skipped.append(str(path))
        logger.warning("videokit: skipped %s (%s); %d video(s) skipped so far.", path, problem, len(self.skipped))


def _pair(value, name):
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"{name} must be a positive int or (height, width), got {value!r}.")
    return tuple(int(v) for v in pair)


def _class_names(root):
    if not root.is_dir():
        raise ValueError(f"{root}: dataset folder not found.")
    names = sorted(entry.name for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith("."))
    if not names:
        raise ValueError(f"{root}: no class folders found; expected one sub-folder of videos per class.")
    return names


def _samples(root, class_names, split_file, split, subset):
    if split_file is None:
        samples = _folder_samples(root, class_names)
    elif pathlib.Path(split_file).is_dir():
        samples = _hmdb_samples(root, class_names, pathlib.Path(split_file), split, subset)
    else:
        samples = _ucf_samples(root, class_names, pathlib.Path(split_file))
    if not samples:
        raise ValueError(f"{root}: no video files found (looked for {', '.join(VIDEO_SUFFIXES)}).")
    return samples


def _folder_samples(root, class_names):
    return [
        (path, label)
        for label, name in enumerate(class_names)
        for path in sorted((root / name).iterdir())
        if path.suffix.lower() in VIDEO_SUFFIXES
    ]


def _ucf_samples(root, class_names, split_file):
    if not split_file.is_file():
        raise ValueError(f"{split_file}: split file not found.")
    label_of = {name: label for label, name in enumerate(class_names)}
    samples = []
    for number, line in enumerate(split_file.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        relative = line.split()[0]
        class_name = relative.replace("\\", "/").split("/")[0]
        if class_name not in label_of:
            raise ValueError(
                f"{split_file}, line {number}: unknown class {class_name!r}; "
                f"{root} has class folders {class_names[:5]}{'...' if len(class_names) > 5 else ''}."
            )
        path = root / relative
        if not path.is_file():
            raise ValueError(f"{split_file}, line {number}: {path} does not exist.")
        samples.append((path, label_of[class_name]))
    return samples


def _hmdb_samples(root, class_names, split_dir, split, subset):
    if subset not in ("train", "test"):
        raise ValueError(f"subset must be 'train' or 'test', got {subset!r}.")
    wanted_mark = "1" if subset == "train" else "2"
    label_of = {name: label for label, name in enumerate(class_names)}
    samples = []
    for split_file in sorted(split_dir.iterdir()):
        match = _HMDB_SPLIT.match(split_file.name)
        if not match or int(match["split"]) != split:
            continue
        class_name = match["label"]
        if class_name not in label_of:
            raise ValueError(f"{split_file}: unknown class {class_name!r}; no folder {root / class_name}.")
        for line in split_file.read_text().split("\n"):
            parts = line.split()
            if len(parts) == 2 and parts[1] == wanted_mark:
                samples.append((root / class_name / parts[0], label_of[class_name]))
    return samples

