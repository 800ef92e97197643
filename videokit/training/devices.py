"""Where a run trains: data parallelism over devices, and precision checks."""

import contextlib

import keras

from videokit import tf_support


@contextlib.contextmanager
def distribution_scope(strategy):
    """Data-parallel training on every device: tf.distribute or the Keras distribution API."""
    if strategy == "none":
        yield
        return
    backend = keras.backend.backend()
    if backend == "tensorflow":
        with tf_support.mirrored_strategy(tf_support.training_devices()).scope():
            yield
    elif backend == "jax":
        previous = keras.distribution.distribution()
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        try:
            yield
        finally:
            keras.distribution.set_distribution(previous)
    else:
        raise ValueError(f"--strategy mirrored needs the tensorflow or jax backend, not {backend}.")


def device_count(strategy):
    """How many devices a batch is split over."""
    if strategy == "none":
        return 1
    if keras.backend.backend() == "jax":
        import jax

        return jax.device_count()
    return len(tf_support.training_devices())


def check_precision(precision):
    """Refuse float16 where TensorFlow has no kernels for it, before anything is built."""
    if precision != "mixed_float16" or keras.backend.backend() != "tensorflow":
        return
    if not tf_support.has_gpu():
        raise ValueError("mixed_float16 needs a GPU with the TensorFlow backend: its CPU kernels lack float16 "
                         "for layers such as MaxPool3D; use --precision mixed_bfloat16 on a CPU.")
