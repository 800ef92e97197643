"""Train, resume, evaluate and use video models in a run directory.

A run directory holds everything about one training run:

* ``config.json``: the ``RunConfig`` used (model, data, clip shape...).
* ``last.keras`` and ``best.keras``: the model after the last epoch and after
  the epoch with the best validation score (for GANs ``last.weights.h5`` plus
  ``generator.keras``). Each is written to a temporary file and renamed, so a
  run killed at any moment leaves the previous complete checkpoint.
* ``state.json``: the number of finished epochs and the best score so far,
  written after the checkpoint, so ``--resume`` knows where to go on.
* ``metrics.csv``: one row per finished epoch; ``curves.png``: its plot.
* ``logs/``: TensorBoard logs (when TensorBoard is installed).
* ``confusion.png`` for classifiers, ``predictions.png``/``.mp4`` for
  next-frame predictors, ``samples.png``/``.mp4`` for generators.
"""

import contextlib
import csv
import dataclasses
import importlib
import importlib.util
import json
import os
import pathlib
import shutil
import tempfile

import keras
import numpy as np

from videokit import tf_support
from videokit.config import (  # noqa: F401  (re-exported: the training API in one place)
    CLASSIFIERS,
    GENERATORS,
    MODEL_NAMES,
    PRECISIONS,
    PREDICTORS,
    SYNTHETIC_DATA,
    RunConfig,
    check_run_dir,
    parse_clip,
    saved_config,
)

_RUN_FILES = ("config.json", "classes.json", "state.json", "metrics.csv", "last.keras", "best.keras", "last.weights.h5",
              "generator.keras", "curves.png", "confusion.png", "predictions.png", "predictions.mp4",
              "samples.png", "samples.mp4", "logs")


# ----------------------------------------------------------------------------
# The run directory


def prepare_run_dir(run_dir, config, *, resume=False, overwrite=False):
    """Create, check or clear a run directory; returns the config to use.

    A new directory gets ``config``. ``resume`` keeps the saved config but
    takes ``config.epochs`` as the new total, and refuses a directory of
    another model. An existing
    run is replaced only with ``overwrite``; a folder that is not a videokit
    run is never cleared.
    """
    run_dir = pathlib.Path(run_dir)
    saved = run_dir / "config.json"
    previous = check_run_dir(run_dir, config, resume=resume, overwrite=overwrite)
    if resume:
        previous.epochs = config.epochs
        _write_atomically(saved, previous.to_json())
        _remove_stale_temporaries(run_dir)
        return previous
    if run_dir.exists() and any(run_dir.iterdir()):
        _clear_run(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_atomically(saved, config.to_json())
    return config


def load_run(run_dir):
    """The ``RunConfig`` and best model of a finished run."""
    run_dir = pathlib.Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise ValueError(f"{run_dir}: not a videokit run directory (config.json not found).")
    config = RunConfig.from_json((run_dir / "config.json").read_text())
    if config.kind == "generator":
        return config, keras.models.load_model(run_dir / "generator.keras")
    checkpoint = run_dir / "best.keras"
    if not checkpoint.exists():
        raise ValueError(f"{run_dir}: no finished epoch yet (best.keras not found).")
    return config, keras.models.load_model(checkpoint)


def _remove_stale_temporaries(run_dir):
    """Temporary files of a save that a kill interrupted (``.last.abc123.keras``...)."""
    for name in _RUN_FILES:
        stem = pathlib.Path(name).stem
        for stale in run_dir.glob(f".{stem}.*"):
            if stale.is_file():
                stale.unlink()


def _clear_run(run_dir):
    for name in _RUN_FILES:
        path = run_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _write_atomically(path, text):
    with _atomic_path(path) as temporary:
        pathlib.Path(temporary).write_text(text)


@contextlib.contextmanager
def _atomic_path(path):
    """Yield a temporary path beside ``path``; rename it to ``path`` on success."""
    path = pathlib.Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix="".join(path.suffixes))
    os.close(handle)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


