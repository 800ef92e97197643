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

    Clips are decoded in parallel (``num_parallel_calls``, autotuned by
    default) by PyAV inside ``tf.numpy_function``, then batched and
    prefetched. Each pass over the dataset draws new random clip positions and
    augmentations from a seeded random stream, so epochs differ but runs
    repeat.

    Args:
        folder: a ``videokit.data.VideoFolder``.
        batch_size: clips per batch.
        shuffle: shuffle the clip order every epoch.
        num_parallel_calls: parallel decoders; ``None`` lets tf.data choose.

    Returns:
        A ``tf.data.Dataset`` yielding ``float32`` clips of shape
        ``(batch, *folder.clip_shape)`` and ``int32`` labels.
    """
    tf = _tensorflow()

    def load(index, draw):
        clip, label = folder.load(int(index), epoch=int(draw))
        return clip, np.int32(label)

    def load_tensors(index, draw):
        clip, label = tf.numpy_function(load, [index, draw], [tf.float32, tf.int32], stateful=False)
        clip.set_shape(folder.clip_shape)
        label.set_shape(())
        return clip, label

    indices = tf.data.Dataset.range(len(folder))
    if shuffle:
        indices = indices.shuffle(len(folder), seed=folder.seed, reshuffle_each_iteration=True)
    draws = tf.data.Dataset.random(seed=folder.seed, rerandomize_each_iteration=True)
    dataset = tf.data.Dataset.zip(indices, draws).map(
        load_tensors, num_parallel_calls=num_parallel_calls or tf.data.AUTOTUNE
    )
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
