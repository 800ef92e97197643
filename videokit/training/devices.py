"""Where a run trains: data parallelism over devices and machines, and precision checks."""

import contextlib

import keras

from videokit import tf_support
from videokit.cluster import wait_for_coordinator


def start_workers(strategy, cluster):
    """Join the other workers of a ``--strategy multi-worker`` run, before the backend computes anything.

    On TensorFlow this makes the ``MultiWorkerMirroredStrategy`` (from a
    ``TF_CONFIG`` built from ``cluster``); on JAX it calls
    ``jax.distributed.initialize``. Nothing happens for other strategies.
    """
    if strategy != "multi-worker":
        return
    backend = keras.backend.backend()
    if backend not in ("tensorflow", "jax"):
        raise ValueError(f"--strategy multi-worker needs the tensorflow or jax backend, not {backend}.")
    if not cluster.is_chief:
        wait_for_coordinator(cluster)  # one line after --connect-timeout, not the backend's long wait
    if backend == "tensorflow":
        tf_support.multi_worker_strategy(cluster)
        return
    import jax

    if jax.distributed.is_initialized():
        return
    try:
        jax.distributed.initialize(coordinator_address=cluster.coordinator, num_processes=cluster.num_workers,
                                   process_id=cluster.worker_index,
                                   initialization_timeout=max(1, round(cluster.connect_timeout)))
    except RuntimeError as error:  # jaxlib's XlaRuntimeError: the others did not come in time
        raise ValueError(f"worker {cluster.worker_index} of {cluster.num_workers} could not start the run with "
                         f"the coordinator {cluster.coordinator} in {cluster.connect_timeout:g} s "
                         f"({str(error).splitlines()[0][:160]}); are all workers started?") from None


@contextlib.contextmanager
def distribution_scope(strategy, cluster=None):
    """Data-parallel training on every device (of every worker): tf.distribute or the Keras distribution API."""
    if strategy == "none":
        yield
        return
    backend = keras.backend.backend()
    if backend == "tensorflow":
        if strategy == "multi-worker":
            tf_strategy = tf_support.multi_worker_strategy(cluster)
        else:
            tf_strategy = tf_support.mirrored_strategy(tf_support.training_devices())
        with tf_strategy.scope():
            yield
    elif backend == "jax":
        start_workers(strategy, cluster)
        previous = keras.distribution.distribution()
        # over jax.devices(), all workers' devices; each worker gives its own share, not to be sharded again
        keras.distribution.set_distribution(keras.distribution.DataParallel(
            auto_shard_dataset=strategy != "multi-worker"))
        try:
            yield
        finally:
            keras.distribution.set_distribution(previous)
    else:
        raise ValueError(f"--strategy {strategy} needs the tensorflow or jax backend, not {backend}.")


def device_count(strategy, cluster=None):
    """How many devices a global batch is split over (all workers' devices for ``multi-worker``)."""
    if strategy == "none":
        return 1
    if keras.backend.backend() == "jax":
        import jax

        return jax.device_count()
    if strategy == "multi-worker":
        return tf_support.multi_worker_strategy(cluster).num_replicas_in_sync
    return len(tf_support.training_devices())


def check_precision(precision):
    """Refuse float16 where TensorFlow has no kernels for it, before anything is built."""
    if precision != "mixed_float16" or keras.backend.backend() != "tensorflow":
        return
    if not tf_support.has_gpu():
        raise ValueError("mixed_float16 needs a GPU with the TensorFlow backend: its CPU kernels lack float16 "
                         "for layers such as MaxPool3D; use --precision mixed_bfloat16 on a CPU.")
