"""Feed a ``VideoFolder``, or augmented clips in memory, to Keras on any backend with ``keras.utils.PyDataset``."""

import math

import keras
import numpy as np


class ClipSequence(keras.utils.PyDataset):
    """Batches of ``(clips, labels)`` from a ``VideoFolder``.

    Works with every Keras backend. With ``workers > 1`` Keras decodes batches
    in parallel threads, or processes with ``use_multiprocessing=True``; each
    clip's randomness depends only on ``(seed, epoch, index)``, so the result
    is the same whichever worker loads it.

    Args:
        folder: a ``videokit.data.VideoFolder``.
        batch_size: clips per batch.
        shuffle: reshuffle the clip order at the end of every epoch.
        workers, use_multiprocessing, max_queue_size: as for
            ``keras.utils.PyDataset``.

    Example:

    >>> sequence = ClipSequence(VideoFolder("UCF-101"), batch_size=8, workers=4)  # doctest: +SKIP
    >>> clips, labels = sequence[0]  # doctest: +SKIP
    """

    def __init__(self, folder, batch_size=8, *, shuffle=True, workers=1, use_multiprocessing=False,
                 max_queue_size=10):
        super().__init__(workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        self.folder, self.batch_size, self.shuffle = folder, batch_size, shuffle
        self.epoch = 0
        self.order = self._order()

    def __len__(self):
        return math.ceil(len(self.folder) / self.batch_size)

    def __getitem__(self, batch_index):
        if not 0 <= batch_index < len(self):
            raise IndexError(f"batch {batch_index} out of range for {len(self)} batches.")
        indices = self.order[batch_index * self.batch_size : (batch_index + 1) * self.batch_size]
        return self.folder.load_batch(indices, epoch=self.epoch)

    def on_epoch_end(self):
        self.epoch += 1
        self.order = self._order()

    def _order(self):
        indices = np.arange(len(self.folder))
        if self.shuffle:
            np.random.default_rng([self.folder.seed, self.epoch]).shuffle(indices)
        return indices


class AugmentedArrays(keras.utils.PyDataset):
    """Batches of ``(clips, labels)`` from clips in memory, augmented afresh every epoch.

    Each clip's augmentation is drawn from ``(seed, epoch, index)``, each
    batch's MixUp or CutMix from ``(seed, epoch, batch)``: the same run gives
    the same batches on every backend.

    Args:
        clips: ``uint8`` clips ``(count, T, H, W, C)``.
        labels: class numbers ``(count,)``.
        augmentation: a ``videokit.data.augmentation.Augmentation``.
        num_classes: the number of classes (for MixUp and CutMix's soft labels).
        batch_size: clips per batch.
        seed: the seed of the order and the augmentation.

    Returns batches of ``float32`` clips in ``[0, 1]`` and ``int32`` labels,
    or ``float32`` one-hot rows when the augmentation mixes.

    Example:

    >>> from videokit.data.augmentation import Augmentation
    >>> batches = AugmentedArrays(videos, labels, Augmentation("shift,flip"), 8, batch_size=16)  # doctest: +SKIP
    """

    def __init__(self, clips, labels, augmentation, num_classes, *, batch_size, seed=0):
        super().__init__()
        self.clips, self.labels = clips, np.asarray(labels, dtype=np.int32)
        self.augmentation, self.num_classes = augmentation, num_classes
        self.batch_size, self.seed, self.epoch = batch_size, seed, 0
        self.order = self._order()

    def __len__(self):
        return math.ceil(len(self.clips) / self.batch_size)

    def __getitem__(self, batch_index):
        if not 0 <= batch_index < len(self):
            raise IndexError(f"batch {batch_index} out of range for {len(self)} batches.")
        indices = self.order[batch_index * self.batch_size : (batch_index + 1) * self.batch_size]
        clips = np.stack([self._augmented(int(index)) for index in indices])
        labels = self.labels[indices]
        if self.augmentation.mixes:
            rng = np.random.default_rng([self.seed, self.epoch, len(self.clips), batch_index])
            clips, labels = self.augmentation.mix(clips, labels, self.num_classes, rng)
        return clips.astype(np.float32) / 255.0, labels

    def on_epoch_end(self):
        self.epoch += 1
        self.order = self._order()

    def _augmented(self, index):
        rng = np.random.default_rng([self.seed, self.epoch, index])
        clip = self.clips[index]
        clip = clip[self.augmentation.frame_indices(np.arange(len(clip)), len(clip), rng)]
        return self.augmentation.spatial(clip, clip.shape[1:3], rng)

    def _order(self):
        indices = np.arange(len(self.clips))
        np.random.default_rng([self.seed, self.epoch]).shuffle(indices)
        return indices
