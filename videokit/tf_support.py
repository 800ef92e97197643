"""tf.data input pipelines. The only videokit module that imports TensorFlow."""

import numpy as np


def _tensorflow():
    try:
        import tensorflow as tf
    except ImportError as error:
        raise ImportError(
            "as_tf_dataset() needs TensorFlow (pip install tensorflow); "
            "with another backend use as_pydataset() instead."
        ) from error
    return tf


def folder_to_tf_dataset(folder, batch_size=8, *, shuffle=True, num_parallel_calls=None):
    """A ``tf.data.Dataset`` of ``(clips, labels)`` batches from a ``VideoFolder``.

    tf.data shuffles the clip numbers and groups them into batches; each
    batch is loaded by ``folder.load`` (PyAV decoding, or the frame cache)
    inside one ``tf.numpy_function`` call, several batches in parallel
    (``num_parallel_calls``, autotuned by default), and prefetched. Each pass
    over the dataset draws new random clip positions and augmentations from a
    seeded random stream, so epochs differ but runs repeat.

    Args:
        folder: a ``videokit.data.VideoFolder``.
        batch_size: clips per batch.
        shuffle: shuffle the clip order every epoch.
        num_parallel_calls: batches loaded at once; ``None`` lets tf.data
            choose.

    Returns:
        A ``tf.data.Dataset`` yielding ``float32`` clips of shape
        ``(batch, *folder.clip_shape)`` and ``int32`` labels.
    """
    tf = _tensorflow()

    def load_batch(indices, draw):
        clips, labels = zip(*(folder.load(int(index), epoch=int(draw), dtype="uint8") for index in indices))
        return np.stack(clips), np.asarray(labels, dtype=np.int32)

    def load_tensors(indices, draw):
        clips, labels = tf.numpy_function(load_batch, [indices, draw], [tf.uint8, tf.int32], stateful=False)
        clips.set_shape((None, *folder.clip_shape))
        labels.set_shape((None,))
        return tf.cast(clips, tf.float32) / 255.0, labels  # scaled in TensorFlow's threads, not under the GIL

    indices = tf.data.Dataset.range(len(folder))
    if shuffle:
        indices = indices.shuffle(len(folder), seed=folder.seed, reshuffle_each_iteration=True)
    draws = tf.data.Dataset.random(seed=folder.seed, rerandomize_each_iteration=True)
    # One Python call a batch, not a clip: the call and its hold on the GIL cost more than a cached clip.
    dataset = tf.data.Dataset.zip(indices.batch(batch_size), draws).map(
        load_tensors, num_parallel_calls=num_parallel_calls or tf.data.AUTOTUNE
    )
    return dataset.prefetch(tf.data.AUTOTUNE)
