"""Feed a ``VideoFolder`` to Keras on any backend with ``keras.utils.PyDataset``."""

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
        clips, labels = zip(*(self.folder.load(int(index), epoch=self.epoch) for index in indices))
        return np.stack(clips), np.asarray(labels, dtype=np.int32)

    def on_epoch_end(self):
        self.epoch += 1
        self.order = self._order()

    def _order(self):
        indices = np.arange(len(self.folder))
        if self.shuffle:
            np.random.default_rng([self.folder.seed, self.epoch]).shuffle(indices)
        return indices
