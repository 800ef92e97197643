"""Unreadable videos in a folder: one line naming the file on every backend, no hang, or training without them.

Each case runs ``model.fit`` on ``VideoFolder.batches()`` in a process of its
own with a time limit: TensorFlow used to print a 72-line tf.data traceback
and then hang at exit, in the destructor of a parallel-map iterator that the
exception's traceback kept alive until the interpreter shut down.
"""

import os
import subprocess
import sys

import pytest

from videokit import io
from videokit.data import moving_shapes

pytestmark = [pytest.mark.backend_independent, pytest.mark.slow]  # each case picks its backend in a subprocess

BACKENDS = [pytest.param("tensorflow", id="tensorflow"), pytest.param("jax", id="jax")]

TRAIN = """
import pathlib, sys
import keras
from videokit import io
from videokit.data import VideoFolder, reraise_video_errors

root = pathlib.Path(sys.argv[1])
case = sys.argv[2]


def fit(train, validation):
    model = keras.Sequential([keras.Input(train.clip_shape), keras.layers.GlobalAveragePooling3D(),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    with reraise_video_errors():
        model.fit(train.batches(4, shuffle=True, progress=False), epochs=2, verbose=0,
                  validation_data=validation.batches(4, shuffle=False, progress=False))


folder = VideoFolder(root, num_frames=4, size=24, skip_bad_videos=case.startswith("skip"))
try:
    if case == "found before training":
        fit(*folder.split(0.25))
    elif case == "fails while training":  # passes the check, then breaks: fails inside the pipeline
        (root / "grow" / "garbage.mp4").unlink()
        (root / "move_left" / "truncated.mp4").unlink()
        train, validation = VideoFolder(root, num_frames=4, size=24).split(0.25)
        train.prepare(progress=False)
        (root / "bounce" / "v_03.mp4").write_bytes(b"damaged after the check")
        fit(train, validation)
    elif case == "uncaught":  # as in a script: the error reaches the top level
        (root / "grow" / "garbage.mp4").unlink()
        (root / "move_left" / "truncated.mp4").unlink()
        train, validation = VideoFolder(root, num_frames=4, size=24).split(0.25)
        train.prepare(progress=False)
        (root / "bounce" / "v_03.mp4").write_bytes(b"damaged after the check")
        model = keras.Sequential([keras.Input(train.clip_shape), keras.layers.Flatten(), keras.layers.Dense(3)])
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(train.batches(4, shuffle=True, progress=False), epochs=2, verbose=0)
    else:  # skip: two found before training, one that breaks while training
        train, validation = folder.split(0.25, progress=False)
        (root / "bounce" / "v_03.mp4").write_bytes(b"damaged after the check")
        fit(train, validation)
        print("trained without", sorted(pathlib.Path(path).name for path in train.skipped))
except ValueError as error:  # what the videokit command line does
    print(f"error: {error}")
    sys.exit(2)
"""


@pytest.fixture
def bad_folder(tmp_path):
    """Twelve good clips in three classes, a file that is not a video and one cut short."""
    videos, _, _ = moving_shapes(12, num_frames=10, size=32)
    root = tmp_path / "clips"
    for number, video in enumerate(videos):
        io.write_video(root / ["bounce", "grow", "move_left"][number % 3] / f"v_{number:02d}.mp4", video, fps=10)
    (root / "grow" / "garbage.mp4").write_bytes(b"not a video at all" * 10)
    good = (root / "bounce" / "v_00.mp4").read_bytes()
    (root / "move_left" / "truncated.mp4").write_bytes(good[: len(good) // 3])
    return root


def _train(root, case, backend, tmp_path):
    environment = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
                       PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
    try:
        return subprocess.run([sys.executable, "-c", TRAIN, str(root), case], cwd=tmp_path, env=environment,
                              capture_output=True, text=True, timeout=240, check=False)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"{case!r} on {backend} hung: {(expired.stderr or b'')[-2000:]!r}")


def _not_tensorflow_noise(stderr):
    return [line for line in stderr.splitlines() if line.strip() and "UserWarning" not in line
            and "self.data_adapter = " not in line]


@pytest.mark.parametrize("backend", BACKENDS)
def test_unreadable_videos_stop_training_with_one_line_before_it_starts(bad_folder, backend, tmp_path):
    result = _train(bad_folder, "found before training", backend, tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stdout.splitlines() == [
        (f"error: {bad_folder}/grow/garbage.mp4: not a video FFmpeg can read (Invalid data found when processing "
         "input); 2 unreadable videos in all.")]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_video_that_fails_inside_the_pipeline_gives_the_same_line_and_no_hang(bad_folder, backend, tmp_path):
    result = _train(bad_folder, "fails while training", backend, tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stdout.splitlines() == [
        (f"error: {bad_folder}/bounce/v_03.mp4: not a video FFmpeg can read (Invalid data found when processing "
         "input).")]
    assert "Traceback" not in result.stderr


def test_an_uncaught_pipeline_error_ends_the_process_on_tensorflow(bad_folder, tmp_path):
    pytest.importorskip("tensorflow")
    result = _train(bad_folder, "uncaught", "tensorflow", tmp_path)  # hung at exit, 4 tries out of 4, before
    assert result.returncode == 1
    assert f"{bad_folder}/bounce/v_03.mp4: not a video FFmpeg can read" in result.stderr


@pytest.mark.parametrize("backend", BACKENDS)
def test_skip_bad_videos_lists_them_once_and_trains_without_them(bad_folder, backend, tmp_path):
    result = _train(bad_folder, "skip", backend, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == ["trained without ['garbage.mp4', 'truncated.mp4', 'v_03.mp4']"]
    said = [line for line in _not_tensorflow_noise(result.stderr) if line.startswith("videokit:")]
    assert said == [
        ("videokit: skipped 2 unreadable videos: grow/garbage.mp4 (not a video FFmpeg can read (Invalid data found "
         "when processing input)); move_left/truncated.mp4 (not a video FFmpeg can read (Invalid data found when "
         "processing input))"),
        ("videokit: skipped unreadable video bounce/v_03.mp4 (not a video FFmpeg can read (Invalid data found when "
         "processing input)); 3 skipped in all."),
    ]