class RunCheckpoint(keras.callbacks.Callback):
    """After each epoch: checkpoints, then ``metrics.csv`` and ``state.json``.

    The order makes a kill at any moment safe: ``state.json`` only ever names
    an epoch whose checkpoint is complete, and rows of ``metrics.csv`` beyond
    that epoch are dropped on resume.
    """

    def __init__(self, run_dir, kind, monitor, best=None):
        super().__init__()
        self.run_dir, self.kind, self.monitor = pathlib.Path(run_dir), kind, monitor
        self.best = best

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        score = logs.get(self.monitor)
        improved = score is not None and (self.best is None or score < self.best)
        if self.kind == "generator":
            self._save(lambda path: self.model.save_weights(path), "last.weights.h5")
            self._save(self.model.generator.save, "generator.keras")
        else:
            self._save(self.model.save, "last.keras")
            if improved:
                self._save(self.model.save, "best.keras")
        if improved:
            self.best = float(score)
        _append_metrics(self.run_dir / "metrics.csv", epoch + 1, logs)
        state = {"epochs_done": epoch + 1, "best": self.best, "monitor": self.monitor}
        _write_atomically(self.run_dir / "state.json", json.dumps(state))

    def _save(self, save, name):
        with _atomic_path(self.run_dir / name) as temporary:
            save(temporary)


def _append_metrics(path, epoch, logs):
    names = sorted(logs)
    new_file = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if new_file:
            writer.writerow(["epoch", *names])
        writer.writerow([epoch, *(f"{float(logs[name]):.6g}" for name in names)])


def read_metrics(run_dir, up_to_epoch=None):
    """The rows of ``metrics.csv`` as a dict of lists (epochs after ``up_to_epoch`` dropped)."""
    path = pathlib.Path(run_dir) / "metrics.csv"
    if not path.exists():
        return {}
    with path.open() as handle:
        rows = [row for row in csv.DictReader(handle) if up_to_epoch is None or int(row["epoch"]) <= up_to_epoch]
    columns = rows[0].keys() if rows else []
    return {name: [float(row[name]) for row in rows] for name in columns if name != "epoch"}


def _truncate_metrics(run_dir, epochs_done):
    path = pathlib.Path(run_dir) / "metrics.csv"
    if not path.exists():
        return
    with path.open() as handle:
        rows = list(csv.reader(handle))
    kept = [rows[0]] + [row for row in rows[1:] if int(row[0]) <= epochs_done]
    with _atomic_path(path) as temporary, open(temporary, "w", newline="") as handle:
        csv.writer(handle).writerows(kept)


def read_state(run_dir):
    path = pathlib.Path(run_dir) / "state.json"
    return json.loads(path.read_text()) if path.exists() else {"epochs_done": 0, "best": None}


# ----------------------------------------------------------------------------
# Data


@dataclasses.dataclass
class Data:
    """Training and validation inputs for ``fit``, and what they are."""

    train: object
    validation: object
    class_names: tuple = ()
    train_targets: object = None
    validation_targets: object = None


def load_data(config):
    """The training and validation data a run config asks for."""
    frames, height, width = config.clip
    if config.data not in SYNTHETIC_DATA:
        return _folder_data(config)
    if config.kind == "classifier":
        if config.data != "moving_shapes":
            raise ValueError(f"{config.model} is a classifier and {config.data} has no labels; "
                             "use --data moving_shapes or a folder of videos.")
        _check_square(config)
        from videokit.data import moving_shapes

        videos, labels, class_names = moving_shapes(config.samples, num_frames=frames, size=height, seed=config.seed)
        clips = videos.astype("float32") / 255.0
        split = _split_point(len(clips), config.validation_fraction)
        return Data(clips[:split], clips[split:], class_names, labels[:split], labels[split:])
    videos = _synthetic_videos(config)
    if config.kind == "predictor":
        clips = videos.astype("float32") / 255.0
        split = _split_point(len(clips), config.validation_fraction)
        return Data(clips[:split, :-1], clips[split:, :-1], (), clips[:split, 1:], clips[split:, 1:])
    clips = videos.astype("float32") / 127.5 - 1.0
    return Data(clips, None)


def _synthetic_videos(config):
    from videokit.data import moving_digits, moving_shapes

    frames, height, _ = config.clip
    _check_square(config)
    frames_needed = frames + 1 if config.kind == "predictor" else frames
    if config.data == "moving_digits":
        return moving_digits(config.samples, num_frames=frames_needed, size=height, seed=config.seed)
    return moving_shapes(config.samples, num_frames=frames_needed, size=height, seed=config.seed)[0]


def _check_square(config):
    _, height, width = config.clip
    if height != width:
        raise ValueError(f"{config.data} makes square frames; got clip {config.clip}, use e.g. "
                         f"{config.clip[0]}x{height}x{height}.")


