import numpy as np
import pytest

from videokit.data import (
    SHAPE_CLASSES,
    SQUARE_DIRECTIONS,
    SYNTHETIC_DATASETS,
    moving_digits,
    moving_shapes,
    moving_squares,
    synthetic_dataset,
)

pytestmark = pytest.mark.backend_independent  # the Keras backend does not matter here


def test_moving_shapes_shapes_types_and_balanced_labels():
    videos, labels, class_names = moving_shapes(20, num_frames=8, size=32)
    assert videos.shape == (20, 8, 32, 32, 3) and videos.dtype == np.uint8
    assert labels.dtype == np.int32 and class_names == SHAPE_CLASSES and len(class_names) >= 8
    assert np.bincount(labels, minlength=8).tolist() == [3, 3, 3, 3, 2, 2, 2, 2]


def test_moving_shapes_is_deterministic_and_prefix_consistent():
    videos, labels, _ = moving_shapes(10, num_frames=6, size=32, seed=4)
    again, _, _ = moving_shapes(4, num_frames=6, size=32, seed=4)
    np.testing.assert_array_equal(videos[:4], again)
    other, _, _ = moving_shapes(4, num_frames=6, size=32, seed=5)
    assert not np.array_equal(other, again)


def test_moving_shapes_frames_change_over_time():
    videos, _, _ = moving_shapes(16, num_frames=8, size=48)
    change = np.abs(videos[:, -1].astype(int) - videos[:, 0].astype(int)).mean(axis=(1, 2, 3))
    assert np.all(change > 1.0)


def test_a_single_frame_does_not_tell_the_class():
    # The mean colour of a first frame is random per clip, not per class: a
    # nearest-class-mean classifier on first frames stays near chance.
    videos, labels, _ = moving_shapes(160, num_frames=4, size=32)
    features = videos[:, 0].reshape(len(videos), -1, 3).mean(axis=1)
    train, test = slice(0, 120), slice(120, None)
    means = np.stack([features[train][labels[train] == c].mean(0) for c in range(8)])
    predicted = np.argmin(((features[test, None] - means[None]) ** 2).sum(-1), axis=1)
    assert (predicted == labels[test]).mean() < 0.35


def test_moving_digits_bounce_inside_the_frame():
    videos = moving_digits(6, num_frames=12, size=48, num_digits=2, seed=1)
    assert videos.shape == (6, 12, 48, 48, 1) and videos.dtype == np.uint8
    assert videos.max() == 255
    assert np.all((videos > 128).sum(axis=(2, 3, 4)) > 20)  # digits are visible in every frame
    np.testing.assert_array_equal(videos, moving_digits(6, num_frames=12, size=48, num_digits=2, seed=1))


def test_moving_squares_slide_one_pixel_per_frame_in_their_labelled_direction():
    videos, labels, class_names = moving_squares(12, num_frames=6, size=14, square_size=3, seed=2)
    assert videos.shape == (12, 6, 14, 14, 1) and videos.dtype == np.uint8
    assert class_names == SQUARE_DIRECTIONS and set(np.unique(videos)) == {0, 255}
    steps = {"move_left": (0, -1), "move_right": (0, 1), "move_up": (-1, 0), "move_down": (1, 0)}
    for clip, label in zip(videos, labels):
        corners = np.array([np.argwhere(frame[..., 0])[0] for frame in clip])  # top-left pixel per frame
        assert (clip[..., 0] > 0).sum(axis=(1, 2)).tolist() == [9] * 6  # the whole square, every frame
        np.testing.assert_array_equal(np.diff(corners, axis=0), [steps[class_names[label]]] * 5)
    np.testing.assert_array_equal(videos, moving_squares(12, num_frames=6, size=14, square_size=3, seed=2)[0])
    with pytest.raises(ValueError, match="size must be at least 8"):
        moving_squares(2, num_frames=6, size=7, square_size=3)


@pytest.mark.parametrize("arguments, match", [
    ({"n": 0}, "n must be a positive"),
    ({"n": 2, "num_frames": 1}, "num_frames must be at least"),
    ({"n": 2, "size": 8}, "size must be at least"),
])
def test_bad_sizes_are_clear_errors(arguments, match):
    with pytest.raises(ValueError, match=match):
        moving_shapes(**arguments)


def test_digits_scale_with_small_frames_so_they_can_move():
    videos = moving_digits(8, num_frames=10, size=32, num_digits=1)
    bright = videos[..., 0] > 128
    heights = [np.ptp(np.flatnonzero(frame.any(axis=1))) + 1 for frame in bright[:, 0]]
    assert max(heights) <= 14  # 14-pixel glyphs in 32-pixel frames: 18 pixels to move in
    with pytest.raises(ValueError, match="digit_size must be from 8 to 31"):
        moving_digits(1, size=32, digit_size=40)


def test_synthetic_datasets_say_what_they_hold_and_make_it():
    assert sorted(SYNTHETIC_DATASETS) == ["moving_digits", "moving_shapes"]
    shapes, digits = synthetic_dataset("moving_shapes"), synthetic_dataset("moving_digits")
    assert (shapes.name, shapes.channels, shapes.labelled, shapes.class_names) == (
        "moving_shapes", 3, True, SHAPE_CLASSES)
    assert (digits.name, digits.channels, digits.labelled, digits.class_names) == ("moving_digits", 1, False, ())
    assert shapes.description and digits.description
    videos, labels = shapes.videos(10, num_frames=6, size=32, seed=3)
    expected, expected_labels, _ = moving_shapes(10, num_frames=6, size=32, seed=3)
    np.testing.assert_array_equal(videos, expected)
    np.testing.assert_array_equal(labels, expected_labels)
    assert videos.shape[-1] == shapes.channels and labels.max() < len(shapes.class_names)
    videos, labels = digits.videos(3, num_frames=5, size=32, seed=2)
    np.testing.assert_array_equal(videos, moving_digits(3, num_frames=5, size=32, seed=2))
    assert labels is None and videos.shape == (3, 5, 32, 32, digits.channels)
    with pytest.raises(ValueError, match=r"unknown synthetic dataset 'ucf101'; choose one of moving_digits, "
                                         r"moving_shapes"):
        synthetic_dataset("ucf101")
