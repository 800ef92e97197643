import concurrent.futures
import fractions
import pathlib

import av
import numpy as np
import pytest

from videokit import io
from tests.conftest import frame_index, indexed_frames

pytestmark = pytest.mark.backend_independent  # the Keras backend does not matter here

# Six frames of seeded random pixels, written losslessly (FFV1, bgr0) by PyAV 19. Every stack
# in CI (PyAV 18 on Python 3.11, PyAV 19 on 3.12+) must decode exactly these pixels.
LOSSLESS_VIDEO = pathlib.Path(__file__).parent / "videos" / "random_rgb_ffv1.mkv"


def lossless_video_frames():
    return np.random.default_rng(2026).integers(0, 256, (6, 24, 32, 3), dtype=np.uint8)

FORMATS = [
    pytest.param("clip.mp4", {}, "h264", id="mp4-h264"),
    pytest.param("clip.avi", {}, "mpeg4", id="avi-mpeg4"),
    pytest.param("clip.avi", {"codec": "mjpeg"}, "mjpeg", id="avi-mjpeg"),
    pytest.param("clip.webm", {}, "vp9", id="webm-vp9"),
    pytest.param("clip.mkv", {}, "h264", id="mkv-h264"),
    pytest.param("clip.gif", {}, "gif", id="gif"),
]


@pytest.mark.parametrize("name, options, codec", FORMATS)
def test_every_format_round_trips_frames_in_order(make_video, name, options, codec):
    path = make_video(name, fps=12, **options)
    info = io.probe(path)
    assert (info.num_frames, info.width, info.height, info.codec) == (24, 64, 48, codec)
    assert info.fps == pytest.approx(12, rel=0.05)
    frames = io.read_video(path)
    assert frames.shape == (24, 48, 64, 3) and frames.dtype == np.uint8
    assert [frame_index(frame) for frame in frames] == list(range(24))


@pytest.mark.parametrize("name, options, codec", FORMATS[:5])
def test_every_format_samples_the_right_frames(make_video, name, options, codec):
    path = make_video(name, keyframe_interval=5, **options)
    clip = io.read_video(path, num_frames=4, frame_step=3, sampling="center")
    assert [frame_index(frame) for frame in clip] == [7, 10, 13, 16]


def test_explicit_indices_come_back_in_their_order_with_repeats(make_video):
    path = make_video("indices.mp4", keyframe_interval=5)
    assert io.frame_count(path) == 24
    clip = io.read_video(path, indices=[[20, 3], [3, 23]], size=(24, 32))
    assert clip.shape == (4, 24, 32, 3) and [frame_index(frame) for frame in clip] == [20, 3, 3, 23]
    with pytest.raises(io.VideoReadError, match=r"has 24 frames; indices must be frame numbers from 0 to 23"):
        io.read_video(path, indices=[0, 24])


def test_sampling_policies_choose_the_documented_frames():
    assert io.sample_indices(24).tolist() == list(range(24))
    assert io.sample_indices(24, 4, sampling="uniform").tolist() == [0, 8, 15, 23]
    assert io.sample_indices(24, 3, frame_step=2, start=5, sampling="clip").tolist() == [5, 7, 9]
    assert io.sample_indices(24, 4, sampling="center").tolist() == [10, 11, 12, 13]
    assert io.sample_indices(24, 5, frame_step=4, sampling="all").tolist() == [0, 4, 8, 12, 16]
    first = io.sample_indices(100, 8, sampling="random", seed=1)
    assert first.tolist() == io.sample_indices(100, 8, sampling="random", seed=1).tolist()
    starts = {io.sample_indices(100, 8, sampling="random", seed=seed)[0] for seed in range(20)}
    assert len(starts) > 5 and np.all(np.diff(first) == 1)


def test_random_clips_are_seeded(make_video):
    path = make_video("clip.mp4", frames=indexed_frames(30))
    first = io.read_video(path, num_frames=4, sampling="random", seed=3)
    again = io.read_video(path, num_frames=4, sampling="random", seed=3)
    np.testing.assert_array_equal(first, again)
    start = frame_index(first[0])
    assert [frame_index(frame) for frame in first] == list(range(start, start + 4))


def test_unknown_sampling_policy_is_a_clear_error(make_video):
    path = make_video("clip.mp4")
    with pytest.raises(io.VideoReadError, match="sampling must be one of"):
        io.read_video(path, num_frames=4, sampling="middle")


