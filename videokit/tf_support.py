"""What videokit does only with TensorFlow, in one module that imports it on first use.

On the JAX and torch backends nothing calls these helpers unless a
TensorFlow-only feature is asked for (``as_tf_dataset()``, logical CPU
devices), so TensorFlow is never imported there otherwise. The one other
place is the TensorFlow backend's own GAN training step
(``videokit.models.gan._steps``), which runs only on that backend.
"""

import atexit
import gc
import sys
import threading
import time
import warnings

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


_MULTI_WORKER = []  # the process's one MultiWorkerMirroredStrategy: TensorFlow allows only one


def multi_worker_strategy(cluster):
    """The ``tf.distribute.MultiWorkerMirroredStrategy`` of ``cluster`` (a ``videokit.cluster.Cluster``).

    Sets ``TF_CONFIG`` from the cluster first, as TensorFlow reads it when the
    strategy is made; made once per process, before TensorFlow runs anything.
    """
    import json
    import os

    if not _MULTI_WORKER:
        os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": cluster.worker_addresses()},
                                              "task": {"type": "worker", "index": cluster.worker_index}})
        tf = tensorflow("--strategy multi-worker")
        _MULTI_WORKER.append(tf.distribute.MultiWorkerMirroredStrategy())
    return _MULTI_WORKER[0]


def fit_on_workers(model, strategy, train, validation, *, global_batch, steps, seed, **fit_arguments):
    """``model.fit`` under a ``MultiWorkerMirroredStrategy``, each worker on the data it was given.

    Args:
        model: a model built and compiled in ``strategy.scope()``.
        strategy: the ``MultiWorkerMirroredStrategy``.
        train: this worker's share of the training data: ``(clips, targets)``
            arrays, or a ``tf.data.Dataset`` of its batches.
        validation: the whole validation set, in the same forms; every
            worker evaluates all of it, so the chief's scores are complete.
        global_batch: clips per step on all workers together.
        steps: training steps per epoch (the same on every worker).
        seed: the run's seed: arrays are taken in ``videokit.cluster.epoch_order``
            (a dataset shuffles itself).
        **fit_arguments: for ``model.fit`` (epochs, initial_epoch, callbacks...).

    Each worker's replicas take its own batches of ``global_batch`` divided by
    all replicas (``distribute_datasets_from_function``: nothing is sharded or
    re-batched again), so step ``k`` of an epoch trains on the ``k``-th batch
    of every worker's share in the epoch's order, and one process given those
    batches together ends with the same weights. For that, batch
    normalization uses the global batch's statistics (``synchronized``)
    while it trains; the saved models keep the plain layer, which every
    backend loads. Keras 3.15's TensorFlow trainer fails under this strategy
    in two places, worked around here: its symbolic build averages a batch
    across workers (so the model is built on one local batch first), and it
    averages scalar logs across workers with ``axis=0`` (so they are averaged
    over this worker's devices only; the metrics' own variables are already
    summed over all workers, and in the two-worker test both print the same
    scores).
    """
    from keras.src.backend.tensorflow import trainer

    from videokit.cluster import epoch_order

    tf = tensorflow("--strategy multi-worker")
    epochs, first_epoch = fit_arguments["epochs"], fit_arguments.get("initial_epoch", 0)
    per_replica = global_batch // strategy.num_replicas_in_sync

    def training_batches(context):
        if isinstance(train, tf.data.Dataset):
            return train.unbatch().repeat().batch(per_replica, drop_remainder=True)
        clips, targets = (tf.constant(array) for array in train)
        taken = steps * global_batch // context.num_input_pipelines
        order = np.concatenate([epoch_order(len(clips), seed, epoch)[:taken] for epoch in range(first_epoch, epochs)])
        return tf.data.Dataset.from_tensor_slices(order).batch(per_replica).map(
            lambda chosen: (tf.gather(clips, chosen), tf.gather(targets, chosen)))

    def validation_batches(context):
        data = validation.unbatch() if isinstance(validation, tf.data.Dataset) else (
            tf.data.Dataset.from_tensor_slices(tuple(validation)))
        return data.batch(per_replica)

    distributed = strategy.distribute_datasets_from_function(training_batches)
    validation = strategy.distribute_datasets_from_function(validation_batches)
    trainer._collective_all_reduce_multi_worker = lambda _: False
    switch = _global_batch_normalization(model)
    with strategy.scope():
        first = train.unbatch() if isinstance(train, tf.data.Dataset) else tf.data.Dataset.from_tensor_slices(train)
        clips, targets = next(iter(first.batch(per_replica)))
        model._symbolic_build(data_batch=(clips, targets, None))
        model._distribute_strategy = None  # so fit finds the strategy of the scope without a symbolic build
        callbacks = [switch, *fit_arguments.pop("callbacks", [])]
        try:
            return model.fit(distributed, steps_per_epoch=steps, validation_data=validation, shuffle=False,
                             callbacks=callbacks, **fit_arguments)
        finally:
            model._distribute_strategy = strategy
            switch.on_epoch_end(None)


