import logging

import keras
import numpy as np
import pytest

from videokit import io
from videokit.data import VideoFolder, moving_shapes, official_split
from tests.conftest import indexed_frames

pytestmark = pytest.mark.backend_independent  # the Keras backend does not matter here


@pytest.fixture
def video_folder(tmp_path):
    """A UCF101-style folder: three classes, four 20-frame clips each."""
    videos, labels, class_names = moving_shapes(12, num_frames=20, size=40)
    root = tmp_path / "clips"
    for number, (video, label) in enumerate(zip(videos, labels)):
        name = ["bounce", "grow", "move_left"][number % 3]
        io.write_video(root / name / f"v_{name}_g{number:02d}.mp4", video, fps=10)
    return root


def test_classes_are_sorted_folder_names_and_clips_have_the_asked_shape(video_folder):
    folder = VideoFolder(video_folder, num_frames=8, size=(32, 36), crop_size=24)
    assert folder.class_names == ["bounce", "grow", "move_left"]
    assert len(folder) == 12 and folder.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    clip, label = folder.load(5)
    assert clip.shape == folder.clip_shape == (8, 24, 24, 3)
    assert clip.dtype == np.float32 and 0 <= clip.min() and clip.max() <= 1 and label == 1


def test_loading_is_reproducible_per_epoch(video_folder):
    folder = VideoFolder(video_folder, num_frames=4, size=32, crop_size=24, augment=True)
    np.testing.assert_array_equal(folder.load(3, epoch=1)[0], folder.load(3, epoch=1)[0])
    assert any(not np.array_equal(folder.load(3, epoch=0)[0], folder.load(3, epoch=e)[0]) for e in range(1, 5))


def test_augmentation_is_the_same_for_every_frame_of_a_clip(tmp_path):
    image = np.random.default_rng(0).integers(0, 255, (1, 32, 32, 3), dtype=np.uint8)
    io.write_video(tmp_path / "data" / "still" / "a.mp4", np.repeat(image, 12, axis=0), quality=0)
    folder = VideoFolder(tmp_path / "data", num_frames=6, size=32, crop_size=20, augment=True)
    for epoch in range(6):
        clip, _ = folder.load(0, epoch=epoch)
        spread = np.abs(clip - clip[:1]).max()
        assert spread < 0.05, f"frames of one clip were cropped or flipped differently (epoch {epoch})"


def test_ucf101_split_file(video_folder, tmp_path):
    split = tmp_path / "trainlist01.txt"
    split.write_text("grow/v_grow_g01.mp4 2\nmove_left/v_move_left_g02.mp4 3\n\n")
    folder = VideoFolder(video_folder, split_file=split, num_frames=4, size=24)
    assert [(path.name, label) for path, label in folder.samples] == [("v_grow_g01.mp4", 1), ("v_move_left_g02.mp4", 2)]


def test_split_file_with_an_unknown_class_names_the_line(video_folder, tmp_path):
    split = tmp_path / "testlist01.txt"
    split.write_text("grow/v_grow_g01.mp4\nJuggling/v_Juggling_g01.avi\n")
    with pytest.raises(ValueError, match=r"testlist01.txt, line 2: unknown class 'Juggling'"):
        VideoFolder(video_folder, split_file=split)


def test_hmdb51_split_folder(video_folder, tmp_path):
    splits = tmp_path / "testTrainMulti_7030_splits"
    splits.mkdir()
    (splits / "grow_test_split1.txt").write_text("v_grow_g01.mp4 1 \nv_grow_g04.mp4 2 \nv_grow_g07.mp4 0 \n")
    (splits / "grow_test_split2.txt").write_text("v_grow_g01.mp4 2 \n")
    train = VideoFolder(video_folder, split_file=splits, split=1, subset="train", num_frames=4, size=24)
    test = VideoFolder(video_folder, split_file=splits, split=1, subset="test", num_frames=4, size=24)
    assert [path.name for path, _ in train.samples] == ["v_grow_g01.mp4"]
    assert [path.name for path, _ in test.samples] == ["v_grow_g04.mp4"]


