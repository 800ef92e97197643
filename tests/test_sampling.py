"""Frame-index samplers (TSN segments, dense clips) and evaluation crops, checked on exact indices."""

import numpy as np
import pytest

from tests.conftest import frame_index, indexed_frames
from videokit import io
from videokit.data import VideoFolder
from videokit.data.sampling import crop_boxes, dense_clip_indices, segment_indices

pytestmark = pytest.mark.backend_independent  # pure NumPy


def test_segments_of_a_300_frame_video_take_each_segment_centre_when_testing():
    indices = segment_indices(300, 8, training=False)
    assert indices.tolist() == [[18, 56, 93, 131, 168, 206, 243, 281]]  # floor((k + 0.5) * 37.5)
    assert segment_indices(300, 4, training=False, num_clips=2).tolist() == [[18, 93, 168, 243], [56, 131, 206, 281]]


def test_training_segments_stay_inside_their_segment_and_repeat_with_the_seed():
    draws = np.concatenate([segment_indices(300, 8, training=True, rng=seed) for seed in range(200)])
    lower, upper = np.arange(8) * 37.5, (np.arange(8) + 1) * 37.5
    assert np.all(draws >= np.floor(lower)) and np.all(draws < upper)
    assert len(np.unique(draws[:, 0])) > 20  # the position within a segment varies
    np.testing.assert_array_equal(
        segment_indices(300, 8, training=True, rng=7), segment_indices(300, 8, training=True, rng=7)
    )
    assert not np.array_equal(
        segment_indices(300, 8, training=True, rng=7), segment_indices(300, 8, training=True, rng=8)
    )


def test_segments_of_a_5_frame_video_repeat_frames_in_order():
    assert segment_indices(5, 8, training=False).tolist() == [[0, 0, 1, 2, 2, 3, 4, 4]]
    for seed in range(50):
        drawn = segment_indices(5, 8, training=True, rng=seed)[0]
        assert np.all(np.diff(drawn) >= 0) and drawn.min() >= 0 and drawn.max() <= 4


def test_ten_dense_test_clips_spread_evenly_and_one_is_the_centred_clip():
    clips = dense_clip_indices(300, 16, 1, num_clips=10, training=False)
    assert clips.shape == (10, 16)
    assert clips[:, 0].tolist() == [14, 42, 71, 99, 127, 156, 184, 213, 241, 269]  # floor((2c + 1) * 284 / 20)
    np.testing.assert_array_equal(clips - clips[:, :1], np.broadcast_to(np.arange(16), (10, 16)))
    one = dense_clip_indices(300, 16, 2, training=False)
    np.testing.assert_array_equal(one[0], io.sample_indices(300, 16, frame_step=2, sampling="center"))


def test_a_training_dense_clip_has_a_random_start_and_keeps_its_stride():
    starts = set()
    for seed in range(100):
        clip = dense_clip_indices(300, 16, 2, training=True, rng=seed)
        assert clip.shape == (1, 16) and clip.min() >= 0 and clip.max() <= 299
        assert np.all(np.diff(clip[0]) == 2)
        starts.add(int(clip[0, 0]))
    assert len(starts) > 50
    np.testing.assert_array_equal(
        dense_clip_indices(300, 16, 2, training=True, rng=3), dense_clip_indices(300, 16, 2, training=True, rng=3)
    )
    # The same draw as io's "random" policy, so a folder's old runs keep their clips.
    np.testing.assert_array_equal(
        dense_clip_indices(300, 16, 2, training=True, rng=np.random.default_rng(3))[0],
        io.sample_indices(300, 16, frame_step=2, sampling="random", seed=3),
    )


def test_a_dense_clip_longer_than_a_5_frame_video_starts_at_0_and_repeats_the_last_frame():
    assert dense_clip_indices(5, 4, 2, training=False).tolist() == [[0, 2, 4, 4]]
    assert dense_clip_indices(5, 4, 2, num_clips=3, training=False).tolist() == [[0, 2, 4, 4]] * 3
    assert dense_clip_indices(5, 4, 2, training=True, rng=0).tolist() == [[0, 2, 4, 4]]


def test_crop_boxes_are_the_centre_or_three_along_the_longer_side():
    assert crop_boxes(128, 171, 112, 1) == [(8, 29, 112, 112)]
    assert crop_boxes(128, 171, 112, 3) == [(8, 0, 112, 112), (8, 29, 112, 112), (8, 59, 112, 112)]
    assert crop_boxes(171, 128, (112, 100), 3) == [(0, 14, 112, 100), (29, 14, 112, 100), (59, 14, 112, 100)]
    assert crop_boxes(32, 32, 32, 3) == [(0, 0, 32, 32)] * 3


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: crop_boxes(128, 171, 112, 2), "num_crops must be 1 or 3"),
        (lambda: crop_boxes(100, 171, 112, 1), "crop_size must fit in the 100x171 frame; got 112x112"),
        (
            lambda: dense_clip_indices(300, 16, num_clips=0, training=False),
            "num_clips must be a positive integer; got 0",
        ),
        (lambda: dense_clip_indices(300, 16, num_clips=2, training=True), "training samples one clip per video"),
        (lambda: segment_indices(0, 8, training=False), "num_video_frames must be a positive integer; got 0"),
        (lambda: segment_indices(300, 2.5, training=False), "num_segments must be a positive integer; got 2.5"),
    ],
)
def test_bad_arguments_say_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ----------------------------------------------------------------------------
# The samplers in a VideoFolder: which frames are read (grey level = 20 + 8 * frame number)


@pytest.fixture
def indexed_folder(tmp_path):
    """One 30-frame video whose frame k has grey level 20 + 8k, in a one-class folder."""
    io.write_video(tmp_path / "data" / "count" / "a.mkv", indexed_frames(30, 24, 32), codec="ffv1")
    return tmp_path / "data"