def _global_batch_normalization(model):
    """A callback: batch normalization over the global batch while ``model`` trains, plain when it is saved.

    ``BatchNormalization(synchronized=True)`` sums its moments over all
    replicas, as one process computes them on the whole batch. The flag is
    read when the training step is traced, in the first epoch, and set back at
    each epoch's end, before the run saves the model (this callback comes
    first), so that saved models hold the plain layer, which JAX and torch
    can build.
    """
    import keras

    layers = [layer for layer in model._flatten_layers(include_self=False)
              if isinstance(layer, keras.layers.BatchNormalization)]

    class GlobalBatchNormalization(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            for layer in layers:
                layer.synchronized = True

        def on_epoch_end(self, epoch, logs=None):
            for layer in layers:
                layer.synchronized = False

    return GlobalBatchNormalization()


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

    A video that cannot be read never raises inside the pipeline (TensorFlow
    would print the Python traceback it carries from C++): the loading
    function returns the problem, and an assertion in the graph stops the
    pipeline with a message naming the file. ``reraise_video_errors()``
    around ``fit`` (``videokit.data``) turns that TensorFlow error back into the
    ``VideoReadError``, the one line every backend gives. An exit hook
    collects abandoned pipelines while Python can still run their loading
    calls: one left to be collected while the interpreter shuts down waits
    forever for a call that can no longer take the GIL.

    Args:
        folder: a ``videokit.data.VideoFolder``.
        batch_size: clips per batch.
        shuffle: shuffle the clip order every epoch.
        num_parallel_calls: batches loaded at once; ``None`` lets tf.data
            choose.

    Returns:
        A ``tf.data.Dataset`` yielding ``float32`` clips of shape
        ``(batch, *folder.clip_shape)`` and ``int32`` labels (``float32`` rows
        of ``folder.label_shape`` when the folder mixes clips: MixUp, CutMix).
    """
    tf = tensorflow("as_tf_dataset() (with another backend use as_pydataset())")
    _collect_pipelines_at_exit()
    label_type = np.float32 if folder.label_shape else np.int32  # MixUp and CutMix mix the labels too
    empty = (np.zeros((0, *folder.clip_shape), np.uint8), np.zeros((0, *folder.label_shape), label_type))

    def load_batch(indices, draw):
        with _loading:
            try:
                clips, labels = [], []
                for index in indices:
                    if _loading.closing:  # the program is exiting: nobody waits for this batch
                        return (*empty, b"videokit: the program is exiting.")
                    clip, label = folder.load(int(index), epoch=int(draw), dtype="uint8")
                    clips.append(clip)
                    labels.append(label)
                clips, labels = folder.mix_batch(np.stack(clips), np.asarray(labels, np.int32), indices, epoch=int(draw))
                return clips, labels, b""
            except ValueError as error:  # VideoReadError, or a damaged cache file
                return (*empty, _recorded_failure(error).encode("utf-8", "replace"))

    def load_tensors(indices, draw):
        clips, labels, failure = tf.numpy_function(load_batch, [indices, draw],
                                                   [tf.uint8, tf.as_dtype(label_type), tf.string], stateful=False)
        checked = tf.debugging.Assert(tf.equal(tf.strings.length(failure), 0), [failure])
        with tf.control_dependencies([checked]):
            clips = tf.identity(clips)
        clips.set_shape((None, *folder.clip_shape))
        labels.set_shape((None, *folder.label_shape))
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


class _Loading:
    """The loading calls of tf.data pipelines running now, and whether the program is exiting."""

    def __init__(self):
        self.lock = threading.Lock()
        self.running = 0
        self.closing = False

    def __enter__(self):
        with self.lock:
            self.running += 1

    def __exit__(self, *exception):
        with self.lock:
            self.running -= 1


_loading = _Loading()
_failures = {}  # the message a pipeline's assertion carries -> the exception it stands for
_failures_lock = threading.Lock()
_exit_hook = []


def _recorded_failure(error):
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    with _failures_lock:
        _failures[message] = error
        while len(_failures) > 64:
            del _failures[next(iter(_failures))]
    return message


def recorded_failure(error):
    """The ``VideoReadError`` (or damaged-cache ``ValueError``) a folder pipeline stopped with, or ``None``.

    ``error`` is what ``fit`` raised; a TensorFlow error carrying a failure
    recorded by ``folder_to_tf_dataset`` gives back the original exception.
    """
    if "tensorflow" not in sys.modules or not isinstance(error, sys.modules["tensorflow"].errors.OpError):
        return None
    with _failures_lock:
        found = [failure for message, failure in _failures.items()
                 if message in error.message or _c_escaped(message) in error.message]
    return found[-1] if found else None


def _c_escaped(text):
    """``text`` as TensorFlow's assertion prints a string: C escapes, UTF-8 kept."""
    escapes = {"\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"', "'": "\\'", "\\": "\\\\"}
    return "".join(escapes.get(character, f"\\{ord(character):03o}" if ord(character) < 32 else character)
                   for character in text)


def _collect_pipelines_at_exit():
    if not _exit_hook:
        _exit_hook.append(atexit.register(collect_pipelines))


def collect_pipelines(timeout=10.0):
    """Let running loading calls return, then collect abandoned tf.data pipelines.

    Runs at exit (registered with the first folder pipeline): a pipeline
    that an exception's traceback still holds would otherwise be collected
    while the interpreter shuts down, when the loading calls its destructor
    waits for can no longer run, and the program would hang.
    """
    _loading.closing = True
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if getattr(sys, name, None) is not None:
            setattr(sys, name, None)
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 5 and time.monotonic() < deadline:  # in-flight calls return at once now
        time.sleep(0.01)
        quiet = quiet + 1 if _loading.running == 0 else 0
    gc.collect()


def run_saved_model(path, clips):
    """Outputs of the SavedModel at ``path`` (written by ``keras.Model.export``) on ``clips``, run by TensorFlow."""
    tf = tensorflow("checking a SavedModel export")
    exported = tf.saved_model.load(str(path))  # kept while serve() runs: it owns the variables
    return np.asarray(exported.serve(clips))


def saved_model_signature(path):
    """The ``serving_default`` signature of the SavedModel at ``path``: a function ``{input name: array} -> {output name: array}``."""
    tf = tensorflow("running a SavedModel export")
    exported = tf.saved_model.load(str(path))
    signature = exported.signatures["serving_default"]

    def run(inputs, owner=exported):  # ``owner`` keeps the loaded object, which owns the variables, alive
        return {name: value.numpy() for name, value in signature(**inputs).items()}

    return run


def tflite_signature(path):
    """The ``serving_default`` signature of the TFLite model at ``path``, run by the LiteRT interpreter.

    Returns:
        A function ``{input name: array} -> {output name: array}``.

    Raises:
        ValueError: the interpreter cannot run the model (as `run_tflite`).
    """
    interpreter = _tflite_interpreter(path)
    runner = interpreter.get_signature_runner("serving_default")

    def run(inputs):
        try:
            return runner(**inputs)
        except RuntimeError as error:
            if "Select TensorFlow op" not in str(error):
                raise
            raise ValueError(_TFLITE_CANNOT) from None

    return run


_TFLITE_CANNOT = (
    "tflite: the LiteRT interpreter cannot run this model, which needs TensorFlow ops LiteRT lacks "
    "(3D convolutions and pooling, recurrent loops); export savedmodel or onnx instead, or use a "
    "model of 2D layers such as early_fusion."
)


def _tflite_interpreter(path):
    tf = tensorflow("checking a TFLite export")
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = tf.lite.Interpreter  # noqa: N806 (the class, as TensorFlow names it)
    with warnings.catch_warnings():  # TensorFlow's copy warns that it moved to ai_edge_litert
        warnings.simplefilter("ignore", UserWarning)
        return Interpreter(model_path=str(path))


def run_tflite(path, clips):
    """Outputs of the TFLite model at ``path`` on ``clips``, run by the LiteRT interpreter.

    Raises ``ValueError`` when the interpreter cannot run the model: 3D
    convolutions and pooling and recurrent loops need TensorFlow ops that plain
    LiteRT does not have (the "Flex" delegate of a full TensorFlow build).
    """
    interpreter = _tflite_interpreter(path)
    first_input, first_output = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(first_input["index"], clips.shape)
    try:
        interpreter.allocate_tensors()
    except RuntimeError as error:
        if "Select TensorFlow op" not in str(error):
            raise
        raise ValueError(_TFLITE_CANNOT) from None
    interpreter.set_tensor(first_input["index"], clips)
    interpreter.invoke()
    return np.asarray(interpreter.get_tensor(first_output["index"]))
