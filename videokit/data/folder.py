"""Datasets of real video files in the UCF101 / HMDB51 folder layouts."""

import concurrent.futures
import copy
import functools
import hashlib
import logging
import os
import pathlib
import re
import shutil
import uuid

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

    Decoding costs more than training a small model on a clip. With
    ``cache_dir`` every video is decoded once, whole, into ``uint8`` frames of
    ``size`` (one ``.npy`` file per video, named after the file, its size and
    modification time, and the frame size), and every later clip, epoch and
    run is cut from that file: the same frames as decoding would give, with
    the sampling, crop and flip still drawn afresh each epoch. The cache takes
    ``frames * height * width * 3`` bytes per video; ``prepare_cache()``
    fills it up front with a progress bar, after checking the free space.

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
        cache_dir: a folder for decoded frames (see above), or ``None`` to
            decode every clip from the video file.

    Example:

    >>> train = VideoFolder("UCF-101", split_file="ucfTrainTestlist/trainlist01.txt",
    ...                     num_frames=16, size=(128, 171), crop_size=112, augment=True)  # doctest: +SKIP
    >>> model.fit(train.as_pydataset(batch_size=8, shuffle=True, workers=4))  # doctest: +SKIP
    """

    def __init__(self, root, *, num_frames=16, size=(112, 112), crop_size=None, frame_step=1,
                 sampling="random", augment=False, split_file=None, split=1, subset="train",
                 on_error="raise", seed=0, cache_dir=None):
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
        self.cache_dir = pathlib.Path(cache_dir) if cache_dir is not None else None
        self._cache_paths = {}
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

    def load(self, index, *, epoch=0, dtype="float32"):
        """Load clip ``index`` with its label.

        The randomness (clip position, crop, flip) depends only on
        ``(seed, epoch, index)``, so loading is reproducible and gives the
        same result in any worker process. ``epoch`` is any integer: the
        PyDataset passes the epoch number, the tf.data pipeline a fresh random
        number per pass.

        Args:
            index: clip number, from 0 to ``len(self) - 1``.
            epoch: any integer; new values draw new random clips.
            dtype: ``"float32"`` scales the frames to ``[0, 1]``; ``"uint8"``
                keeps them as decoded, for pipelines that scale them later.
        """
        if dtype not in ("float32", "uint8"):
            raise ValueError(f"dtype must be 'float32' or 'uint8', got {dtype!r}.")
        rng = np.random.default_rng([self.seed, epoch, index])
        for attempt in range(len(self.samples)):
            path, label = self.samples[(index + attempt) % len(self.samples)]
            try:
                clip = self._read_clip(path, rng)
            except io.VideoReadError as error:
                if self.on_error == "raise":
                    raise
                self._record_skip(path, error)
                continue
            clip = self._crop_and_flip(clip, rng)
            return (clip.astype(np.float32) / 255.0 if dtype == "float32" else np.ascontiguousarray(clip)), label
        raise io.VideoReadError(self.root, "no readable video in the dataset.")

    def prepare_cache(self, progress=True, workers=None):
        """Decode every video not yet in ``cache_dir`` into it, in parallel threads.

        Checks first that the decoded frames fit in the free disk space.
        Unreadable videos are handled as ``on_error`` says: ``"raise"`` stops
        at the first, ``"skip"`` drops them from the dataset.

        Args:
            progress: show a tqdm progress bar.
            workers: decoding threads (default: one per CPU core).

        Returns:
            The number of videos decoded.
        """
        if self.cache_dir is None:
            raise ValueError("prepare_cache() needs a VideoFolder made with cache_dir=...")
        missing = [path for path, _ in self.samples if not self._cache_path(path).exists()]
        if not missing:
            return 0
        self._check_free_space(missing)
        unreadable = set()
        with concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count()) as pool:
            decoding = {pool.submit(self._cached_frames, path): path for path in missing}
            for done in tqdm(concurrent.futures.as_completed(decoding), total=len(missing), unit="video",
                             desc=f"decoding videos into {self.cache_dir}", disable=not progress):
                try:
                    done.result()
                except io.VideoReadError as error:
                    if self.on_error == "raise":
                        pool.shutdown(cancel_futures=True)  # stop now, not after decoding every other video
                        raise
                    unreadable.add(decoding[done])
                    self._record_skip(decoding[done], error)
        self.samples = [sample for sample in self.samples if sample[0] not in unreadable]
        return len(missing) - len(unreadable)

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
        from videokit.tf_support import folder_to_tf_dataset

        return folder_to_tf_dataset(self, batch_size, shuffle=shuffle, num_parallel_calls=num_parallel_calls)

    def _read_clip(self, path, rng):
        if self.cache_dir is None:
            return io.read_video(path, num_frames=self.num_frames, frame_step=self.frame_step,
                                 size=self.size, sampling=self.sampling, seed=rng)
        frames = self._cached_frames(path)
        try:
            wanted = io.sample_indices(len(frames), self.num_frames, frame_step=self.frame_step,
                                       sampling=self.sampling, seed=rng)
        except ValueError as error:
            raise io.VideoReadError(path, str(error)) from None
        return frames[wanted]

    def _cached_frames(self, path):
        """All frames of ``path`` at ``size``, from the cache or decoded into it."""
        cached = self._cache_path(path)
        if cached.exists():
            return _open_cached(cached)
        frames = io.read_video(path, size=self.size, sampling="all")
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f".{cached.stem}.{uuid.uuid4().hex}.partial.npy")
        np.save(partial, frames)
        os.replace(partial, cached)  # readers never see half a file
        return frames

    def _cache_path(self, path):
        """Where the frames of ``path`` go; looked up once per video (the file is assumed not to change)."""
        if path not in self._cache_paths:
            try:
                status = path.stat()
            except FileNotFoundError:
                raise io.VideoReadError(path, "no such file.") from None
            key = f"{path.resolve()}|{status.st_size}|{status.st_mtime_ns}|{self.size[0]}x{self.size[1]}"
            digest = hashlib.sha1(key.encode()).hexdigest()[:16]
            self._cache_paths[path] = self.cache_dir / f"{path.stem}.{self.size[0]}x{self.size[1]}.{digest}.npy"
        return self._cache_paths[path]

    def _check_free_space(self, paths):
        """Refuse to start a cache that would fill the disk (estimated from up to 64 videos)."""
        probed = paths[:: max(1, len(paths) // 64)]
        frames = sum(_frame_count(path) for path in probed) * len(paths) / len(probed)
        needed = frames * self.size[0] * self.size[1] * 3
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ValueError(f"{self.cache_dir}: cannot make the cache folder ({error.strerror}).") from None
        free = shutil.disk_usage(self.cache_dir).free
        if needed > 0.9 * free:
            raise ValueError(
                f"{self.cache_dir}: the decoded frames of {len(paths)} videos need about {needed / 2**30:.1f} GiB "
                f"and only {free / 2**30:.1f} GiB are free; choose another cache folder or a smaller frame size."
            )

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


def official_split(root, split_path, split=1, **options):
    """The training and test sets of an official UCF101 or HMDB51 split.

    Args:
        root: the dataset folder (one sub-folder of videos per class).
        split_path: UCF101's ``ucfTrainTestlist`` folder or one of its
            ``trainlistNN.txt`` files (the ``testlistNN.txt`` beside it is the
            test set), or HMDB51's folder of ``<class>_test_split<N>.txt``
            files.
        split: which of the three official splits (1, 2 or 3); ignored when
            ``split_path`` names a training list.
        **options: ``VideoFolder`` arguments (``num_frames``, ``size``,
            ``augment``, ``cache_dir``...) for the training set; the test set
            takes the same but samples centred clips without augmentation.

    Returns:
        A tuple ``(train, test)`` of ``VideoFolder`` objects.

    Example:

    >>> train, test = official_split("UCF-101", "ucfTrainTestlist", split=1, num_frames=16,
    ...                              size=(128, 171), crop_size=112, augment=True)  # doctest: +SKIP
    """
    split_path = pathlib.Path(split_path)
    if split not in (1, 2, 3):
        raise ValueError(f"split must be 1, 2 or 3, got {split!r}.")
    train_list = split_path / f"trainlist{split:02d}.txt" if split_path.is_dir() else split_path
    test_options = dict(options, sampling="center", augment=False)
    if train_list.is_file():
        if "trainlist" not in train_list.name:
            raise ValueError(f"{train_list}: expected a UCF101 training list named like trainlist01.txt.")
        test_list = train_list.with_name(train_list.name.replace("trainlist", "testlist"))
        if not test_list.is_file():
            raise ValueError(f"{test_list}: the test list of {train_list.name} is missing.")
        return (VideoFolder(root, split_file=train_list, **options),
                VideoFolder(root, split_file=test_list, **test_options))
    if split_path.is_dir() and any(split_path.glob(f"*_test_split{split}.txt")):
        return (VideoFolder(root, split_file=split_path, split=split, subset="train", **options),
                VideoFolder(root, split_file=split_path, split=split, subset="test", **test_options))
    raise ValueError(f"{split_path}: neither a UCF101 split folder (with trainlist{split:02d}.txt) nor an "
                     f"HMDB51 one (with <class>_test_split{split}.txt files).")


def _pair(value, name):
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"{name} must be a positive int or (height, width), got {value!r}.")
    return tuple(int(v) for v in pair)


@functools.lru_cache(maxsize=512)  # memory maps of recently used videos; each holds a file descriptor
def _open_cached(path):
    try:
        return np.load(path, mmap_mode="r")
    except (ValueError, OSError) as error:
        raise ValueError(f"{path}: unreadable cache file ({error}); delete it and the video is decoded again.") from None


def _frame_count(path):
    try:
        return io.probe(path).num_frames
    except io.VideoReadError:
        return 0  # reported when the video is decoded


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