def read_frame_numbers(clip):
    return [frame_index(frame * 255.0) for frame in clip]


def test_a_training_folder_reads_one_frame_from_each_segment_and_an_evaluation_folder_their_centres(indexed_folder):
    folder = VideoFolder(indexed_folder, num_frames=5, size=(24, 32), sampling="segment")
    seen = set()
    for epoch in range(12):
        frames = read_frame_numbers(folder.load(0, epoch=epoch)[0])
        assert all(6 * k <= frame < 6 * (k + 1) for k, frame in enumerate(frames)), frames
        seen.add(tuple(frames))
    assert len(seen) > 6
    evaluation = VideoFolder(indexed_folder, num_frames=5, size=(24, 32), sampling="segment", training=False)
    assert read_frame_numbers(evaluation.load(0, epoch=3)[0]) == [3, 9, 15, 21, 27]


def test_dense_is_the_old_random_and_centred_clip_and_uniform_spreads_over_the_video(indexed_folder):
    options = {"num_frames": 4, "size": (24, 32), "frame_step": 3}
    training = VideoFolder(indexed_folder, **options)
    assert training.sampling == "dense"
    for epoch in range(5):
        clip = training.load(0, epoch=epoch)[0]
        np.testing.assert_array_equal(
            clip, VideoFolder(indexed_folder, sampling="random", **options).load(0, epoch=epoch)[0]
        )
        frames = read_frame_numbers(clip)
        assert np.diff(frames).tolist() == [3, 3, 3] and 0 <= frames[0] <= 20
    evaluation = VideoFolder(indexed_folder, training=False, **options)
    assert read_frame_numbers(evaluation.load(0)[0]) == [10, 13, 16, 19]
    uniform = VideoFolder(indexed_folder, num_frames=5, size=(24, 32), sampling="uniform")
    assert read_frame_numbers(uniform.load(0)[0]) == [0, 7, 14, 22, 29]


def test_views_decode_the_video_once_and_cut_every_clip_and_crop(indexed_folder, monkeypatch):
    folder = VideoFolder(indexed_folder, num_frames=4, size=(24, 32), frame_step=2, training=False)
    calls = []
    read_video = io.read_video
    monkeypatch.setattr(io, "read_video", lambda *args, **kwargs: calls.append(kwargs) or read_video(*args, **kwargs))
    views, label = folder.views(0, clips=3)
    assert len(calls) == 1 and views.shape == (3, 4, 24, 32, 3) and label == 0
    assert [read_frame_numbers(view) for view in views] == dense_clip_indices(
        30, 4, 2, num_clips=3, training=False
    ).tolist()
    np.testing.assert_array_equal(folder.views(0)[0][0], folder.load(0)[0])  # 1 x 1 is load()'s evaluation clip


def test_three_crops_lie_along_the_longer_side_of_frames_resized_with_their_aspect_ratio(tmp_path):
    ramp = np.broadcast_to((np.arange(64) * 4)[None, None, :, None], (12, 48, 64, 3)).astype(np.uint8)
    path = io.write_video(tmp_path / "data" / "ramp" / "a.mkv", ramp, codec="ffv1")
    folder = VideoFolder(tmp_path / "data", num_frames=4, size=24, training=False)
    views, _ = folder.views(0, clips=1, crops=3)
    assert views.shape == (3, 4, 24, 24, 3)
    frames = io.read_video(path, indices=dense_clip_indices(12, 4, num_clips=1, training=False)[0], size=(24, 32))
    for view, (top, left, height, width) in zip(views, crop_boxes(24, 32, 24, 3)):
        np.testing.assert_array_equal(view, frames[:, top : top + height, left : left + width] / np.float32(255))
    assert views[0].mean() < views[1].mean() < views[2].mean()  # left, centre, right
    resized = VideoFolder(tmp_path / "data", num_frames=4, size=(24, 40), crop_size=24, training=False)
    assert resized.views(0, crops=3)[0].shape == (3, 4, 24, 24, 3)  # cut from size when crop_size is smaller


@pytest.mark.parametrize(
    "options, views, message",
    [
        ({}, {"crops": 2}, "crops must be 1 or 3"),
        ({}, {"clips": 0}, "clips must be a positive integer; got 0"),
        ({"sampling": "uniform"}, {"clips": 10}, "sampling 'uniform' gives one clip per video"),
        ({"sampling": "middle"}, None, "sampling must be one of"),
    ],
)
def test_bad_views_and_samplings_say_what_was_expected(indexed_folder, options, views, message):
    with pytest.raises(ValueError, match=message):
        VideoFolder(indexed_folder, num_frames=4, size=24, **options).views(0, **views)


def test_a_run_config_chooses_the_sampling_of_both_folders(indexed_folder):
    from videokit.config import RunConfig
    from videokit.training.task import task_for

    for name in ("count/b.mkv", "other/a.mkv", "other/b.mkv"):  # two videos a class: one for validation
        io.write_video(indexed_folder / name, indexed_frames(30, 24, 32), codec="ffv1")
    config = RunConfig(model="cnn_lstm", data=str(indexed_folder), clip=(5, 24, 32), sampling="segment")
    train, validation = task_for(config).folders()
    assert train.sampling == validation.sampling == "segment" and train.training and not validation.training
    assert read_frame_numbers(validation.load(0)[0]) == [3, 9, 15, 21, 27]
    with pytest.raises(ValueError, match="unknown sampling 'tsn'; choose one of dense, segment, uniform"):
        RunConfig(model="cnn_lstm", data=str(indexed_folder), sampling="tsn")