def test_official_ucf101_split_folder_gives_training_and_test_sets(video_folder, tmp_path):
    lists = tmp_path / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "trainlist01.txt").write_text("grow/v_grow_g01.mp4 2\nbounce/v_bounce_g00.mp4 1\n")
    (lists / "testlist01.txt").write_text("move_left/v_move_left_g02.mp4\n")
    (lists / "trainlist02.txt").write_text("grow/v_grow_g04.mp4 2\n")
    train, test = official_split(video_folder, lists, split=1, num_frames=4, size=24, augment=True)
    assert [path.name for path, _ in train.samples] == ["v_grow_g01.mp4", "v_bounce_g00.mp4"]
    assert [(path.name, label) for path, label in test.samples] == [("v_move_left_g02.mp4", 2)]
    assert train.augment and not test.augment and train.training and not test.training  # centred clips
    assert train.sampling == test.sampling == "dense"
    same, _ = official_split(video_folder, lists / "trainlist01.txt", num_frames=4, size=24)
    assert same.samples == train.samples
    with pytest.raises(ValueError, match=r"testlist02.txt: the test list of trainlist02.txt is missing"):
        official_split(video_folder, lists, split=2)
    with pytest.raises(ValueError, match=r"neither a UCF101 split folder \(with trainlist03.txt\)"):
        official_split(video_folder, lists, split=3)


def test_official_hmdb51_split_folder_gives_training_and_test_sets(video_folder, tmp_path):
    splits = tmp_path / "testTrainMulti_7030_splits"
    splits.mkdir()
    (splits / "grow_test_split1.txt").write_text("v_grow_g01.mp4 1 \nv_grow_g04.mp4 2 \nv_grow_g07.mp4 0 \n")
    train, test = official_split(video_folder, splits, split=1, num_frames=4, size=24)
    assert [path.name for path, _ in train.samples] == ["v_grow_g01.mp4"]
    assert [path.name for path, _ in test.samples] == ["v_grow_g04.mp4"]


def test_cached_clips_equal_decoded_clips_and_later_loads_do_not_decode(video_folder, tmp_path, monkeypatch):
    options = dict(num_frames=6, size=(32, 36), crop_size=24, augment=True, sampling="random", seed=4)
    draws = [(index, epoch) for index in (0, 5, 11) for epoch in range(3)]
    decoded = VideoFolder(video_folder, **options)
    expected = [decoded.load(index, epoch=epoch)[0] for index, epoch in draws]
    cached = VideoFolder(video_folder, cache_dir=tmp_path / "cache", **options)
    assert cached.prepare_cache(progress=False) == 12
    assert len(list((tmp_path / "cache").glob("*.32x36.*.npy"))) == 12
    assert not list((tmp_path / "cache").glob(".*"))  # no partial files left
    monkeypatch.setattr(io, "read_video", lambda *args, **kwargs: pytest.fail("decoded a cached video"))
    for (index, epoch), clip in zip(draws, expected):
        np.testing.assert_array_equal(cached.load(index, epoch=epoch)[0], clip)
    assert VideoFolder(video_folder, cache_dir=tmp_path / "cache", **options).prepare_cache(progress=False) == 0


def test_cache_is_refreshed_when_a_video_changes_and_survives_a_corrupt_one(video_folder, tmp_path):
    cache = tmp_path / "cache"
    VideoFolder(video_folder, num_frames=4, size=24, cache_dir=cache).prepare_cache(progress=False)
    changed = video_folder / "grow" / "v_grow_g01.mp4"
    io.write_video(changed, np.zeros((10, 40, 40, 3), np.uint8), overwrite=True)
    (video_folder / "grow" / "v_grow_g99.mp4").write_text("not a video")
    folder = VideoFolder(video_folder, num_frames=4, size=24, cache_dir=cache, sampling="center", skip_bad_videos=True)
    assert folder.prepare_cache(progress=False) == 1  # only the changed video; the corrupt one is dropped
    assert len(folder) == 12 and "v_grow_g99.mp4" in folder.skipped[0]
    position = [path for path, _ in folder.samples].index(changed)
    assert folder.load(position)[0].max() == 0
    strict = VideoFolder(video_folder, num_frames=4, size=24, cache_dir=cache)
    with pytest.raises(io.VideoReadError, match="v_grow_g99.mp4: not a video"):
        strict.prepare_cache(progress=False)
    other_size = VideoFolder(video_folder, num_frames=4, size=20, cache_dir=cache, skip_bad_videos=True)
    other_size.prepare_cache(progress=False)  # decodes, without opening the files it writes
    damaged = other_size.cache.path(changed)
    damaged.write_bytes(b"half a file")
    with pytest.raises(ValueError, match=f"{damaged.name}: unreadable cache file .*delete it"):
        other_size.load([path for path, _ in other_size.samples].index(changed))