def _split_point(count, fraction):
    return max(1, min(count - 1, int(round(count * (1 - fraction)))))


def _folder_data(config):
    from videokit.data import VideoFolder, official_split

    if config.kind != "classifier":
        raise ValueError(f"{config.model} trains on synthetic data only for now; use --data moving_digits.")
    frames, height, width = config.clip
    options = dict(num_frames=frames, size=(height, width), augment=True, seed=config.seed, cache_dir=config.cache)
    if config.split_file:
        train, validation = official_split(config.data, config.split_file, config.split, **options)
    else:
        folder = VideoFolder(config.data, **options)
        train, validation = folder.split(config.validation_fraction)
    if config.cache:
        train.prepare_cache()
        validation.prepare_cache()
    batch_size = config.batch_size * device_count(config.strategy)  # --batch-size is per device
    return Data(_batches(train, batch_size, shuffle=True), _batches(validation, batch_size, shuffle=False),
                tuple(train.class_names))


def _batches(folder, batch_size, shuffle):
    """tf.data on TensorFlow: its C++ threads load and prefetch beside the training step at less cost
    than a PyDataset's worker threads; a PyDataset on the other backends, with one worker when clips
    come from the cache, which is cheap, and two to decode (see benchmarks/bench_train.py)."""
    if keras.backend.backend() == "tensorflow":
        return folder.as_tf_dataset(batch_size, shuffle=shuffle)
    return folder.as_pydataset(batch_size, shuffle=shuffle, workers=1 if folder.cache_dir else 2)


# ----------------------------------------------------------------------------
# Models


def build_model(config, num_classes=None):
    """Build and compile the model a run config names."""
    models = importlib.import_module("videokit.models")
    frames, height, width = config.clip
    channels = 1 if config.data == "moving_digits" else 3
    shape = (frames, height, width, channels)
    optimizer = keras.optimizers.Adam(config.learning_rate)
    jit = True if config.jit else "auto"
    if config.kind == "classifier":
        model = getattr(models, CLASSIFIERS[config.model])(shape, num_classes, preset=config.preset)
        model.compile(optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=jit)
        return model
    if config.kind == "predictor":
        model = getattr(models, PREDICTORS[config.model])(shape, preset=config.preset)
        model.compile(optimizer, "binary_crossentropy", metrics=["mse"], jit_compile=jit)
        return model
    generator = getattr(models, GENERATORS[config.model])(output_shape=shape, preset=config.preset)
    discriminator = models.video_discriminator(shape, preset=config.preset)
    gan = models.VideoGAN(generator, discriminator, seed=config.seed)
    gan.compile(keras.optimizers.Adam(config.learning_rate, beta_1=0.5),
                keras.optimizers.Adam(config.learning_rate, beta_1=0.5), jit_compile=jit)
    return gan


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
    if strategy == "none":
        return 1
    if keras.backend.backend() == "jax":
        import jax

        return jax.device_count()
    return len(tf_support.training_devices())


# ----------------------------------------------------------------------------
# Training


def train(config, run_dir, *, resume=False, overwrite=False, verbose=1):
    """Train the model ``config`` describes, writing everything to ``run_dir``.

    Args:
        config: a ``RunConfig``.
        run_dir: the run directory (see the module docstring).
        resume: continue the run in ``run_dir`` from its last finished epoch.
        overwrite: replace an existing run in ``run_dir``.
        verbose: Keras ``fit`` verbosity (1: a progress bar per epoch).

    Returns:
        The metrics of every finished epoch, a dict of lists.
    """
    run_dir = pathlib.Path(run_dir)
    tf_support.keep_unimported_off_tensorflow()
    _check_precision(config.precision)
    config = prepare_run_dir(run_dir, config, resume=resume, overwrite=overwrite)
    keras.utils.set_random_seed(config.seed)
    keras.mixed_precision.set_dtype_policy(config.precision)
    try:
        data = load_data(config)
        if data.class_names:
            _write_atomically(run_dir / "classes.json", json.dumps(list(data.class_names)))
        state = read_state(run_dir) if resume else {"epochs_done": 0, "best": None}
        _truncate_metrics(run_dir, state["epochs_done"])
        with distribution_scope(config.strategy):
            if config.strategy != "none":
                print(f"data parallel over {device_count(config.strategy)} devices")
            model = _model_for(config, run_dir, data, state)
            if state["epochs_done"] < config.epochs:
                keras.utils.set_random_seed(config.seed + state["epochs_done"])
                _fit(model, config, run_dir, data, state, verbose)
        history = read_metrics(run_dir)
        _draw_results(config, run_dir, data, history)
    except BaseException:
        if not resume and read_state(run_dir)["epochs_done"] == 0:
            _remove_unstarted_run(run_dir)  # so that the corrected command can use the same --run-dir
        raise
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    return history


