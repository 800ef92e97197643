"""The run directory: what a run writes, in which order, and how ``--resume`` reads it back.

A run directory holds:

* ``config.json``: the ``RunConfig`` used (model, data, clip shape...).
* the task's checkpoint (``last.keras``, or ``last.weights.h5`` for GANs),
  which carries the run's state (see ``checkpoints``): it is the one file
  that says how far the run got.
* ``best.keras``: the model of the epoch with the best validation score
  (classifiers and predictors); ``generator.keras`` for GANs.
* ``state.json``: a readable copy of the state in the checkpoint.
* ``metrics.csv``: one row per finished epoch; ``curves.png``: its plot.
* ``logs/``: TensorBoard logs (when TensorBoard is installed).
* the task's pictures (``confusion.png``, ``predictions.png``...).

After each epoch the run appends its row to ``metrics.csv``, then writes
the checkpoint with its state in one rename: the epoch is finished at that
rename. Everything after it (``best.keras``, ``state.json``, the task's
files) is derived from the checkpoint, and ``--resume`` redoes whatever a
kill left undone. A kill before the rename loses the unfinished epoch only;
its metrics row is dropped on resume. So an epoch is never trained twice and
a finished one is never lost.
"""

import csv
import json
import pathlib
import shutil
import sys

import keras

from videokit._files import atomic_path, remove_temporaries, write_text_atomically
from videokit.config import check_run_dir
from videokit.training import checkpoints, transfer

STATE = "state.json"
METRICS = "metrics.csv"
BEST = "best.keras"
_COMMON_FILES = ("config.json", "classes.json", STATE, METRICS, BEST, "curves.png", "logs")
FRESH_STATE = {"epochs_done": 0, "optimizer_steps": 0, "best": None, "best_epoch": None}


def prepare_run_dir(run_dir, config, task, *, resume=False, overwrite=False):
    """Create, check or clear a run directory; returns the config to use.

    A new directory gets ``config``. ``resume`` keeps the saved config but
    takes ``config.epochs`` as the new total, and refuses a directory of
    another model. An existing run is replaced only with ``overwrite``; a
    folder that is not a videokit run is never cleared.
    """
    run_dir = pathlib.Path(run_dir)
    previous = check_run_dir(run_dir, config, resume=resume, overwrite=overwrite)
    if resume:
        previous.epochs = config.epochs
        if "multi-worker" in (previous.strategy, config.strategy):  # the workers it had or has now: as the command says
            previous.strategy = config.strategy
        write_text_atomically(run_dir / "config.json", previous.to_json())
        remove_temporaries(run_dir, run_files(task))
        return previous
    if run_dir.exists() and any(run_dir.iterdir()):
        clear_run(run_dir, task)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomically(run_dir / "config.json", config.to_json())
    return config


def run_files(task):
    return (*_COMMON_FILES, task.checkpoint, *task.output_files)


def clear_run(run_dir, task):
    """Remove what a run of ``task`` wrote to ``run_dir`` (and nothing else)."""
    for name in run_files(task):
        path = pathlib.Path(run_dir) / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


# ----------------------------------------------------------------------------
# Saving after each epoch


class RunCheckpoint(keras.callbacks.Callback):
    """After each epoch: the metrics row, the checkpoint with its state, then what derives from it."""

    def __init__(self, run_dir, task, state):
        super().__init__()
        self.run_dir, self.task, self.state = pathlib.Path(run_dir), task, dict(state)

    def on_epoch_end(self, epoch, logs=None):
        for _, step in self._save_sequence(epoch, dict(logs or {})):
            step()

    def _save_sequence(self, epoch, logs):
        """The named steps of saving an epoch, in order (a test kills the process between any two)."""
        score = logs.get(self.task.monitor)
        improved = score is not None and (self.state["best"] is None or score < self.state["best"])
        state = {**self.state, "epochs_done": epoch + 1, "optimizer_steps": self.task.optimizer_steps(self.model),
                 "monitor": self.task.monitor, "frozen": transfer.frozen(self.model)}
        if improved:
            state.update(best=float(score), best_epoch=epoch + 1)

        def commit():
            checkpoints.save_checkpoint(lambda path: self.task.save_checkpoint(self.model, path),
                                        self.run_dir / self.task.checkpoint, state)
            self.state = state

        return [
            ("metrics", lambda: append_metrics(self.run_dir / METRICS, epoch + 1, logs)),
            ("checkpoint", commit),
            *finishing_steps(self.run_dir, self.task, self.model, state),
        ]


def finishing_steps(run_dir, task, model, state):
    """The steps after an epoch's checkpoint, each skipped when already done: ``--resume`` reruns them."""
    run_dir = pathlib.Path(run_dir)
    return [
        ("best", lambda: _update_best(run_dir, task, state)),
        ("state", lambda: _write_state_copy(run_dir, state)),
        *((name, lambda save=save: save(model, run_dir, state)) for name, save in task.outputs_after_epoch()),
    ]


