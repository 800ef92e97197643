"""What videokit does only with TensorFlow, in one module that imports it on first use.

On the JAX and torch backends nothing calls these helpers unless a
TensorFlow-only feature is asked for (``as_tf_dataset()``, logical CPU
devices), so TensorFlow is never imported there otherwise. The one other
place is the TensorFlow backend's own GAN training step
(``videokit.models.gan._steps``), which runs only on that backend.
"""

import sys

import numpy as np


def tensorflow(feature):
    """The ``tensorflow`` module, or a clear error naming the ``feature`` that needs it.

    On the JAX and torch backends, the first import says once, on stderr,
    which feature brought TensorFlow in.
    """
    import keras

    if "tensorflow" not in sys.modules and keras.backend.backend() != "tensorflow":
        print(f"videokit: {feature} imports TensorFlow on the {keras.backend.backend()} backend.", file=sys.stderr)
    try:
        import tensorflow as tf
    except ImportError:
        raise ImportError(f"{feature} needs TensorFlow (pip install tensorflow).") from None
    probe = _keras_probe()
    if probe is not None and probe._available is False:
        probe._available = None  # Keras may look for TensorFlow again
    return tf


def start_quietly():
    """On the TensorFlow backend, import TensorFlow and list its devices with file descriptor 2 on /dev/null.

    TensorFlow 2.21 writes its start-up lines (oneDNN, CUDA drivers) from C++
    before ``TF_CPP_MIN_LOG_LEVEL`` takes effect, so only silencing the file
    descriptor keeps them off the terminal. Nothing happens on the JAX and
    torch backends, or where TensorFlow is not installed.
    """
    import importlib.util
    import os

    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow" or importlib.util.find_spec("tensorflow") is None:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        import tensorflow as tf

        tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def keep_unimported_off_tensorflow():
    """On the JAX and torch backends, stop Keras importing TensorFlow only to look for it.

    Keras asks "is TensorFlow installed?" by importing it (seconds of start-up
    and its C++ logs) when it saves a model or sets the random seed, on every
    backend, to handle TensorFlow objects and seed tf.data. Where TensorFlow
    has not been imported there can be no TensorFlow object and no tf.data
    pipeline, so on JAX and torch this tells Keras it is unavailable, until
    ``tensorflow()`` imports it for a TensorFlow-only feature. It does nothing
    on the TensorFlow backend, once TensorFlow is imported, or on a Keras
    without that probe.
    """
    import keras

    probe = _keras_probe()
    if keras.backend.backend() != "tensorflow" and "tensorflow" not in sys.modules and probe is not None:
        probe._available = False


def _keras_probe():
    """Keras' lazy ``tensorflow`` module (``keras.src.utils.module_utils``), if this Keras has one."""
    try:
        from keras.src.utils import module_utils
    except ImportError:
        return None
    probe = getattr(module_utils, "tensorflow", None)
    return probe if hasattr(probe, "_available") else None


def split_cpu(count):
    """Make ``count`` logical CPU devices, to try data parallelism without GPUs."""
    tf = tensorflow("--logical-cpus on the tensorflow backend")
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def training_devices():
    """Names of the logical GPUs, or of the logical CPUs where there is no GPU."""
    tf = tensorflow("--strategy mirrored")
    return [d.name for d in tf.config.list_logical_devices("GPU")] or [
        d.name for d in tf.config.list_logical_devices("CPU")]


def mirrored_strategy(devices):
    """A ``tf.distribute.MirroredStrategy`` over ``devices``."""
    return tensorflow("--strategy mirrored").distribute.MirroredStrategy(devices)


def has_gpu():
    return bool(tensorflow("the tensorflow backend").config.list_physical_devices("GPU"))


def gpu_name():
    """The first GPU's name, e.g. ``"NVIDIA H100 80GB HBM3"``, or ``None`` without one."""
    tf = tensorflow("the tensorflow backend")
    gpus = tf.config.list_physical_devices("GPU")
    return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else None


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
    tf = tensorflow("as_tf_dataset() (with another backend use as_pydataset())")

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