def _check_precision(precision):
    """Refuse float16 where TensorFlow has no kernels for it, before anything is built."""
    if precision != "mixed_float16" or keras.backend.backend() != "tensorflow":
        return
    if not tf_support.has_gpu():
        raise ValueError("mixed_float16 needs a GPU with the TensorFlow backend: its CPU kernels lack float16 "
                         "for layers such as MaxPool3D; use --precision mixed_bfloat16 on a CPU.")


def _remove_unstarted_run(run_dir):
    _clear_run(run_dir)
    if not any(run_dir.iterdir()):
        run_dir.rmdir()


def _model_for(config, run_dir, data, state):
    if state["epochs_done"] == 0:
        return build_model(config, num_classes=len(data.class_names))
    if config.kind == "generator":
        model = build_model(config)
        model.load_weights(run_dir / "last.weights.h5")
        return model
    return keras.models.load_model(run_dir / "last.keras")


def _fit(model, config, run_dir, data, state, verbose):
    monitor = "g_loss" if config.kind == "generator" else "val_loss"
    callbacks = [RunCheckpoint(run_dir, config.kind, monitor, best=state.get("best")), *_tensorboard(run_dir)]
    fit_arguments = dict(epochs=config.epochs, initial_epoch=state["epochs_done"], callbacks=callbacks,
                         verbose=verbose)
    batch_size = config.batch_size * device_count(config.strategy)
    if data.train_targets is None and data.validation is None:
        model.fit(data.train, batch_size=batch_size, shuffle=True, **fit_arguments)
    elif data.train_targets is None:
        model.fit(data.train, validation_data=data.validation, **fit_arguments)
    else:
        model.fit(data.train, data.train_targets, validation_data=(data.validation, data.validation_targets),
                  batch_size=batch_size, shuffle=True, **fit_arguments)


def _tensorboard(run_dir):
    if not importlib.util.find_spec("tensorboard"):
        return []
    from videokit.callbacks import TensorBoardScalars

    return [TensorBoardScalars(pathlib.Path(run_dir) / "logs")]



# ----------------------------------------------------------------------------
# Results people look at


def _draw_results(config, run_dir, data, history):
    import matplotlib.pyplot as plt

    from videokit import viz

    if history:
        metrics = [name for name in history if not name.startswith("val_")]
        plt.close(viz.plot_history(history, metrics=metrics, path=run_dir / "curves.png"))
    config_, model = load_run(run_dir)
    if config.kind == "classifier":
        labels, predictions = predict_labels(model, data.validation, data.validation_targets)
        plt.close(viz.plot_confusion_matrix(labels, predictions, data.class_names, path=run_dir / "confusion.png"))
    elif config.kind == "predictor":
        _draw_predictions(model, data, run_dir)
    else:
        _draw_samples(model, run_dir, config.seed)


def predict_labels(model, inputs, labels=None):
    """True and predicted class numbers for arrays, or a PyDataset or tf.data.Dataset of ``(clips, labels)``."""
    if labels is not None:
        return np.asarray(labels), np.argmax(model.predict(inputs, verbose=0), axis=-1)
    true, predicted = [], []
    for clips, batch_labels in inputs:
        true.append(np.asarray(batch_labels))
        predicted.append(np.argmax(model.predict_on_batch(clips), axis=-1))
    return np.concatenate(true), np.concatenate(predicted)


def _draw_predictions(model, data, run_dir):
    import matplotlib.pyplot as plt

    from videokit import io, viz

    clips, targets = data.validation[:2], data.validation_targets[:2]
    predicted = model.predict(clips, verbose=0)
    rows = [clip for pair in zip(targets, predicted) for clip in pair]
    titles = [title for _ in range(len(clips)) for title in ("true", "predicted")]
    plt.close(viz.frame_grid(np.clip(rows, 0, 1), titles=titles, path=run_dir / "predictions.png"))
    side_by_side = np.concatenate([targets[0], np.clip(predicted[0], 0, 1)], axis=2)
    io.write_video(run_dir / "predictions.mp4", _even(side_by_side), fps=4, overwrite=True)