def test_resizing_keeps_the_picture_layout(make_video):
    frames = np.zeros((6, 60, 80, 3), np.uint8)
    frames[:, :, :40] = 255  # left half white
    path = make_video("halves.mp4", frames=frames)
    clip = io.read_video(path, size=(30, 20))
    assert clip.shape == (6, 30, 20, 3)
    assert clip[:, :, :8].mean() > 230 and clip[:, :, 12:].mean() < 25
    assert io.read_video(path, num_frames=2, size=16).shape == (2, 16, 16, 3)


def test_only_the_wanted_frames_are_converted_and_long_gaps_are_seeked(make_video, monkeypatch):
    path = make_video("long.mp4", frames=indexed_frames(60, 32, 32, step=3), keyframe_interval=10,
                      quality=0)
    converted, runs = [], []
    to_rgb, decode_run = io._to_rgb, io._decode_run
    monkeypatch.setattr(io, "_to_rgb", lambda frame, **kw: converted.append(frame.pts) or to_rgb(frame, **kw))
    monkeypatch.setattr(io, "_decode_run", lambda *a: runs.append(a[3:5]) or decode_run(*a))
    clip = io.read_video(path, num_frames=4, sampling="uniform")
    assert [frame_index(frame, step=3) for frame in clip] == [0, 20, 39, 59]
    assert len(converted) == 4
    assert len(runs) == 4  # each wanted frame lies behind a keyframe after the previous one


def test_reading_is_thread_safe(make_video):
    paths = [make_video(f"clip{number}.mp4", frames=indexed_frames(16 + number)) for number in range(6)]
    expected = [io.read_video(path, num_frames=8, size=24) for path in paths]
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda path: io.read_video(path, num_frames=8, size=24), paths * 4))
    for number, result in enumerate(results):
        np.testing.assert_array_equal(result, expected[number % len(paths)])


def test_lossless_file_decodes_bit_for_bit_on_every_pyav():
    expected = lossless_video_frames()
    info = io.probe(LOSSLESS_VIDEO)
    assert (info.num_frames, info.width, info.height, info.codec, info.fps) == (6, 32, 24, "ffv1", 6.0)
    assert info.duration == pytest.approx(1.0)
    np.testing.assert_array_equal(io.read_video(LOSSLESS_VIDEO), expected)
    np.testing.assert_array_equal(io.read_video(LOSSLESS_VIDEO, num_frames=2, start=3, sampling="clip"), expected[3:5])


def test_pyav_rationals_of_every_release_become_fractions():
    assert io._fraction(None) is None  # PyAV 18: an unset rate
    assert io._fraction(fractions.Fraction(0, 1)) is None  # PyAV 19: unset is 0/1, never None
    assert io._fraction(fractions.Fraction(30000, 1001)) == fractions.Fraction(30000, 1001)
    with av.open(str(LOSSLESS_VIDEO)) as container:  # whatever type this PyAV returns
        assert io._fraction(container.streams.video[0].average_rate) == 6


@pytest.mark.parametrize("broken", ["open", "reformat"])
def test_an_unexpected_pyav_error_still_names_the_file(monkeypatch, broken):
    """A PyAV release that changes its API gives one line naming the file, not a bare TypeError."""
    def fail(*args, **kwargs):
        raise TypeError("open() got an unexpected keyword argument 'metadata_errors'")

    if broken == "open":
        io._cached_index.cache_clear()
        monkeypatch.setattr(io.av, "open", fail)
    else:
        monkeypatch.setattr(io, "_to_rgb", fail)
    assert_read_error(LOSSLESS_VIDEO, r"PyAV .* failed to read it \(TypeError: .*metadata_errors")
    with pytest.raises(io.VideoReadError, match="random_rgb_ffv1.mkv"):
        io.probe(LOSSLESS_VIDEO) if broken == "open" else io.read_video(LOSSLESS_VIDEO, size=8)


def test_grayscale_video_decodes_to_rgb(make_video):
    gray = indexed_frames(8)[..., :1]
    path = make_video("gray.mkv", frames=gray, codec="ffv1", pixel_format="gray")
    clip = io.read_video(path)
    assert clip.shape == (8, 48, 64, 3)
    np.testing.assert_array_equal(clip[..., 0], clip[..., 2])
    assert [frame_index(frame) for frame in clip] == list(range(8))


