"""videokit predict --stream: a causal classifier run on a video file frame by frame, with latencies."""

import json

import keras
import numpy as np
import pytest

from videokit import cli, io
from videokit.config import RunConfig
from videokit.models import c3d, causal_c3d
from videokit.training import stream_video

CLASSES = [f"class{index}" for index in range(8)]


def fake_run(folder, build, model_name):
    """A run directory as videokit train leaves it (config, classes, best.keras), without the training."""
    keras.utils.set_random_seed(0)
    folder.mkdir()
    model = build(preset="small", filters=(4, 4, 8, 8, 8, 8, 8, 8)) if build is causal_c3d else build(preset="small")
    model.save(folder / "best.keras")
    (folder / "config.json").write_text(RunConfig(model=model_name, clip=(8, 32, 32)).to_json())
    (folder / "classes.json").write_text(json.dumps(CLASSES))
    return folder, model


@pytest.fixture
def video(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, (8, 40, 48, 3), dtype=np.uint8)
    return io.write_video(tmp_path / "clip.mkv", frames, codec="ffv1")


def test_every_frame_gets_a_line_and_the_last_is_the_offline_answer(tmp_path, video, capsys):
    run, model = fake_run(tmp_path / "run", causal_c3d, "causal_c3d")
    assert cli.main(["predict", str(run), str(video), "--stream"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 9 and lines[0].startswith("frame 0: class") and lines[0].endswith(" ms)")
    assert lines[-1].startswith("8 frames: latency per frame mean ") and "95th percentile" in lines[-1]

    clip = np.stack(list(io.iter_frames(video, size=(32, 32)))).astype("float32") / 255.0
    offline = keras.ops.convert_to_numpy(model(clip[None]))[0]
    last = list(stream_video(run, video))[-1]
    assert last.index == 7 and last.class_name == CLASSES[int(np.argmax(offline))]
    assert abs(last.probability - float(offline.max())) < 1e-5


def test_a_model_that_is_not_causal_gets_one_line_naming_the_causal_ones(tmp_path, video, capsys):
    run, _ = fake_run(tmp_path / "run", c3d, "c3d")
    assert cli.main(["predict", str(run), str(video), "--stream"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "needs a causal model and c3d is not one" in error and error.endswith("are: causal_c3d.")


def test_a_missing_camera_is_one_clear_line(tmp_path, capsys):
    run, _ = fake_run(tmp_path / "run", causal_c3d, "causal_c3d")
    assert cli.main(["predict", str(run), "/dev/video97", "--stream"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == ("videokit predict: error: /dev/video97: no such camera device "
                     "(is a webcam connected? try ls /dev/video*).")


def test_iter_frames_decodes_every_frame_in_order(make_video):
    from conftest import frame_index

    frames = list(io.iter_frames(make_video("grey.mkv", codec="ffv1"), size=(12, 16)))
    assert len(frames) == 24 and frames[0].shape == (12, 16, 3) and frames[0].dtype == np.uint8
    assert [frame_index(frame) for frame in frames] == list(range(24))
