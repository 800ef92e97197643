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