def _draw_samples(generator, run_dir, seed):
    import matplotlib.pyplot as plt

    from videokit import io, viz
    from videokit.models.gan import video_of

    latents = keras.random.normal((4, *generator.input_shape[1:]), seed=seed)
    videos = np.clip((np.asarray(video_of(generator.predict(latents, verbose=0))) + 1) / 2, 0, 1)
    plt.close(viz.frame_grid(videos, path=run_dir / "samples.png"))
    io.write_video(run_dir / "samples.mp4", _even(np.concatenate(list(videos), axis=2)), fps=4, overwrite=True)


def _even(clip):
    height, width = clip.shape[1:3]
    return np.pad(clip, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")


# ----------------------------------------------------------------------------
# Using a trained run


def evaluate(run_dir, data=None, output=None):
    """Accuracy, a per-class report and a confusion matrix of a classifier run.

    Args:
        run_dir: a finished classifier run.
        data: evaluate on this data (a folder or synthetic set) instead of the
            run's validation split.
        output: folder for ``confusion.png`` (default: the run directory).

    Returns:
        A dict with ``accuracy``, ``per_class`` (rows of precision, recall,
        support) and ``confusion`` (the matrix as lists).
    """
    config, model = load_run(run_dir)
    if config.kind != "classifier":
        raise ValueError(f"{run_dir} holds a {config.model} {config.kind}; evaluate works on classifiers.")
    if data is not None:
        config = dataclasses.replace(config, data=data, split_file=None, cache=None)
    loaded = load_data(config)
    labels, predictions = predict_labels(model, loaded.validation, loaded.validation_targets)
    count = len(loaded.class_names)
    confusion = np.zeros((count, count), dtype=int)
    np.add.at(confusion, (labels, predictions), 1)
    per_class = []
    for index, name in enumerate(loaded.class_names):
        predicted, support = confusion[:, index].sum(), confusion[index].sum()
        precision = confusion[index, index] / predicted if predicted else 0.0
        recall = confusion[index, index] / support if support else 0.0
        per_class.append({"class": name, "precision": float(precision), "recall": float(recall),
                          "support": int(support)})
    import matplotlib.pyplot as plt

    from videokit import viz

    output = pathlib.Path(output or run_dir)
    output.mkdir(parents=True, exist_ok=True)
    plt.close(viz.plot_confusion_matrix(labels, predictions, loaded.class_names, path=output / "confusion.png"))
    return {"accuracy": float(np.mean(labels == predictions)), "per_class": per_class,
            "confusion": confusion.tolist(), "plot": str(output / "confusion.png")}


def predict_videos(run_dir, paths, *, top_k=3, steps=8, output=None):
    """Use a run on real video files.

    A classifier returns the ``top_k`` classes with their probabilities for
    each file. A next-frame predictor reads the clip's frames as context,
    rolls out ``steps`` frames and writes them to ``output`` (a folder) as
    ``<name>.predicted.mp4``.

    Returns:
        A list with one entry per file: ``[(class, probability), ...]`` or the
        path of the written prediction.
    """
    from videokit import io

    config, model = load_run(run_dir)
    frames, height, width = config.clip
    results = []
    for path in paths:
        clip = io.read_video(path, num_frames=frames, size=(height, width), sampling="uniform")
        clip = clip.astype("float32") / 255.0
        if config.data == "moving_digits":
            clip = clip.mean(axis=-1, keepdims=True)
        if config.kind == "classifier":
            probabilities = model.predict(clip[None], verbose=0)[0]
            class_names = json.loads((pathlib.Path(run_dir) / "classes.json").read_text())
            best = np.argsort(probabilities)[::-1][:top_k]
            results.append([(class_names[i], float(probabilities[i])) for i in best])
        elif config.kind == "predictor":
            from videokit.models.convlstm import rollout

            forecast = rollout(model, clip[None], steps)[0]
            folder = pathlib.Path(output or pathlib.Path(path).parent)
            target = folder / f"{pathlib.Path(path).stem}.predicted.mp4"
            results.append(io.write_video(target, _even(np.clip(forecast, 0, 1)), fps=4))
        else:
            raise ValueError(f"{run_dir} holds a generator; use videokit.models.VideoGAN.generate to sample it.")
    return results
