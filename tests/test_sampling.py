"""Frame-index samplers (TSN segments, dense clips) and evaluation crops, checked on exact indices."""

import numpy as np
import pytest

from videokit import io
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
