"""Datasets of real video files in the UCF101 / HMDB51 folder layouts."""

import concurrent.futures
import copy
import itertools
import logging
import os
import pathlib

import numpy as np
from tqdm import tqdm

from videokit import io
from videokit.config import SAMPLINGS
from videokit.data import sampling as samplers
from videokit.data.augmentation import as_augmentation
from videokit.data import splits
from videokit.data._locking import HoldsLock
from videokit.data.frame_cache import FrameCache
from videokit.data.splits import VIDEO_SUFFIXES, official_split  # noqa: F401  (their old home)

logger = logging.getLogger("videokit")

_MANY_CLIP_SAMPLINGS = ("dense", "segment", "center", "random")  # "center" and "random": dense's old names


class VideoFolder(HoldsLock):
    """Video clips from a folder with one sub-folder per class.

    The layout is UCF101's and HMDB51's: ``root/<class name>/<video file>``.
    Class names are the sub-folder names, sorted, so label numbers are stable.
    An official split can restrict the videos:

    * UCF101: ``split_file`` is a ``trainlist01.txt`` / ``testlist01.txt``
      style list of ``<class>/<file> [label]`` lines relative to ``root``.
    * HMDB51: ``split_file`` is the folder of ``<class>_test_split<N>.txt``
      files, with ``split`` (1, 2 or 3) and ``subset`` (``"train"`` or
      ``"test"``) choosing the lines marked 1 or 2.

    Each clip's frames are chosen by ``sampling`` (see
    ``videokit.data.sampling``), at random places in a training folder and at
    fixed ones in an evaluation folder (``training=False``; ``split()`` and
    ``official_split`` make theirs so), and resized by FFmpeg. Augmentation
    (``augment``, see ``videokit.data.augmentation``) draws every choice once
    per clip, the same for all its frames: ``augment=True`` takes one random
    crop position and one horizontal flip decision; names such as
    ``"crop,flip,jitter,speed,mixup"`` choose random resized or multi-scale
    crops, scale jitter, temporal jitter, frame-rate changes and clip MixUp or
    CutMix (whose batches then carry soft one-hot labels). ``views()`` gives the
    papers' evaluation views (several clips x crops of a video, decoded once).

    Decoding costs more than training a small model on a clip. With
    ``cache_dir`` every video is decoded once, whole, into ``uint8`` frames of
    ``size`` (one ``.npy`` file per video, named after the file, its size and
    modification time, and the frame size), and every later clip, epoch and
    run is cut from that file: the same frames as decoding would give, with
    the sampling, crop and flip still drawn afresh each epoch. The cache takes
    ``frames * height * width * 3`` bytes per video; ``prepare()`` fills it
    up front with a progress bar, after checking the free space.

    ``batches()`` gives what ``model.fit`` takes on the current backend, after
    ``prepare()``: the cache filled (with ``cache_dir``) or every video probed
    (without), so that an unreadable video stops training before it starts.

    Like the synthetic datasets (``videokit.data.SYNTHETIC_DATASETS``), a
    folder says what it holds: ``channels`` (3), ``labelled`` (``True``) and
    ``class_names``.

    Args:
        root: the dataset folder.
        num_frames: frames per clip.
        size: ``(height, width)`` (or an int) frames are resized to.
        crop_size: ``(height, width)`` of the crop taken from the resized
            frames (random with ``augment``, centred otherwise); ``None``
            keeps the whole frame.
        frame_step: distance between frames of a clip (``"dense"``).
        sampling: which frames make a clip. ``"dense"`` (the default):
            ``num_frames`` consecutive frames ``frame_step`` apart, from a
            random start in training and centred in the video for
            evaluation. ``"segment"`` (TSN): the video cut into
            ``num_frames`` equal segments, one frame from each, at a random
            place in training and at the segment's centre for evaluation;
            short videos repeat frames. ``"uniform"``: ``num_frames`` frames
            spread evenly from the first to the last, the same every time.
            ``read_video``'s policies (``"random"``, ``"center"``,
            ``"clip"``, ``"all"``) are also taken, as they were before.
        training: random clip positions (``True``) or fixed ones for
            evaluation (``False``); ``"dense"`` and ``"segment"`` only.
        augment: ``False`` (none), ``True`` (a random crop position and a
            horizontal flip), names from ``videokit.data.augmentation.
            OPERATIONS`` (``"crop,flip,mixup"``) or an ``Augmentation``.
            Applied after the cache, to training folders.
        split_file: an official split list (UCF101) or folder (HMDB51).
        split: HMDB51 split number.
        subset: HMDB51 subset, ``"train"`` or ``"test"``.
        skip_bad_videos: ``False`` (the default) stops at an unreadable or
            too short video with a ``VideoReadError`` naming it. ``True``
            leaves such videos out: those ``prepare()`` finds are listed in
            one warning, one that fails later while decoding gets a warning
            of its own, once, and its clips are taken from the next video.
        seed: seed for sampling and augmentation.
        cache_dir: a folder for decoded frames (see above), or ``None`` to
            decode every clip from the video file.

    Attributes:
        skipped: the paths (as strings) of the videos left out so far.

    Example:

    >>> train = VideoFolder("UCF-101", split_file="ucfTrainTestlist/trainlist01.txt",
    ...                     num_frames=16, size=(128, 171), crop_size=112, augment=True)  # doctest: +SKIP
    >>> model.fit(train.batches(8, shuffle=True))  # doctest: +SKIP
    """

    channels = 3
    labelled = True

    def __init__(self, root, *, num_frames=16, size=(112, 112), crop_size=None, frame_step=1,
                 sampling="dense", augment=False, split_file=None, split=1, subset="train",
                 skip_bad_videos=False, seed=0, cache_dir=None, training=True):
        self.root = pathlib.Path(root)
        if skip_bad_videos not in (True, False):
            raise ValueError(f"skip_bad_videos must be True or False, got {skip_bad_videos!r}.")
        policies = (*SAMPLINGS, *(policy for policy in io.SAMPLING_POLICIES if policy not in SAMPLINGS))
        if sampling not in policies:
            raise ValueError(f"sampling must be one of {policies}, got {sampling!r}.")
        if training not in (True, False):
            raise ValueError(f"training must be True or False, got {training!r}.")
        self.num_frames, self.frame_step, self.sampling, self.training = num_frames, frame_step, sampling, training
        self.size = _pair(size, "size")
        self.crop_size = _pair(crop_size, "crop_size") if crop_size is not None else self.size
        if self.crop_size[0] > self.size[0] or self.crop_size[1] > self.size[1]:
            raise ValueError(f"crop_size {self.crop_size} must fit inside size {self.size}.")
        self.augment, self.skip_bad_videos, self.seed = augment, bool(skip_bad_videos), seed
        self.cache_dir = pathlib.Path(cache_dir) if cache_dir is not None else None
        self.cache = FrameCache(self.cache_dir, self.size) if cache_dir is not None else None
        self.class_names = list(splits.class_names(self.root))  # a list, as notebooks print it
        self.samples = splits.samples(self.root, self.class_names, split_file, split, subset)
        self.skipped = []
        self._prepared = False
        super().__init__()

    def __len__(self):
        return len(self.samples)

    @property
    def augment(self):
        """The ``Augmentation`` of training clips (false when there is none)."""
        return self._augmentation

    @augment.setter
    def augment(self, augment):
        self._augmentation = as_augmentation(augment)

    @property
    def label_shape(self):
        """``()`` for class numbers, or ``(classes,)`` for the soft one-hot labels of MixUp and CutMix."""
        return (len(self.class_names),) if self.augment.mixes else ()

    @property
    def clip_shape(self):
        """``(num_frames, height, width, 3)`` of every clip."""
        return (self.num_frames, *self.crop_size, self.channels)

    @property
    def labels(self):
        return np.array([label for _, label in self.samples], dtype=np.int32)

    @property
    def loader_workers(self):
        """Threads a ``PyDataset`` loads batches with: 1 when clips come from the cache, which is cheap,
        and 2 to decode (more only compete with the training step for 2 cores; see benchmarks/bench_train.py)."""
        return 1 if self.cache is not None else 2

    # ------------------------------------------------------------------
    # Feeding Keras

    def batches(self, batch_size, *, shuffle, progress=True):
        """``(clips, labels)`` batches in the form ``model.fit`` takes best on the current Keras backend.

        On TensorFlow a ``tf.data.Dataset`` (``as_tf_dataset``): its C++
        threads load and prefetch beside the training step at less cost than
        a ``PyDataset``'s worker threads. On the other backends a
        ``keras.utils.PyDataset`` (``as_pydataset``) with ``loader_workers``
        threads. The folder is made ready first (``prepare()``), once.

        Args:
            batch_size: clips per batch.
            shuffle: a new clip order every epoch (training); ``False`` for
                validation and evaluation.
            progress: progress bars while the folder is made ready.
        """
        import keras

        self.prepare(progress=progress)
        if keras.backend.backend() == "tensorflow":
            return self.as_tf_dataset(batch_size, shuffle=shuffle)
        return self.as_pydataset(batch_size, shuffle=shuffle, workers=self.loader_workers)

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

    # ------------------------------------------------------------------
    # Clips

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

        Raises:
            VideoReadError: the video cannot be read (with ``skip_bad_videos``
                only when no video of the folder can).
        """
        if dtype not in ("float32", "uint8"):
            raise ValueError(f"dtype must be 'float32' or 'uint8', got {dtype!r}.")
        rng = np.random.default_rng([self.seed, epoch, index])
        skipped = set(self.skipped)
        for attempt in range(len(self.samples)):
            path, label = self.samples[(index + attempt) % len(self.samples)]
            if str(path) in skipped:
                continue
            try:
                clip = self._read_clip(path, rng)
            except io.VideoReadError as error:
                if not self.skip_bad_videos:
                    raise
                self._skip_while_training(path, error.problem)
                continue
            clip = self.augment.spatial(clip, self.crop_size, rng)  # the centre crop without augmentation
            return (clip.astype(np.float32) / 255.0 if dtype == "float32" else np.ascontiguousarray(clip)), label
        raise io.VideoReadError(self.root, "no readable video left in the dataset.")

    def load_batch(self, indices, *, epoch=0, dtype="float32"):
        """Load the clips ``indices`` as one batch ``(clips, labels)``, MixUp or CutMix applied if asked.

        Labels are ``int32`` class numbers, or with MixUp or CutMix
        ``float32`` rows of ``label_shape`` summing to 1.
        """
        clips, labels = zip(*(self.load(int(index), epoch=epoch, dtype=dtype) for index in indices))
        return self.mix_batch(np.stack(clips), np.asarray(labels, dtype=np.int32), indices, epoch=epoch)

    def mix_batch(self, clips, labels, indices, *, epoch=0):
        """MixUp or CutMix a loaded batch when ``augment`` asks for it, drawn from ``(seed, epoch, indices)``."""
        if not self.label_shape:
            return clips, labels
        rng = np.random.default_rng([self.seed, epoch, len(self.samples), *(int(index) for index in indices)])
        return self.augment.mix(clips, labels, len(self.class_names), rng)

    def views(self, index, *, clips=1, crops=1):
        """Every evaluation view of video ``index``, cut from frames decoded once.

        ``clips`` clips at fixed places (``"dense"``: starts spread evenly
        over the video; ``"segment"``: offsets spread evenly within the
        segments), each cut at ``crops`` places (``videokit.data.sampling.
        crop_boxes``): the centre crop of ``crop_size`` from frames of
        ``size``, or three crops along the longer side. For three crops the
        frames are resized to ``size`` when ``crop_size`` is smaller, else so
        that the crop fits their shorter side with the video's aspect ratio
        kept. All the frames the views need are decoded in one pass (or taken
        from the cache, for one crop). One clip and one crop is the clip
        ``load`` gives an evaluation folder.

        Args:
            index: video number, from 0 to ``len(self) - 1``.
            clips: clips per video (at least 1).
            crops: 1 or 3.

        Returns:
            ``(views, label)``: ``float32`` views in ``[0, 1]`` of shape
            ``(clips * crops, *clip_shape)``, clip by clip, crop by crop.
        """
        if isinstance(clips, bool) or not isinstance(clips, (int, np.integer)) or clips < 1:
            raise ValueError(f"clips must be a positive integer; got {clips!r}.")
        if crops not in samplers.CROP_COUNTS:
            raise ValueError(f"crops must be 1 or 3 (centre, or three along the longer side); got {crops!r}.")
        if clips > 1 and self.sampling not in _MANY_CLIP_SAMPLINGS:
            raise ValueError(f"sampling {self.sampling!r} gives one clip per video; use clips=1, or "
                             "'dense' or 'segment' sampling for several.")
        path, label = self.samples[index]
        size = self.size if crops == 1 or self.size != self.crop_size else self._covering_size(path)
        if self.cache is not None and size == self.size:
            frames = self.cache.frames(path)
            wanted = self._fixed_indices(len(frames), clips, path)
            frames = frames[wanted.reshape(-1)]
        else:
            wanted = self._fixed_indices(io.frame_count(path), clips, path)
            frames = io.read_video(path, indices=wanted.reshape(-1), size=size)
        frames = frames.reshape(*wanted.shape, *frames.shape[1:])
        boxes = samplers.crop_boxes(*size, self.crop_size, crops)
        views = np.empty((len(frames) * crops, *self.clip_shape), np.float32)
        for number, (clip, (top, left, height, width)) in enumerate(itertools.product(frames, boxes)):
            np.divide(clip[:, top : top + height, left : left + width], np.float32(255), out=views[number])
        return views, label

    # ------------------------------------------------------------------
    # Getting ready: the cache, unreadable videos, splitting

    def prepare(self, progress=True):
        """Make the folder ready to train on, once: fill the cache, or probe every video without one.

        Finds every unreadable video (and every one too short for a clip)
        before training starts: a ``VideoReadError`` naming the first, or
        with ``skip_bad_videos`` one warning listing them all, and the folder
        goes on without them. Later calls do nothing.

        Args:
            progress: show a progress bar.

        Returns:
            The ``(path, problem)`` pairs of the videos left out by this call.
        """
        if self._prepared:
            return []
        if self.cache is not None:
            _, problems = self._fill_cache(progress)
            bad = {path for path, _ in problems}
            problems += self._too_short(self.cache.frame_count, [path for path, _ in self.samples if path not in bad])
        else:
            problems = self._probe(progress)
        self._leave_out(problems)
        self._prepared = True
        return problems

    def prepare_cache(self, progress=True, workers=None):
        """Decode every video not yet in ``cache_dir`` into it, in parallel threads.

        Checks first that the decoded frames fit in the free disk space.
        Unreadable videos raise a ``VideoReadError`` naming the first one, or
        with ``skip_bad_videos`` are listed in one warning and left out.

        Args:
            progress: show a tqdm progress bar.
            workers: decoding threads (default: one per CPU core).

        Returns:
            The number of videos decoded.
        """
        if self.cache is None:
            raise ValueError("prepare_cache() needs a VideoFolder made with cache_dir=...")
        decoded, problems = self._fill_cache(progress, workers)
        self._leave_out(problems)
        return decoded

    def check(self, progress=True):
        """Probe every video once, without decoding it, and leave out or report the unreadable ones.

        Raises ``VideoReadError`` for the first unreadable or too short
        video, or with ``skip_bad_videos`` lists them in one warning and
        leaves them out.

        Returns:
            The list of ``(path, problem)`` pairs found.
        """
        problems = self._probe(progress)
        self._leave_out(problems)
        return problems

    def split(self, validation_fraction=0.2, *, progress=True):
        """Split into training and validation folders, stratified by class.

        Every class gives its last ``validation_fraction`` of videos (at least
        one) to validation; a class with a single video keeps it for training
        and gets a warning that it has no validation clip. The validation
        folder samples centred clips without augmentation. With
        ``skip_bad_videos`` the folder is made ready first (``prepare()``), so
        that unreadable videos are listed once and take no one's place.

        Args:
            validation_fraction: share of every class held out.
            progress: progress bars while the folder is made ready.

        Returns:
            A tuple ``(train, validation)`` of ``VideoFolder`` objects.
        """
        if not 0 < validation_fraction < 1:
            raise ValueError(f"validation_fraction must be between 0 and 1, got {validation_fraction}.")
        if self.skip_bad_videos:
            self.prepare(progress=progress)
        train, validation = copy.copy(self), copy.copy(self)
        train.samples, validation.samples = [], []
        alone, empty = [], []
        for label, name in enumerate(self.class_names):
            videos = [sample for sample in self.samples if sample[1] == label]
            held_out = max(1, round(len(videos) * validation_fraction)) if len(videos) > 1 else 0
            train.samples += videos[: len(videos) - held_out]
            validation.samples += videos[len(videos) - held_out :]
            (alone if len(videos) == 1 else empty if not videos else []).append(name)
        if not validation.samples:
            raise ValueError(f"{self.root}: too few videos to hold any out for validation.")
        if alone:
            logger.warning("videokit: %s: no validation clip for class%s %s, which %s a single video.",
                           self.root, "es" * (len(alone) > 1), ", ".join(map(repr, alone)),
                           "have" if len(alone) > 1 else "has")
        if empty:
            logger.warning("videokit: %s: no video at all for class%s %s.", self.root,
                           "es" * (len(empty) > 1), ", ".join(map(repr, empty)))
        validation.sampling = "center" if self.sampling == "random" else self.sampling
        validation.training, validation.augment = False, False
        train.skipped, validation.skipped = list(self.skipped), list(self.skipped)
        return train, validation

    # ------------------------------------------------------------------
    # Inside

    def _read_clip(self, path, rng):
        if self.cache is None:
            return io.read_video(path, indices=self._clip_indices(io.frame_count(path), rng, path), size=self.size)
        frames = self.cache.frames(path)
        return frames[self._clip_indices(len(frames), rng, path)]

    def _clip_indices(self, total, rng, path):
        """The frames of one clip: random places in training (moved by temporal augmentation), fixed ones otherwise."""
        if self.sampling in ("dense", "segment") and not self.training:
            return self._fixed_indices(total, 1, path)[0]
        indices = self._sampled_indices(total, rng, path)
        return self.augment.frame_indices(indices, total, rng)

    def _sampled_indices(self, total, rng, path):
        try:
            if self.sampling == "dense":
                io.sample_indices(total, self.num_frames, frame_step=self.frame_step, sampling="clip")  # long enough?
                return samplers.dense_clip_indices(total, self.num_frames, self.frame_step, training=True, rng=rng)[0]
            if self.sampling == "segment":
                return samplers.segment_indices(total, self.num_frames, training=True, rng=rng)[0]
            return io.sample_indices(total, self.num_frames, frame_step=self.frame_step, sampling=self.sampling,
                                     seed=rng)
        except ValueError as error:
            raise io.VideoReadError(path, str(error)) from None

    def _fixed_indices(self, total, clips, path):
        """``(clips, num_frames)`` frame indices at fixed places, for evaluation."""
        try:
            if self.sampling == "segment":
                return samplers.segment_indices(total, self.num_frames, training=False, num_clips=clips)
            policy = "clip" if self.sampling in ("dense", "center", "random") else self.sampling
            io.sample_indices(total, self.num_frames, frame_step=self.frame_step, sampling=policy)  # long enough?
            if self.sampling in ("dense", "center", "random"):
                return samplers.dense_clip_indices(total, self.num_frames, self.frame_step, num_clips=clips,
                                                   training=False)
            return io.sample_indices(total, self.num_frames, frame_step=self.frame_step, sampling=self.sampling)[None]
        except ValueError as error:
            raise io.VideoReadError(path, str(error)) from None

    def _covering_size(self, path):
        """The smallest frame size with the video's aspect ratio that ``crop_size`` fits in."""
        info = io.probe(path)
        scale = max(self.crop_size[0] / info.height, self.crop_size[1] / info.width)
        return max(self.crop_size[0], round(info.height * scale)), max(self.crop_size[1], round(info.width * scale))

    def _fill_cache(self, progress, workers=None):
        videos = [path for path, _ in self.samples]
        decoded, problems = self.cache.fill(videos, progress=progress, workers=workers,
                                            stop_at_first_problem=not self.skip_bad_videos)
        return decoded, [(path, error.problem) for path, error in problems]

    def _probe(self, progress):
        """``(path, problem)`` of every video ``probe`` cannot read or that is too short for a clip."""
        videos = [path for path, _ in self.samples]
        with concurrent.futures.ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool, \
                tqdm(total=len(videos), unit="video", desc=f"checking the videos of {self.root}",
                     disable=not progress) as bar:
            lengths = {}
            for path, length in zip(videos, pool.map(_probed_length, videos)):
                lengths[path] = length
                bar.update()
        problems = [(path, length) for path, length in lengths.items() if isinstance(length, str)]
        usable = [path for path in videos if not isinstance(lengths[path], str)]
        return problems + self._too_short(lengths.get, usable)

    def _too_short(self, length_of, videos):
        problems = []
        if self.sampling == "segment":
            return []  # one frame is enough: segments repeat frames
        policy = "uniform" if self.sampling == "uniform" else "clip"
        for path in videos:
            try:
                io.sample_indices(length_of(path), self.num_frames, frame_step=self.frame_step, sampling=policy)
            except ValueError as error:
                problems.append((path, str(error)))
        return problems

    def _leave_out(self, problems):
        """Raise for the first problem, or with ``skip_bad_videos`` list them all in one warning and drop them."""
        if not problems:
            return
        order = {path: number for number, (path, _) in enumerate(self.samples)}
        problems.sort(key=lambda problem: order.get(problem[0], len(order)))  # in the folder's order
        if not self.skip_bad_videos:
            path, problem = problems[0]
            more = f"; {len(problems)} unreadable videos in all" if len(problems) > 1 else ""
            raise io.VideoReadError(path, f"{problem.rstrip('.')}{more}.")
        bad = {path for path, _ in problems}
        self.samples = [sample for sample in self.samples if sample[0] not in bad]
        self.skipped += [str(path) for path, _ in problems]
        listed = "; ".join(f"{self._name(path)} ({problem.rstrip('.')})" for path, problem in problems)
        logger.warning("videokit: skipped %d unreadable video%s: %s", len(problems), "s" * (len(problems) > 1), listed)
        if not self.samples:
            raise io.VideoReadError(self.root, "no readable video in the dataset.")

    def _skip_while_training(self, path, problem):
        """A video that failed while decoding (``prepare()`` passed it): one warning, and no more clips from it."""
        with self._lock:
            if str(path) in self.skipped:
                return
            self.skipped.append(str(path))
        logger.warning("videokit: skipped unreadable video %s (%s); %d skipped in all.", self._name(path),
                       problem.rstrip("."), len(self.skipped))

    def _name(self, path):
        try:
            return str(pathlib.Path(path).relative_to(self.root))
        except ValueError:
            return str(path)



def _pair(value, name):
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"{name} must be a positive int or (height, width), got {value!r}.")
    return tuple(int(v) for v in pair)


def _probed_length(path):
    """The frame count of a video, or the problem (a string) that stops ``probe`` reading it."""
    try:
        return io.probe(path).num_frames
    except io.VideoReadError as error:
        return error.problem
