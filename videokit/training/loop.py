"""``train``: the fit loop every task shares."""

import importlib.util
import json
import pathlib

import keras

from videokit import tf_support
from videokit._files import write_text_atomically
from videokit.data import reraise_video_errors
from videokit.training import run_dir as runs
from videokit.training.devices import check_precision, device_count, distribution_scope
from videokit.training.task import task_for


def train(config, run_dir, *, resume=False, overwrite=False, verbose=1):
    """Train the model ``config`` describes, writing everything to ``run_dir``.

    Args:
        config: a ``RunConfig``.
        run_dir: the run directory (see ``videokit.training.run_dir``).
        resume: continue the run in ``run_dir`` from its last finished epoch.
        overwrite: replace an existing run in ``run_dir``.
        verbose: Keras ``fit`` verbosity (1: a progress bar per epoch).

    Returns:
        The metrics of every finished epoch, a dict of lists.

    Example:

    >>> config = RunConfig(model="cnn_lstm", epochs=2, samples=64, clip=(4, 32, 32))
    >>> history = train(config, "runs/demo")  # doctest: +SKIP
    """
    run_dir = pathlib.Path(run_dir)
    tf_support.keep_unimported_off_tensorflow()
    check_precision(config.precision)
    task = task_for(config)
    config = runs.prepare_run_dir(run_dir, config, task, resume=resume, overwrite=overwrite)
    task = task_for(config)  # a resumed run keeps its saved settings
    keras.utils.set_random_seed(config.seed)
    keras.mixed_precision.set_dtype_policy(config.precision)
    try:
        with reraise_video_errors():  # the same one line for an unreadable video on every backend
            history = _train_task(task, config, run_dir, resume, verbose)
    except BaseException:
        if not resume and runs.read_state(run_dir)["epochs_done"] == 0:
            _remove_unstarted_run(run_dir, task)  # so that the corrected command can use the same --run-dir
        raise
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    return history


def _train_task(task, config, run_dir, resume, verbose):
    """Load the data, build or restore the model, fit the epochs left, draw the results."""
    state = runs.resume_state(run_dir, task) if resume else dict(runs.FRESH_STATE)
    batch_size = config.batch_size * device_count(config.strategy)  # --batch-size is per device
    data = task.load_data(batch_size)
    if data.class_names:
        write_text_atomically(run_dir / "classes.json", json.dumps(list(data.class_names)))
    runs.truncate_metrics(run_dir, state["epochs_done"])
    with distribution_scope(config.strategy):
        if config.strategy != "none":
            print(f"data parallel over {device_count(config.strategy)} devices")
        model = _model_for(task, run_dir, data, state)
        if state["epochs_done"] < config.epochs:
            keras.utils.set_random_seed(config.seed + state["epochs_done"])
            callbacks = [runs.RunCheckpoint(run_dir, task, state), *_tensorboard(run_dir)]
            task.fit(model, data, batch_size, epochs=config.epochs, initial_epoch=state["epochs_done"],
                     callbacks=callbacks, verbose=verbose)
    history = runs.read_metrics(run_dir)
    _draw_results(task, run_dir, data, history)
    return history


def _model_for(task, run_dir, data, state):
    """A new model, or the checkpoint's, with whatever a kill left unsaved after it redone."""
    if state["epochs_done"] == 0:
        return _new_model(task, data)
    model = task.restore(run_dir, data)
    runs.check_optimizer_steps(model, task, state, run_dir / task.checkpoint)
    for _, step in runs.finishing_steps(run_dir, task, model, state):
        step()
    return model


def _new_model(task, data):
    """A freshly built model, with ``--init-from`` weights and ``--freeze`` applied."""
    from videokit.training import transfer

    model, config = task.build(data), task.config
    if config.init_from:
        copied, skipped = transfer.initialise_from(model, config.init_from)
        not_copied = "".join(f"; not {name}: {why}" for name, why in skipped.items())
        print(f"weights from {config.init_from}: {len(copied)} of {len(copied) + len(skipped)} layers{not_copied}")
    if config.freeze != "none":
        print(f"backbone frozen: {transfer.freeze(model, config.freeze):,} weights left to train")
    return model


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
