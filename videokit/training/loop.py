"""``train``: the fit loop every task shares."""

import importlib.util
import json
import pathlib
import tempfile

import keras

from videokit import tf_support
from videokit._files import write_text_atomically
from videokit.cluster import epoch_order, shard_indices
from videokit.data import reraise_video_errors
from videokit.training import run_dir as runs
from videokit.training import transfer
from videokit.training.devices import (
    check_precision,
    device_count,
    distribution_scope,
    start_workers,
)
from videokit.training.task import task_for


def train(config, run_dir, *, resume=False, overwrite=False, verbose=1, cluster=None):
    """Train the model ``config`` describes, writing everything to ``run_dir``.

    Args:
        config: a ``RunConfig``.
        run_dir: the run directory (see ``videokit.training.run_dir``).
        resume: continue the run in ``run_dir`` from its last finished epoch.
        overwrite: replace an existing run in ``run_dir``.
        verbose: Keras ``fit`` verbosity (1: a progress bar per epoch).
        cluster: this process's ``videokit.cluster.Cluster`` for
            ``strategy="multi-worker"``: each worker trains on its own share
            of the training data, and only the chief (worker 0) writes
            ``run_dir``; the others write to a temporary folder, then remove
            it. With ``resume``, every worker reads the run's settings and
            checkpoint from ``run_dir`` (a folder all of them see), so that
            all continue from the chief's last finished epoch.

    Returns:
        The metrics of every finished epoch, a dict of lists.

    Example:

    >>> config = RunConfig(model="cnn_lstm", epochs=2, samples=64, clip=(4, 32, 32))
    >>> history = train(config, "runs/demo")  # doctest: +SKIP
    """
    _check_cluster(config, cluster)
    if cluster is not None and not cluster.is_chief:
        if resume:
            config = _chief_config(config, pathlib.Path(run_dir), cluster)
        with tempfile.TemporaryDirectory(prefix="videokit-worker-") as scratch:
            return _train(config, pathlib.Path(scratch) / "run", False, False, verbose, cluster,
                          resume_from=pathlib.Path(run_dir) if resume else None)
    return _train(config, pathlib.Path(run_dir), resume, overwrite, verbose, cluster)


def _check_cluster(config, cluster):
    if (config.strategy == "multi-worker") != (cluster is not None):
        raise ValueError(f"a cluster goes with strategy='multi-worker' and only with it; got strategy="
                         f"{config.strategy!r} and cluster={cluster}.")
    if cluster is not None and task_for(config).name == "generator":
        raise ValueError(f"{config.model} is a GAN, whose training step --strategy multi-worker does not "
                         "support yet; use --strategy none or mirrored.")


def _chief_config(config, run_dir, cluster):
    """The settings of the run a worker other than the chief resumes, read from the chief's ``run_dir``."""
    from videokit.config import saved_config

    saved = saved_config(run_dir)
    if saved is None:
        raise ValueError(f"worker {cluster.worker_index} cannot resume: {run_dir / 'config.json'} not found; "
                         "every worker needs the chief's run directory (a folder all workers see).")
    if saved.model != config.model:
        raise ValueError(f"{run_dir} belongs to a {saved.model} run, not {config.model}; choose another --run-dir.")
    saved.epochs, saved.strategy = config.epochs, config.strategy
    return saved


def _train(config, run_dir, resume, overwrite, verbose, cluster, resume_from=None):
    tf_support.keep_unimported_off_tensorflow()
    check_precision(config.precision)
    start_workers(config.strategy, cluster)  # before the backend computes anything
    task = task_for(config)
    config = runs.prepare_run_dir(run_dir, config, task, resume=resume, overwrite=overwrite)
    task = task_for(config)  # a resumed run keeps its saved settings
    keras.utils.set_random_seed(config.seed)
    keras.mixed_precision.set_dtype_policy(config.precision)
    try:
        with reraise_video_errors():  # the same one line for an unreadable video on every backend
            history = _train_task(task, config, run_dir, resume, verbose, cluster, resume_from)
    except BaseException:
        if not resume and runs.read_state(run_dir)["epochs_done"] == 0:
            _remove_unstarted_run(run_dir, task)  # so that the corrected command can use the same --run-dir
        raise
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    return history