def _update_best(run_dir, task, state):
    best = run_dir / BEST
    if not task.keeps_best or state["best_epoch"] != state["epochs_done"]:
        return
    if best.exists() and _saved_epoch(best) == state["best_epoch"]:
        return
    checkpoints.copy_checkpoint(run_dir / task.checkpoint, best)


def _saved_epoch(path):
    try:
        return checkpoints.checkpoint_state(path)["epochs_done"]
    except ValueError:
        return None


def _write_state_copy(run_dir, state):
    text = json.dumps(state, indent=2)
    path = run_dir / STATE
    if not path.exists() or path.read_text() != text:
        write_text_atomically(path, text)


# ----------------------------------------------------------------------------
# Reading back


def resume_state(run_dir, task):
    """The state of the last finished epoch, from the checkpoint that carries it.

    Returns ``FRESH_STATE`` for a run killed before its first epoch ended.

    Raises:
        ValueError: one line naming the file, when the checkpoint is damaged,
            or missing while the run has finished epochs.
    """
    run_dir = pathlib.Path(run_dir)
    checkpoint = run_dir / task.checkpoint
    if not checkpoint.exists():
        finished = _finished_epochs_on_record(run_dir)
        if finished:
            raise ValueError(f"{checkpoint}: missing, but the run has {finished} finished epochs; "
                             "put the file back, or start again with --overwrite.")
        return dict(FRESH_STATE)
    state = checkpoints.checkpoint_state(checkpoint)
    _note_state_copy(run_dir / STATE, checkpoint, state)
    return state


def _finished_epochs_on_record(run_dir):
    """Finished epochs as state.json and metrics.csv tell (a row is written before its epoch's checkpoint)."""
    try:
        recorded = json.loads((run_dir / STATE).read_text())["epochs_done"]
    except (OSError, ValueError, KeyError, TypeError):
        recorded = 0
    rows = len(next(iter(read_metrics(run_dir).values()), []))
    return max(recorded, rows - 1)


def _note_state_copy(path, checkpoint, state):
    """Say so when state.json is missing, damaged or disagrees; the checkpoint's state wins."""
    try:
        copy = json.loads(path.read_text())
        problem = None if copy.get("epochs_done") == state["epochs_done"] else "disagrees with the checkpoint"
    except FileNotFoundError:
        problem = "is missing"
    except (ValueError, AttributeError):
        problem = "is damaged"
    if problem:
        print(f"{path} {problem}; resuming from the state saved in {checkpoint} "
              f"({state['epochs_done']} finished epochs).", file=sys.stderr)


def check_optimizer_steps(model, task, state, checkpoint):
    """Refuse a checkpoint whose weights do not have the optimizer steps its state records."""
    steps = task.optimizer_steps(model)
    if steps != state["optimizer_steps"]:
        raise ValueError(f"{checkpoint}: its weights have {steps} optimizer steps but its state records "
                         f"{state['optimizer_steps']}; the file is damaged or from another run. "
                         "Start again with --overwrite.")


def load_checkpoint(path, load):
    """``load(path)``, with one line naming the file when it is damaged."""
    path = pathlib.Path(path)
    try:
        return load(path)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: damaged or unreadable ({str(error).splitlines()[0][:200]}); "
                         "start again with --overwrite.") from None


# ----------------------------------------------------------------------------
# metrics.csv


def append_metrics(path, epoch, logs):
    names = sorted(logs)
    new_file = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if new_file:
            writer.writerow(["epoch", *names])
        writer.writerow([epoch, *(f"{float(logs[name]):.6g}" for name in names)])


def read_metrics(run_dir, up_to_epoch=None):
    """The rows of ``metrics.csv`` as a dict of lists (epochs after ``up_to_epoch`` dropped)."""
    path = pathlib.Path(run_dir) / METRICS
    if not path.exists():
        return {}
    with path.open() as handle:
        rows = [row for row in csv.DictReader(handle) if up_to_epoch is None or int(row["epoch"]) <= up_to_epoch]
    columns = rows[0].keys() if rows else []
    return {name: [float(row[name]) for row in rows] for name in columns if name != "epoch"}


def truncate_metrics(run_dir, epochs_done):
    """Drop the rows of epochs that did not finish (a kill between the row and the checkpoint)."""
    path = pathlib.Path(run_dir) / METRICS
    if not path.exists():
        return
    with path.open() as handle:
        rows = list(csv.reader(handle))
    kept = [rows[0]] + [row for row in rows[1:] if int(row[0]) <= epochs_done] if rows else []
    if len(kept) == len(rows):
        return
    with atomic_path(path) as temporary, open(temporary, "w", newline="") as handle:
        csv.writer(handle).writerows(kept)


def read_state(run_dir):
    """The state of a run: finished epochs, optimizer steps, best score (from its checkpoint)."""
    run_dir = pathlib.Path(run_dir)
    for name in ("last.keras", "last.weights.h5"):
        if (run_dir / name).exists():
            return checkpoints.checkpoint_state(run_dir / name)
    return dict(FRESH_STATE)