def test_cache_that_would_fill_the_disk_is_refused(video_folder, tmp_path, monkeypatch):
    import shutil
    import types

    monkeypatch.setattr(shutil, "disk_usage", lambda path: types.SimpleNamespace(total=10**9, used=10**9, free=1000))
    folder = VideoFolder(video_folder, num_frames=4, size=24, cache_dir=tmp_path / "cache")
    with pytest.raises(ValueError, match=r"cache: the decoded frames of 12 videos need about 0.0 GiB and only "
                                         r"0.0 GiB are free"):
        folder.prepare_cache(progress=False)
    assert not list((tmp_path / "cache").iterdir())
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    misplaced = VideoFolder(video_folder, num_frames=4, size=24, cache_dir=tmp_path / "notes.txt" / "cache")
    with pytest.raises(ValueError, match=r"notes.txt/cache: cannot make the cache folder \(Not a directory\)"):
        misplaced.prepare_cache(progress=False)


def test_empty_and_missing_folders_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="dataset folder not found"):
        VideoFolder(tmp_path / "missing")
    with pytest.raises(ValueError, match="no class folders found"):
        VideoFolder(tmp_path)
    (tmp_path / "walking").mkdir()
    (tmp_path / "walking" / "readme.txt").write_text("no videos here")
    with pytest.raises(ValueError, match=r"no video files found \(looked for .avi, .mp4"):
        VideoFolder(tmp_path)


def test_corrupt_video_raises_or_is_skipped_with_a_warning(video_folder, caplog):
    corrupt = video_folder / "grow" / "v_grow_g99.mp4"
    corrupt.write_text("not a video")
    strict = VideoFolder(video_folder, num_frames=4, size=24, sampling="center")
    position = [path for path, _ in strict.samples].index(corrupt)
    with pytest.raises(io.VideoReadError, match="v_grow_g99.mp4: not a video"):
        strict.load(position)
    lenient = VideoFolder(video_folder, num_frames=4, size=24, skip_bad_videos=True)
    with caplog.at_level(logging.WARNING, logger="videokit"):
        clip, label = lenient.load(position)
    assert clip.shape == (4, 24, 24, 3)
    assert "skipped" in caplog.text and "v_grow_g99.mp4" in caplog.text and "1 skipped in all" in caplog.text
    problems = VideoFolder(video_folder, num_frames=4, size=24, skip_bad_videos=True).check(progress=False)
    assert [path.name for path, _ in problems] == ["v_grow_g99.mp4"]


def test_too_short_video_is_reported_by_check(video_folder):
    io.write_video(video_folder / "grow" / "v_grow_short.mp4", indexed_frames(3))
    folder = VideoFolder(video_folder, num_frames=8, size=24)
    with pytest.raises(io.VideoReadError, match=r"v_grow_short.mp4: the video has 3 frames"):
        folder.check(progress=False)


@pytest.mark.parametrize("use_multiprocessing", [False, True])
def test_pydataset_trains_a_keras_model(video_folder, use_multiprocessing):
    folder = VideoFolder(video_folder, num_frames=4, size=24, augment=True)
    sequence = folder.as_pydataset(batch_size=5, workers=2, use_multiprocessing=use_multiprocessing)
    clips, labels = sequence[0]
    assert len(sequence) == 3 and clips.shape == (5, 4, 24, 24, 3) and labels.shape == (5,)
    assert sorted(np.concatenate([sequence[i][1] for i in range(3)]).tolist()) == sorted(folder.labels.tolist())
    model = keras.Sequential([keras.Input(folder.clip_shape), keras.layers.GlobalAveragePooling3D(),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(sequence, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2


def test_tf_dataset_batches(video_folder):
    pytest.importorskip("tensorflow")
    folder = VideoFolder(video_folder, num_frames=4, size=24, seed=1)
    dataset = folder.as_tf_dataset(batch_size=5)
    batches = [(clips.numpy(), labels.numpy()) for clips, labels in dataset]
    assert [clips.shape for clips, _ in batches] == [(5, 4, 24, 24, 3), (5, 4, 24, 24, 3), (2, 4, 24, 24, 3)]
    assert sorted(np.concatenate([labels for _, labels in batches]).tolist()) == sorted(folder.labels.tolist())
    second_epoch = [clips.numpy() for clips, _ in dataset]
    assert not np.array_equal(np.concatenate([c for c, _ in batches]), np.concatenate(second_epoch))
    centred = VideoFolder(video_folder, num_frames=4, size=24, sampling="center")
    expected = np.stack([centred.load(index)[0] for index in range(len(centred))])
    tf_clips = np.concatenate([clips.numpy() for clips, _ in centred.as_tf_dataset(batch_size=5, shuffle=False)])
    np.testing.assert_array_equal(tf_clips, expected)  # scaled in TensorFlow exactly as load() scales
    frames, label = centred.load(3, dtype="uint8")
    assert frames.dtype == np.uint8 and label == centred.load(3)[1]
    np.testing.assert_array_equal(frames.astype(np.float32) / 255.0, centred.load(3)[0])
