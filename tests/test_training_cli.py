"""The `videokit train / evaluate / predict / bench` commands, run for real in subprocesses."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import pytest

from videokit import io
from videokit.data import moving_digits, moving_shapes

pytestmark = [pytest.mark.backend_independent, pytest.mark.slow]  # real training runs, in subprocesses

TINY = ["--samples", "48", "--clip", "4x32x32", "--batch-size", "8", "--verbose", "2"]


def videokit(*arguments, cwd, timeout=600, wait=True):
    environment = dict(os.environ, MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, "-m", "videokit", *map(str, arguments)]
    if not wait:
        return subprocess.Popen(command, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout)


def one_line_error(result):
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    return lines[-1]


def test_train_evaluate_predict_on_a_real_video(tmp_path):
    result = videokit("train", "--epochs", "2", "--run-dir", "run", *TINY, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "validation accuracy" in result.stdout and "Epoch 2/2" in result.stdout
    run = tmp_path / "run"
    for name in ("config.json", "classes.json", "state.json", "metrics.csv", "last.keras", "best.keras",
                 "curves.png", "confusion.png"):
        assert (run / name).exists(), name
    assert any((run / "logs").rglob("*tfevents*"))
    assert json.loads((run / "state.json").read_text())["epochs_done"] == 2
    assert json.loads((run / "config.json").read_text())["model"] == "cnn_lstm"

    evaluation = videokit("evaluate", "run", cwd=tmp_path)
    assert evaluation.returncode == 0, evaluation.stderr[-3000:]
    assert evaluation.stdout.startswith("accuracy ") and "move_left" in evaluation.stdout

    videos, labels, names = moving_shapes(2, num_frames=12, size=48, seed=9)
    for video, label in zip(videos, labels):
        io.write_video(tmp_path / f"{names[label]}.mp4", video)
    prediction = videokit("predict", "run", "move_left.mp4", "move_right.mp4", "--top-k", "2", cwd=tmp_path)
    assert prediction.returncode == 0, prediction.stderr[-3000:]
    lines = prediction.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["move_left.mp4", "move_right.mp4"]
    probabilities = [float(part.split()[-1]) for part in lines[0].split(": ")[1].split(", ")]
    assert len(probabilities) == 2 and probabilities[0] >= probabilities[1]


def test_a_killed_run_resumes_from_its_last_epoch(tmp_path):
    slow = [*TINY, "--samples", "240"]  # about a second an epoch, so the kill lands inside one
    process = videokit("train", "--epochs", "40", "--run-dir", "run", *slow, cwd=tmp_path, wait=False)
    state = tmp_path / "run" / "state.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not state.exists() or json.loads(state.read_text())["epochs_done"] < 2):
        time.sleep(0.2)
    time.sleep(0.3)  # now somewhere inside an epoch
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = json.loads(state.read_text())["epochs_done"]
    assert 2 <= done < 40
    keras.models.load_model(tmp_path / "run" / "last.keras")  # the checkpoint is complete

    refused = videokit("train", "--epochs", done + 2, "--run-dir", "run", *slow, cwd=tmp_path)
    assert "already holds a run; pass --resume" in one_line_error(refused)
    (tmp_path / "run" / ".last.k1ll3d.keras").write_bytes(b"half a checkpoint")  # a save the kill cut short
    resumed = videokit("train", "--epochs", done + 2, "--run-dir", "run", "--resume", *slow, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Epoch {done + 1}/{done + 2}" in resumed.stdout and f"Epoch {done}/" not in resumed.stdout
    assert not list((tmp_path / "run").glob(".last.*"))
    rows = (tmp_path / "run" / "metrics.csv").read_text().strip().splitlines()
    assert [int(row.split(",")[0]) for row in rows[1:]] == list(range(1, done + 3))


def test_official_split_and_frame_cache_on_a_video_folder(tmp_path):
    videos, labels, names = moving_shapes(24, num_frames=12, size=40, seed=5)
    train_lines, test_lines = [], []
    for number, (video, label) in enumerate(zip(videos, labels)):
        relative = f"{names[label]}/v_{names[label]}_g{number:02d}.mp4"
        io.write_video(tmp_path / "clips" / relative, video)
        (train_lines if number % 3 else test_lines).append(relative)
    (tmp_path / "ucfTrainTestlist").mkdir()
    (tmp_path / "ucfTrainTestlist" / "trainlist01.txt").write_text("\n".join(train_lines))
    (tmp_path / "ucfTrainTestlist" / "testlist01.txt").write_text("\n".join(test_lines))
    arguments = ["--data", "clips", "--split-file", "ucfTrainTestlist", "--cache", "cache", "--epochs", "1",
                 "--clip", "4x32x32", "--batch-size", "8", "--verbose", "2"]
    result = videokit("train", "--run-dir", "run", *arguments, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "decoding videos into cache" in result.stderr
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 24  # the training and the test videos
    evaluation = videokit("evaluate", "run", cwd=tmp_path)
    assert evaluation.returncode == 0, evaluation.stderr[-3000:]
    assert evaluation.stdout.startswith("accuracy ") and f" on {len(test_lines)} clips" in evaluation.stdout
    again = videokit("train", "--run-dir", "run2", "--strategy", "mirrored", "--logical-cpus", "2", *arguments,
                     cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "decoding videos into cache" not in again.stderr  # the cache is reused
    assert "data parallel over 2 devices" in again.stdout


def test_an_unreadable_video_is_one_line_or_skipped_with_skip_bad_videos(tmp_path):
    videos, labels, names = moving_shapes(8, num_frames=6, size=32, seed=3)
    for index, (video, label) in enumerate(zip(videos, labels)):
        io.write_video(tmp_path / "clips" / names[label % 2] / f"v{index}.mp4", video)
    (tmp_path / "clips" / names[0] / "broken.mp4").write_bytes(b"not a video at all")
    arguments = ["--data", "clips", "--clip", "4x32x32", "--batch-size", "4", "--epochs", "1", "--verbose", "2"]

    refused = videokit("train", "--run-dir", "run", *arguments, cwd=tmp_path, timeout=300)  # no hang at exit
    line = one_line_error(refused)
    assert line.startswith("videokit train: error: ") and f"{names[0]}/broken.mp4: " in line
    assert not (tmp_path / "run").exists()  # the corrected command can use the same run directory

    skipped = videokit("train", "--run-dir", "run", "--skip-bad-videos", *arguments, cwd=tmp_path, timeout=300)
    assert skipped.returncode == 0, skipped.stderr[-3000:]
    assert skipped.stderr.count("broken.mp4") == 1 and "skipped 1 unreadable video" in skipped.stderr
    assert json.loads((tmp_path / "run" / "config.json").read_text())["skip_bad_videos"] is True


def test_a_default_run_prints_no_tensorflow_log_lines(tmp_path):
    environment = {name: value for name, value in os.environ.items() if name != "TF_CPP_MIN_LOG_LEVEL"}
    command = [sys.executable, "-m", "videokit", "train", "--epochs", "1", "--run-dir", "run", *TINY]
    result = subprocess.run(command, cwd=tmp_path, env=dict(environment, MPLBACKEND="Agg"), capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""  # no cuInit error, CPU feature notes or absl warnings: only what videokit says


def test_jax_training_never_imports_tensorflow_and_still_logs_for_tensorboard(tmp_path):
    script = ("import sys\nfrom videokit import cli\n"
              f"code = cli.main(['train', '--epochs', '2', '--run-dir', 'run', *{TINY!r}])\n"
              "print('exit', code, 'tensorflow imported:', 'tensorflow' in sys.modules)")
    environment = dict(os.environ, KERAS_BACKEND="jax", MPLBACKEND="Agg")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=environment, capture_output=True,
                            text=True, timeout=600)
    assert result.stdout.strip().splitlines()[-1] == "exit 0 tensorflow imported: False", result.stderr[-3000:]
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    for split, tags in [("train", {"epoch_loss", "epoch_accuracy"}), ("validation", {"epoch_loss", "epoch_accuracy"})]:
        events = event_accumulator.EventAccumulator(str(tmp_path / "run" / "logs" / split)).Reload()
        assert set(events.Tags()["scalars"]) == tags
        assert [event.step for event in events.Scalars("epoch_loss")] == [0, 1]


def test_float16_on_a_cpu_is_refused_with_advice(tmp_path):
    tf = pytest.importorskip("tensorflow")
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("float16 trains on a GPU")
    refused = videokit("train", "--model", "c3d", "--precision", "mixed_float16", "--run-dir", "run", *TINY,
                       cwd=tmp_path)
    assert "use --precision mixed_bfloat16 on a CPU" in one_line_error(refused)
    assert not (tmp_path / "run").exists()


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    result = videokit("train", "--epochs", "1", "--strategy", "mirrored", "--logical-cpus", "2",
                      "--run-dir", "run", *TINY, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "data parallel over 2 devices" in result.stdout


def test_next_frame_predictor_and_gan_runs(tmp_path):
    predictor = videokit("train", "--model", "convlstm", "--data", "moving_digits", "--epochs", "1",
                         "--run-dir", "convlstm", *TINY, cwd=tmp_path)
    assert predictor.returncode == 0, predictor.stderr[-3000:]
    assert (tmp_path / "convlstm" / "predictions.png").exists()
    io.write_video(tmp_path / "digits.mp4", moving_digits(1, num_frames=8, size=32)[0])
    forecast = videokit("predict", "convlstm", "digits.mp4", "--steps", "3", cwd=tmp_path)
    assert forecast.returncode == 0, forecast.stderr[-3000:]
    assert io.probe(tmp_path / "digits.predicted.mp4").num_frames == 3

    gan = videokit("train", "--model", "vgan", "--epochs", "1", "--run-dir", "vgan", *TINY, cwd=tmp_path)
    assert gan.returncode == 0, gan.stderr[-3000:]
    assert (tmp_path / "vgan" / "samples.png").exists() and (tmp_path / "vgan" / "generator.keras").exists()


@pytest.mark.parametrize("arguments, message", [
    (["train", "--model", "resnet9000"], "unknown model 'resnet9000'; choose one of cnn_lstm, c3d"),
    (["train", "--data", "no/such/folder"], "data must be moving_shapes or moving_digits or a folder of videos"),
    (["train", "--data", "empty"], "no class folders found"),
    (["train", "--model", "c3d", "--clip", "4x32x32", "--samples", "16"], "c3d expects input_shape=(time, height, width, channels), one clip without the batch axis, with positive int sizes, time >= 8"),
    (["train", "--clip", "16by112"], "clip must look like FRAMESxHEIGHTxWIDTH"),
    (["train", "--split-file", "empty"], "split files, caches and skipping bad videos are for folders of videos, not moving_shapes"),
    (["evaluate", "nowhere"], "not a videokit run directory"),
])
def test_user_errors_are_one_clear_line(tmp_path, arguments, message):
    (tmp_path / "empty").mkdir()
    assert message in one_line_error(videokit(*arguments, "--run-dir", "run", cwd=tmp_path)
                                      if arguments[0] == "train" else videokit(*arguments, cwd=tmp_path))
    assert not (tmp_path / "run").exists()  # a run that never started leaves nothing behind


def test_run_dir_of_another_model_or_not_a_run_is_refused(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "thesis.tex").write_text("precious")
    refused = videokit("train", "--run-dir", "notes", "--overwrite", *TINY, cwd=tmp_path)
    assert "is not empty and is not a videokit run" in one_line_error(refused)
    assert (tmp_path / "notes" / "thesis.tex").read_text() == "precious"
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(json.dumps({"model": "c3d"}))
    other = videokit("train", "--run-dir", "run", "--resume", *TINY, cwd=tmp_path)
    assert "belongs to a c3d run, not cnn_lstm" in one_line_error(other)


def test_bench_prints_a_table(tmp_path):
    result = videokit("bench", "--model", "c3d", "--preset", "small", "--clip", "8x32x32", "--batch-size", "4",
                      "--steps", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    header, row = result.stdout.strip().splitlines()[-2:]
    assert "train clips/s" in header and row.split()[0] == "c3d"
