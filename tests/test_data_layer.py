"""The data layer owns its facts and its policy: dataset facts, the frame cache, the loader, warnings."""

import logging
import os
import pickle
import stat

import keras
import numpy as np
import pytest

from videokit import io
from videokit.data import VideoFolder, moving_shapes


@pytest.fixture
def video_folder(tmp_path):
    """Three classes of 4, 4 and 3 short clips."""
    videos, _, _ = moving_shapes(11, num_frames=12, size=32)
    root = tmp_path / "clips"
    for number, video in enumerate(videos):
        name = ["bounce", "grow", "move_left"][number % 3]
        io.write_video(root / name / f"v_{number:02d}.mp4", video, fps=10)
    return root


@pytest.mark.backend_independent
def test_a_folder_says_what_it_holds(video_folder):
    folder = VideoFolder(video_folder, num_frames=4, size=24)
    assert (folder.channels, folder.labelled, folder.class_names) == (3, True, ["bounce", "grow", "move_left"])
    assert folder.clip_shape[-1] == folder.channels


@pytest.mark.backend_independent
def test_the_data_package_imports_without_keras_or_tensorflow():
    import subprocess
    import sys

    code = ("import sys, videokit.data as d; d.SYNTHETIC_DATASETS; d.VideoFolder; d.official_split; d.FrameCache; "
            "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_batches_is_the_loader_of_the_backend_and_prepares_the_cache_once(video_folder, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    folder = VideoFolder(video_folder, num_frames=4, size=24, cache_dir=cache)
    assert folder.loader_workers == 1 and VideoFolder(video_folder, num_frames=4, size=24).loader_workers == 2
    batches = folder.batches(4, shuffle=True, progress=False)
    files = sorted(cache.glob("*.npy"))
    assert len(files) == 11 and not list(cache.glob(".*"))  # every video cached, no temporary left
    umask = os.umask(0)
    os.umask(umask)
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        assert isinstance(batches, tf.data.Dataset)
        clips, labels = next(iter(batches))
        clips, labels = clips.numpy(), labels.numpy()
    else:
        assert isinstance(batches, keras.utils.PyDataset) and batches.workers == 1
        clips, labels = batches[0]
    assert clips.shape == (4, 4, 24, 24, 3) and clips.dtype == np.float32 and labels.shape == (4,)
    monkeypatch.setattr(io, "read_video", lambda *args, **kwargs: pytest.fail("decoded a cached video"))
    copied = pickle.loads(pickle.dumps(folder))  # as a worker process gets it
    np.testing.assert_array_equal(copied.load(2, epoch=1)[0], folder.load(2, epoch=1)[0])
    again = VideoFolder(video_folder, num_frames=4, size=24, cache_dir=cache)
    assert again.prepare(progress=False) == [] and again.prepare_cache(progress=False) == 0
    again.batches(4, shuffle=False, progress=False)
    assert sorted(cache.glob("*.npy")) == files


def test_the_pydataset_decodes_with_two_workers(video_folder):
    if keras.backend.backend() == "tensorflow":
        pytest.skip("TensorFlow gets a tf.data pipeline")
    batches = VideoFolder(video_folder, num_frames=4, size=24).batches(4, shuffle=False, progress=False)
    assert batches.workers == 2


@pytest.mark.backend_independent
def test_prepare_lists_unreadable_videos_once_and_goes_on_without_them(video_folder, caplog):
    (video_folder / "grow" / "garbage.mp4").write_bytes(b"not a video at all" * 10)
    good = (video_folder / "bounce" / "v_00.mp4").read_bytes()
    (video_folder / "move_left" / "truncated.mp4").write_bytes(good[: len(good) // 3])
    io.write_video(video_folder / "bounce" / "short.mp4", np.zeros((2, 32, 32, 3), np.uint8))
    strict = VideoFolder(video_folder, num_frames=4, size=24)
    with pytest.raises(io.VideoReadError, match=r"^\S+/bounce/short.mp4: the video has 2 frames.*; "
                                                r"3 unreadable videos in all\.$"):
        strict.prepare(progress=False)
    with caplog.at_level(logging.WARNING, logger="videokit"):
        lenient = VideoFolder(video_folder, num_frames=4, size=24, skip_bad_videos=True)
        train, validation = lenient.split(0.25, progress=False)
        assert train.prepare(progress=False) == [] and validation.prepare(progress=False) == []
    lines = caplog.messages
    assert len(lines) == 1, lines
    assert lines[0].startswith("videokit: skipped 3 unreadable videos: bounce/short.mp4 (the video has 2 frames")
    assert "; grow/garbage.mp4 (not a video FFmpeg can read" in lines[0]
    assert "; move_left/truncated.mp4 (" in lines[0]
    kept = {path.name for path, _ in train.samples + validation.samples}
    assert len(kept) == 11 and not kept & {"garbage.mp4", "truncated.mp4", "short.mp4"}
    assert sorted(os.path.basename(path) for path in train.skipped) == ["garbage.mp4", "short.mp4", "truncated.mp4"]


@pytest.mark.backend_independent
def test_a_video_that_fails_while_training_is_skipped_once_with_a_warning(video_folder, caplog):
    folder = VideoFolder(video_folder, num_frames=4, size=24, sampling="center", skip_bad_videos=True)
    folder.prepare(progress=False)
    broken = video_folder / "grow" / "v_04.mp4"
    broken.write_bytes(b"damaged after the check")
    position = [path for path, _ in folder.samples].index(broken)
    with caplog.at_level(logging.WARNING, logger="videokit"):
        for epoch in range(3):
            clip, _ = folder.load(position, epoch=epoch)
            assert clip.shape == (4, 24, 24, 3)
    assert caplog.text.count("skipped unreadable video grow/v_04.mp4 (not a video") == 1
    assert folder.skipped == [str(broken)]


@pytest.mark.backend_independent
def test_a_class_with_a_single_video_is_named_in_one_warning(tmp_path, caplog):
    videos, _, _ = moving_shapes(6, num_frames=6, size=32)
    root = tmp_path / "clips"
    for number, video in enumerate(videos[:4]):
        io.write_video(root / "many" / f"{number}.mp4", video)
    io.write_video(root / "lonely" / "only.mp4", videos[4])
    io.write_video(root / "single" / "only.mp4", videos[5])
    folder = VideoFolder(root, num_frames=4, size=24)
    with caplog.at_level(logging.WARNING, logger="videokit"):
        train, validation = folder.split(0.25)
    assert caplog.messages == [(f"videokit: {root}: no validation clip for classes 'lonely', 'single', which have "
                                "a single video.")]
    assert validation.labels.tolist() == [folder.class_names.index("many")]
    assert sorted(train.labels.tolist()) == [0, 1, 1, 1, 2]
    caplog.clear()
    io.write_video(root / "single" / "second.mp4", videos[5])
    with caplog.at_level(logging.WARNING, logger="videokit"):
        VideoFolder(root, num_frames=4, size=24).split(0.25)
    assert caplog.messages == [f"videokit: {root}: no validation clip for class 'lonely', which has a single video."]


@pytest.mark.backend_independent
def test_split_files_are_parsed_by_the_splits_module(video_folder, tmp_path):
    from videokit.data import splits

    names = splits.class_names(video_folder)
    assert names == ("bounce", "grow", "move_left")
    assert len(splits.samples(video_folder, names)) == 11
    listed = tmp_path / "trainlist01.txt"
    listed.write_text("grow/v_01.mp4 2\r\nbounce/v_00.mp4 1\r\n")
    assert [(path.name, label) for path, label in splits.samples(video_folder, names, listed)] == [
        ("v_01.mp4", 1), ("v_00.mp4", 0)]
    (tmp_path / "testlist01.txt").write_text("move_left/v_02.mp4\n")
    train, test = splits.official_split(video_folder, tmp_path, split=1, num_frames=4, size=24)
    assert isinstance(train, VideoFolder) and len(train) == 2 and len(test) == 1
    listed.write_text("grow/v_99.mp4 2\n")
    with pytest.raises(ValueError, match=r"trainlist01.txt, line 1: .*v_99.mp4 does not exist"):
        splits.samples(video_folder, names, listed)


def test_fit_raises_the_video_read_error_on_every_backend(tmp_path):
    from videokit.data import reraise_video_errors

    videos, _, _ = moving_shapes(6, num_frames=8, size=32)
    root = tmp_path / "it's \"quoted\" été"  # TensorFlow escapes such names in its messages
    for number, video in enumerate(videos):
        io.write_video(root / ["a", "b"][number % 2] / f"{number}.mp4", video)
    folder = VideoFolder(root, num_frames=4, size=24)
    batches = folder.batches(3, shuffle=False, progress=False)
    (root / "b" / "3.mp4").write_bytes(b"broken after the check")
    model = keras.Sequential([keras.Input(folder.clip_shape), keras.layers.GlobalAveragePooling3D(),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(io.VideoReadError) as raised, reraise_video_errors():
        model.fit(batches, epochs=1, verbose=0)
    assert str(raised.value) == f"{root}/b/3.mp4: not a video FFmpeg can read (Invalid data found when processing input)."
    with pytest.raises(KeyError), reraise_video_errors():  # anything else passes through
        raise KeyError("not a reading error")
