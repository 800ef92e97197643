"""Runs survive faults: a kill at every point of saving an epoch, damaged and missing run files, a full disk.

Each kill is a real process death (``os._exit``) between two named steps of
``RunCheckpoint._save_sequence``; the run is then resumed and must end with
every epoch trained exactly once.
"""

import errno
import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest

from videokit import _files
from videokit.training import checkpoints

pytestmark = [pytest.mark.backend_independent, pytest.mark.slow]

SAMPLES, BATCH = 24, 8  # 19 training clips: 3 optimizer steps an epoch
STEPS_PER_EPOCH = 3
# (model, data, the points of the save sequence to kill at)
RUNS = {
    "cnn_lstm": ("moving_shapes", ("start", "metrics", "checkpoint", "best", "state")),
    "vgan": ("moving_digits", ("checkpoint", "state", "generator")),
    "videomae": ("moving_shapes", ("metrics", "checkpoint", "reconstructions")),
}

_KILL_AND_RESUME = textwrap.dedent("""
    import json, os, sys
    from videokit.config import RunConfig
    from videokit.training import run_dir as runs
    from videokit import training

    model, data, run_dir, kill_at, epochs, resume = sys.argv[1:7]
    original = runs.RunCheckpoint._save_sequence

    def killing_sequence(self, epoch, logs):
        steps = original(self, epoch, logs)
        if kill_at == "start" and epoch == 0:
            os._exit(9)
        def then_die(name, step):
            def run():
                step()
                if epoch == 0 and name == kill_at:
                    os._exit(9)
            return run
        return [(name, then_die(name, step)) for name, step in steps]

    if kill_at != "none":
        runs.RunCheckpoint._save_sequence = killing_sequence
    config = RunConfig(model=model, data=data, epochs=int(epochs), samples=%d, batch_size=%d, clip=(4, 32, 32),
                       preset="small")
    training.train(config, run_dir, resume=resume == "resume", verbose=0)
""" % (SAMPLES, BATCH))


def run_training(model, data, run_dir, kill_at="none", epochs=1, resume=False):
    environment = dict(os.environ, MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, "-c", _KILL_AND_RESUME, model, data, str(run_dir), kill_at, str(epochs),
               "resume" if resume else "new"]
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600)


def read_csv_epochs(run_dir):
    lines = (run_dir / "metrics.csv").read_text().splitlines()[1:]
    return [int(line.split(",")[0]) for line in lines]


@pytest.mark.parametrize("model", sorted(RUNS))
def test_a_kill_at_every_point_of_saving_loses_and_repeats_no_epoch(tmp_path, model):
    data, points = RUNS[model]
    checkpoint = "last.weights.h5" if model == "vgan" else "last.keras"
    for point in points:
        run_dir = tmp_path / point
        killed = run_training(model, data, run_dir, kill_at=point, epochs=2)
        assert killed.returncode == 9, killed.stderr[-3000:]
        resumed = run_training(model, data, run_dir, epochs=2, resume=True)
        assert resumed.returncode == 0, f"killed after {point}:\n{resumed.stderr[-3000:]}"

        state = checkpoints.checkpoint_state(run_dir / checkpoint)
        assert state["epochs_done"] == 2, point
        assert state["optimizer_steps"] == 2 * STEPS_PER_EPOCH, point  # not 3 epochs' worth: none repeated
        assert json.loads((run_dir / "state.json").read_text()) == state, point
        assert read_csv_epochs(run_dir) == [1, 2], point
        if model == "vgan":
            assert checkpoints.checkpoint_state(run_dir / "generator.keras")["epochs_done"] == 2, point
        else:
            best = checkpoints.checkpoint_state(run_dir / "best.keras")
            assert best["epochs_done"] == state["best_epoch"], point
        assert not [path.name for path in run_dir.iterdir() if path.name.startswith(".")], point
        if model == "videomae":  # one picture per epoch, none left half-written
            pictures = sorted(path.name for path in (run_dir / "reconstructions").iterdir())
            assert pictures == ["epoch_001.png", "epoch_002.png"], point


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    result = run_training("cnn_lstm", "moving_shapes", run_dir, epochs=1)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