def test_odd_sized_video_keeps_its_size(make_video):
    rng = np.random.default_rng(0)
    frames = np.repeat(rng.integers(0, 255, (1, 241, 321, 3), dtype=np.uint8), 5, axis=0)
    path = make_video("odd.mp4", frames=frames, quality=0)
    info = io.probe(path)
    assert (info.width, info.height) == (321, 241)
    clip = io.read_video(path)
    assert clip.shape == (5, 241, 321, 3)
    assert np.abs(clip.astype(int) - frames).mean() < 4


def test_rotated_video_is_turned_upright(make_video):
    frames = np.zeros((4, 40, 64, 3), np.uint8)
    frames[:, :10, :20] = 255  # a white block in the stored top-left corner
    path = make_video("phone.mp4", frames=frames, rotation=90)
    info = io.probe(path)
    assert (info.rotation, info.width, info.height) == (90, 40, 64)
    clip = io.read_video(path)
    assert clip.shape == (4, 64, 40, 3)
    # Rotating 90 degrees counter-clockwise moves the top-left corner to the bottom-left.
    assert clip[:, -18:, :8].mean() > 200 and clip[:, :40].mean() < 20
    assert io.read_video(path, size=(32, 20)).shape == (4, 32, 20, 3)


def test_variable_frame_rate_video_is_read_frame_by_frame(make_video):
    times = np.cumsum([0, 0.04, 0.04, 0.2, 0.04, 0.5, 0.04, 0.04, 0.1, 0.04])
    path = make_video("vfr.mp4", frames=indexed_frames(10), timestamps=times)
    assert io.probe(path).num_frames == 10
    assert [frame_index(frame) for frame in io.read_video(path)] == list(range(10))
    assert [frame_index(frame) for frame in io.read_video(path, num_frames=3, sampling="center")] == [3, 4, 5]


def test_write_video_never_overwrites_without_asking(make_video, tmp_path):
    path = make_video("clip.mp4")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        io.write_video(path, indexed_frames(3))
    assert path.read_bytes() == before
    io.write_video(path, indexed_frames(3), overwrite=True)
    assert io.probe(path).num_frames == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # no temporary file left


def test_write_video_rejects_bad_frames(tmp_path):
    with pytest.raises(ValueError, match=r"\(time, height, width, 3\)"):
        io.write_video(tmp_path / "bad.mp4", np.zeros((4, 8), np.uint8))
    with pytest.raises(ValueError, match="unknown video suffix"):
        io.write_video(tmp_path / "bad.xyz", indexed_frames(2))


# Bad input: every case raises VideoReadError (a ValueError) naming the file.


def assert_read_error(path, match, **options):
    with pytest.raises(io.VideoReadError, match=match) as raised:
        io.read_video(path, **options)
    assert isinstance(raised.value, ValueError)
    assert str(path) in str(raised.value)


def test_missing_file(tmp_path):
    assert_read_error(tmp_path / "nothing.mp4", "no such file")
    with pytest.raises(io.VideoReadError, match="no such file"):
        io.probe(tmp_path / "nothing.mp4")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.touch()
    assert_read_error(path, r"empty \(0 bytes\)")


def test_text_file_named_mp4(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("these are my lecture notes, not a video\n" * 20)
    assert_read_error(path, "not a video FFmpeg can read")


@pytest.mark.parametrize("name", ["clip.mp4", "clip.mkv", "clip.avi"])
def test_truncated_file(make_video, name):
    path = make_video(name, frames=indexed_frames(40, step=5))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(io.VideoReadError) as raised:
        io.read_video(path, num_frames=40, sampling="clip")
    assert str(path) in str(raised.value)


def test_too_few_frames(make_video):
    path = make_video("short.mp4", frames=indexed_frames(10))
    assert_read_error(path, "has 10 frames; a clip of 8 frames with frame_step 2 .* needs at least 15",
                      num_frames=8, frame_step=2, sampling="clip")
    assert_read_error(path, "uniform sampling of 16 frames", num_frames=16)


def test_audio_only_file(tmp_path):
    path = tmp_path / "speech.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("aac", rate=16000)
        samples = np.sin(np.linspace(0, 200, 16000, dtype=np.float32))[None]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 16000
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    assert_read_error(path, r"has no video stream \(streams found: audio\)")


def test_folder_instead_of_file(tmp_path):
    assert_read_error(tmp_path, "is a folder")


def test_fractional_frame_rates_are_kept(make_video):
    assert io.probe(make_video("ntsc.mp4", fps=30000 / 1001)).fps == pytest.approx(29.97, abs=0.01)
    assert io.probe(make_video("pal.webm", fps=12.5)).fps == pytest.approx(12.5)
