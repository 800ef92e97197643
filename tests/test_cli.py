import os
import subprocess
import sys

import pytest

from videokit import io

pytestmark = pytest.mark.backend_independent  # the Keras backend does not matter here


def run_videokit(*arguments, cwd):
    environment = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "videokit", *arguments], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=300)


def test_demo_writes_real_videos_and_a_frame_grid(tmp_path):
    result = run_videokit("demo", "--out", "demo", "--clips", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "decoded (8, 64, 64, 3)" in result.stdout
    assert io.probe(tmp_path / "demo" / "move_left.mp4").num_frames == 32
    assert (tmp_path / "demo" / "frame_grid.png").stat().st_size > 10_000


def test_demo_folders_are_a_dataset_videokit_train_takes(tmp_path):
    from videokit.data import VideoFolder

    result = run_videokit("demo", "--out", "videos", "--clips", "10", "--folders", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "10 videos in 8 class folders: videokit train --data videos" in result.stdout
    folder = VideoFolder(tmp_path / "videos", num_frames=8, size=32)
    assert len(folder) == 10 and len(folder.class_names) == 8
    assert result.stdout.count("decoded (8, 64, 64, 3)") == 8  # the grid shows the first 8
    assert (tmp_path / "videos" / "frame_grid.png").exists()


def test_demo_does_not_overwrite_an_earlier_demo(tmp_path):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "frame_grid.png").write_bytes(b"mine")
    result = run_videokit("demo", "--out", "demo", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "videokit demo: error: demo already holds a demo; pass --overwrite to replace it."
    assert (tmp_path / "demo" / "frame_grid.png").read_bytes() == b"mine"


def test_info_reports_bad_files_in_one_line(tmp_path):
    (tmp_path / "notes.mp4").write_text("hello")
    result = run_videokit("info", "notes.mp4", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "videokit info: error: notes.mp4: not a video FFmpeg can read (Invalid data found when processing input)."
    ]


def test_version_names_videokit_and_what_it_runs_on(tmp_path):
    result = run_videokit("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("videokit 0.1.0 (Python ") and "keras " in result.stdout


def every_option():
    from videokit import cli

    parser = cli._parser()
    commands = next(action for action in parser._actions if action.dest == "command").choices
    for name, command in [("videokit", parser), *commands.items()]:
        for action in command._actions:
            if action.dest not in ("help", "version", "command"):
                yield name, action


def test_every_option_has_help_and_shows_its_default():
    from videokit import cli

    formatter = cli._HelpFormatter("videokit")
    for command, action in every_option():
        assert action.help, f"videokit {command}: {action.option_strings or action.dest} has no help text"
        shown = formatter._get_help_string(action)
        if action.default is not None and not isinstance(action.default, bool):
            assert "default" in shown, f"videokit {command} {action.option_strings}: default not shown"


def test_refusing_an_existing_run_imports_neither_keras_nor_tensorflow(tmp_path):
    (tmp_path / "runs" / "cnn_lstm").mkdir(parents=True)
    (tmp_path / "runs" / "cnn_lstm" / "config.json").write_text('{"model": "cnn_lstm"}')
    script = ("import sys\nfrom videokit import cli\ncode = cli.main(['train'])\n"
              "print(code, sorted({'keras', 'tensorflow', 'jax'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["2", "[]"], result.stderr
    assert result.stderr.strip() == ("videokit train: error: runs/cnn_lstm already holds a run; "
                                     "pass --resume to continue it or --overwrite to start again.")


def test_the_command_lines_names_are_the_registrys_and_the_data_layers():
    from videokit import config, registry
    from videokit.data.datasets import SYNTHETIC_DATASETS

    assert config.MODEL_NAMES == registry.list_models()
    assert sorted(config.SYNTHETIC_DATA) == sorted(SYNTHETIC_DATASETS)  # config keeps the names numpy-free