def copy_of(run_dir, tmp_path):
    subprocess.run(["cp", "-r", str(run_dir), str(tmp_path / "run")], check=True)
    return tmp_path / "run"


def resume_error(run_dir):
    result = run_training("cnn_lstm", "moving_shapes", run_dir, epochs=2, resume=True)
    assert result.returncode != 0
    return result.stderr.strip().splitlines()[-1]


def test_run_files_are_readable_by_the_group_like_any_file(finished_run):
    for name in ("config.json", "state.json", "metrics.csv", "last.keras", "best.keras", "confusion.png"):
        mode = stat.S_IMODE((finished_run / name).stat().st_mode)
        assert mode == 0o666 & ~_umask(), (name, oct(mode))


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_truncated_checkpoint_is_named_in_one_line(finished_run, tmp_path):
    run_dir = copy_of(finished_run, tmp_path)
    checkpoint = run_dir / "last.keras"
    checkpoint.write_bytes(checkpoint.read_bytes()[:5000])
    line = resume_error(run_dir)
    assert f"{checkpoint}: damaged or not a videokit checkpoint (truncated or not a zip file)" in line


@pytest.mark.parametrize("damage", ["empty", "garbage", "deleted"])
def test_a_damaged_or_deleted_state_json_resumes_from_the_checkpoint(finished_run, tmp_path, damage):
    run_dir = copy_of(finished_run, tmp_path)
    state_file = run_dir / "state.json"
    if damage == "deleted":
        state_file.unlink()
    else:
        state_file.write_text("" if damage == "empty" else "{not json")
    result = run_training("cnn_lstm", "moving_shapes", run_dir, epochs=2, resume=True)
    assert result.returncode == 0, result.stderr[-3000:]
    said = "is missing" if damage == "deleted" else "is damaged"
    assert f"{state_file} {said}; resuming from the state saved in {run_dir / 'last.keras'} (1 finished epochs)" \
        in result.stderr
    assert json.loads(state_file.read_text())["epochs_done"] == 2
    assert read_csv_epochs(run_dir) == [1, 2]


def test_a_deleted_checkpoint_of_a_run_with_finished_epochs_is_refused(finished_run, tmp_path):
    run_dir = copy_of(finished_run, tmp_path)
    (run_dir / "last.keras").unlink()
    line = resume_error(run_dir)
    assert line.endswith(f"{run_dir / 'last.keras'}: missing, but the run has 1 finished epochs; "
                         "put the file back, or start again with --overwrite.")


@pytest.mark.filterwarnings("ignore:Duplicate name")  # the copied checkpoint already holds a state
def test_a_checkpoint_whose_weights_disagree_with_its_state_is_refused(finished_run, tmp_path):
    run_dir = copy_of(finished_run, tmp_path)
    state = checkpoints.checkpoint_state(run_dir / "last.keras")
    checkpoints.save_checkpoint(lambda path: __import__("shutil").copyfile(run_dir / "best.keras", path),
                                run_dir / "last.keras", {**state, "optimizer_steps": 99})
    line = resume_error(run_dir)
    assert f"its weights have {STEPS_PER_EPOCH} optimizer steps but its state records 99" in line


def test_a_full_disk_is_one_line_with_the_file_and_the_free_space(tmp_path, monkeypatch, capsys):
    from videokit import cli

    def no_space(source, target):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_files.os, "replace", no_space)
    assert cli.main(["demo", "--out", str(tmp_path / "demo"), "--clips", "1"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith(f"videokit demo: error: cannot write {tmp_path / 'demo'}")
    assert "the disk is full (" in error[0] and "MiB free in" in error[0]
    assert not [path for path in (tmp_path / "demo").rglob(".*") if path.is_file()]  # no temporaries left