def _train_task(task, config, run_dir, resume, verbose, cluster, resume_from=None):
    """Load the data, build or restore the model, fit the epochs left, draw the results.

    ``resume_from``: the chief's run directory, which a resuming worker other than the chief reads only.
    """
    source = resume_from or run_dir
    state = runs.resume_state(source, task) if resume or resume_from else dict(runs.FRESH_STATE)
    batch_size = config.batch_size * device_count(config.strategy, cluster)  # --batch-size is per device
    workers = cluster.num_workers if cluster else 1
    task.cluster = cluster
    data = _shard(task.load_data(batch_size // workers), cluster)
    if data.class_names:
        write_text_atomically(run_dir / "classes.json", json.dumps(list(data.class_names)))
    runs.truncate_metrics(run_dir, state["epochs_done"])
    with distribution_scope(config.strategy, cluster):
        if config.strategy != "none":
            print(f"data parallel over {device_count(config.strategy, cluster)} devices")
        if cluster is not None:
            print(f"worker {cluster.worker_index} of {workers}: global batch {batch_size} = "
                  f"{batch_size // workers} per worker x {workers} workers")
        model = _model_for(task, source, data, state, finish=resume_from is None)
        if state["epochs_done"] < config.epochs:
            callbacks = [runs.RunCheckpoint(run_dir, task, state), *_tensorboard(run_dir)]
            for first, stop in transfer.stages(state["epochs_done"], config.epochs, config.unfreeze_after):
                _unfreeze_when_due(model, config, first)
                keras.utils.set_random_seed(config.seed + first)
                _fit(task, model, data, batch_size, cluster, epochs=stop, initial_epoch=first, callbacks=callbacks,
                     verbose=verbose)
    history = runs.read_metrics(run_dir)
    if cluster is None or cluster.is_chief:
        _draw_results(task, run_dir, data, history)
    return history


def _shard(data, cluster):
    """This worker's share of training clips held in memory (a folder's videos are shared by the task)."""
    if cluster is None or not hasattr(data.train, "shape"):
        return data
    total = len(data.train)
    kept = shard_indices(total, cluster)
    print(f"worker {cluster.worker_index} of {cluster.num_workers} trains on clips "
          f"{cluster.worker_index}::{cluster.num_workers} of the {total} training clips: {len(kept)} clips")
    data.train = data.train[kept]
    if data.train_targets is not None:
        data.train_targets = data.train_targets[kept]
    return data


def _fit(task, model, data, batch_size, cluster, **fit_arguments):
    """``task.fit``; for several workers, on this worker's share, in batches of its part of the global batch."""
    if cluster is None:
        return task.fit(model, data, batch_size, **fit_arguments)
    worker_batch = batch_size // cluster.num_workers
    shard_size = len(data.train) if hasattr(data.train, "shape") else data.train_size
    steps = shard_size // worker_batch
    if steps < 1:
        raise ValueError(f"each worker has {shard_size} training clips, fewer than its batch of {worker_batch}; "
                         "use more data or a smaller --batch-size.")
    if keras.backend.backend() == "jax":  # the Keras distribution API joins the workers' batches into one
        if not hasattr(data.train, "shape"):  # a folder's loader, which shuffles itself
            return task.fit(model, data, worker_batch, **fit_arguments)
        batches = ShardBatches(data.train, data.train_targets, worker_batch, seed=task.config.seed)
        callbacks = [batches.follower(), *fit_arguments.pop("callbacks", [])]
        return model.fit(batches, validation_data=(data.validation, data.validation_targets),
                         validation_batch_size=worker_batch, shuffle=False, callbacks=callbacks, **fit_arguments)
    return tf_support.fit_on_workers(model, tf_support.multi_worker_strategy(cluster),
                                     _with_targets(data.train, data.train_targets),
                                     _with_targets(data.validation, data.validation_targets), global_batch=batch_size,
                                     steps=steps, seed=task.config.seed, **fit_arguments)


class ShardBatches(keras.utils.PyDataset):
    """A worker's share of clips in batches, epoch by epoch in ``videokit.cluster.epoch_order``.

    Every worker takes its ``k``-th batch at step ``k``, so the global batches
    are the same in every run of the same command, resumed or not. The epoch
    comes from ``fit`` through the callback ``follower()`` (Keras calls a
    dataset's own ``on_epoch_end`` once more before the first epoch).

    Args:
        clips: this worker's clips.
        targets: their targets.
        batch_size: this worker's part of the global batch.
        seed: the run's seed.
    """

    def __init__(self, clips, targets, batch_size, *, seed):
        super().__init__()
        self.clips, self.targets, self.batch_size, self.seed = clips, targets, batch_size, seed
        self.set_epoch(0)

    def set_epoch(self, epoch):
        self.order = epoch_order(len(self.clips), self.seed, epoch)

    def follower(self):
        """The callback for ``fit`` that gives the batches of each epoch its order, before the epoch starts."""
        return keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs=None: self.set_epoch(epoch))

    def __len__(self):
        return len(self.clips) // self.batch_size

    def __getitem__(self, index):
        chosen = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        return self.clips[chosen], self.targets[chosen]


def _with_targets(inputs, targets):
    return inputs if targets is None else (inputs, targets)


def _model_for(task, run_dir, data, state, finish=True):
    """A new model, or the checkpoint's, with whatever a kill left unsaved after it redone (if ``finish``)."""
    if state["epochs_done"] == 0:
        return _new_model(task, data)
    model = task.restore(run_dir, data)
    runs.check_optimizer_steps(model, task, state, run_dir / task.checkpoint)
    for _, step in runs.finishing_steps(run_dir, task, model, state) if finish else ():
        step()
    return model


def _new_model(task, data):
    """A freshly built model, with ``--init-from`` weights and ``--freeze`` applied."""
    model, config = task.build(data), task.config
    if config.init_from:
        copied, skipped = transfer.initialise_from(model, config.init_from)
        not_copied = "".join(f"; not {name}: {why}" for name, why in skipped.items())
        print(f"weights from {config.init_from}: {len(copied)} of {len(copied) + len(skipped)} layers{not_copied}")
    if config.freeze != "none":
        print(f"backbone frozen: {transfer.freeze(model, config.freeze):,} weights left to train")
    return model


def _unfreeze_when_due(model, config, epochs_done):
    """``--unfreeze-after N``: from N finished epochs on, the whole model trains (a resumed run too)."""
    if config.unfreeze_after is not None and epochs_done >= config.unfreeze_after and transfer.frozen(model) != "none":
        print(f"epoch {epochs_done + 1}: backbone unfrozen, {transfer.unfreeze(model):,} weights to train")


def _remove_unstarted_run(run_dir, task):
    runs.clear_run(run_dir, task)
    if run_dir.exists() and not any(run_dir.iterdir()):
        run_dir.rmdir()


def _tensorboard(run_dir):
    if not importlib.util.find_spec("tensorboard"):
        return []
    from videokit.callbacks import TensorBoardScalars

    return [TensorBoardScalars(pathlib.Path(run_dir) / "logs")]


def _draw_results(task, run_dir, data, history):
    import matplotlib.pyplot as plt

    from videokit import viz

    if history:
        metrics = [name for name in history if not name.startswith("val_")]
        plt.close(viz.plot_history(history, metrics=metrics, path=run_dir / "curves.png"))
    task.draw_results(task.trained_model(run_dir), data, run_dir)
