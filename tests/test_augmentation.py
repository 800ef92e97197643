"""Clip augmentation (videokit.data.augmentation) in the data layer and in `videokit train --augment`."""

import json

import numpy as np
import pytest

from videokit import io
from videokit.config import RunConfig
from videokit.data import VideoFolder, moving_shapes
from videokit.data.augmentation import BOXES, Augmentation
from videokit.data.sequence import AugmentedArrays


def ramp_clip(num_frames=8, height=40, width=48):
    """A random image plus ``10 * t`` in frame ``t``: any one box resampled keeps the ``10 * t`` steps exactly."""
    image = np.random.default_rng(1).integers(0, 100, (1, height, width, 3)).astype(np.float32)
    return image + 10 * np.arange(num_frames, dtype=np.float32)[:, None, None, None]


@pytest.mark.parametrize("box", BOXES)
def test_every_frame_of_a_clip_gets_the_same_box_and_flip(box):
    augmentation = Augmentation(f"{box},flip")
    clip = ramp_clip()
    for seed in range(6):
        out = augmentation.spatial(clip, (32, 32), np.random.default_rng(seed))
        assert out.shape == (8, 32, 32, 3)
        steps = out - out[:1]  # the same box and flip in every frame: frame t is frame 0 plus 10 t everywhere
        np.testing.assert_allclose(steps, np.broadcast_to(10.0 * np.arange(8)[:, None, None, None], steps.shape),
                                   atol=1e-3)


def test_boxes_lie_in_the_frame_and_no_augmentation_is_the_centre_crop():
    rng = np.random.default_rng(0)
    for name in ("crop", "multiscale", "scale", "shift"):
        for _ in range(50):
            top, left, height, width = Augmentation(name).box((40, 48), (32, 32), rng)
            assert 0 <= top and top + height <= 40 + 1e-9 and 0 <= left and left + width <= 48 + 1e-9, name
    clip = ramp_clip()
    np.testing.assert_array_equal(Augmentation("none").spatial(clip, (32, 32), rng), clip[:, 4:36, 8:40])


def test_temporal_jitter_and_speed_move_all_frames_together_inside_the_video():
    base = np.arange(40, 56, 2)  # 8 frames, 2 apart
    rng = np.random.default_rng(0)
    shifts, spacings = set(), set()
    for _ in range(100):
        jittered = Augmentation("jitter").frame_indices(base, 100, rng)
        assert np.all(np.diff(jittered) == 2)
        shifts.add(int(jittered[0] - base[0]))
        faster = Augmentation("speed").frame_indices(base, 100, rng)
        spacing = (faster[-1] - faster[0]) / 14
        assert 0.5 - 0.1 <= spacing / 1 <= 4 + 0.1 and 0 <= faster.min() and faster.max() < 100
        spacings.add(round(spacing, 1))
    assert shifts == set(range(-4, 5)) and len(spacings) > 10
    near_the_end = Augmentation("speed,jitter", max_speed=3).frame_indices(np.arange(92, 100), 100, rng)
    assert 0 <= near_the_end.min() and near_the_end.max() <= 99  # slid back inside the video


@pytest.mark.parametrize("kind", ["mixup", "cutmix", "mixup,cutmix"])
def test_mixed_labels_sum_to_one_and_match_the_mix(kind):
    rng = np.random.default_rng(0)
    clips = np.stack([np.full((2, 8, 8, 1), value, np.float32) for value in (0.0, 1.0, 2.0, 3.0)])
    labels = np.array([0, 1, 2, 3])
    for _ in range(5):
        mixed, soft = Augmentation(kind).mix(clips, labels, 4, rng)
        np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-6)
        # clip i is made of its own value and one partner's, in the proportions its label row says
        np.testing.assert_allclose(mixed.mean(axis=(1, 2, 3, 4)), soft @ np.arange(4.0), atol=1e-5)
        assert np.all(mixed[:, :1] == mixed[:, 1:])  # the same mix in every frame


def test_unknown_or_clashing_names_are_one_clear_error():
    with pytest.raises(ValueError, match=r"unknown augmentation 'rotate'; choose from shift, crop"):
        Augmentation("crop,rotate")
    with pytest.raises(ValueError, match="crop and multiscale both choose the crop box"):
        Augmentation("crop,multiscale")
    with pytest.raises(ValueError, match="unknown augmentation 'blur'"):
        RunConfig(model="c3d", augment="blur")
    with pytest.raises(ValueError, match="--augment is for classifiers"):
        RunConfig(model="convlstm", augment="flip")


def test_augmented_arrays_repeat_with_a_seed_and_change_with_the_epoch():
    videos, labels, _ = moving_shapes(12, num_frames=6, size=24, seed=0)

    def batches(seed, epochs=2):
        sequence = AugmentedArrays(videos, labels, Augmentation("crop,flip,speed,cutmix"), 8, batch_size=4, seed=seed)
        out = []
        for _ in range(epochs):
            out.append([sequence[index] for index in range(len(sequence))])
            sequence.on_epoch_end()
        return out

    first, again, other = batches(0), batches(0), batches(1)
    for (clips, soft), (clips_again, soft_again) in zip(first[0], again[0]):
        np.testing.assert_array_equal(clips, clips_again)
        np.testing.assert_array_equal(soft, soft_again)
        assert clips.dtype == np.float32 and soft.shape == (len(clips), 8)
    assert not np.array_equal(first[0][0][0], first[1][0][0])  # a new epoch draws anew
    assert not np.array_equal(first[0][0][0], other[0][0][0])


@pytest.fixture
def video_folder(tmp_path):
    videos, labels, names = moving_shapes(6, num_frames=16, size=40, seed=2)
    for number, (video, label) in enumerate(zip(videos, labels)):
        io.write_video(tmp_path / "clips" / names[label % 2] / f"v{number}.mp4", video)
    return tmp_path / "clips"


def test_a_folder_augments_after_its_cache_exactly_as_without_it(video_folder, tmp_path):
    options = dict(num_frames=6, size=40, crop_size=32, augment=Augmentation("multiscale,flip,jitter,mixup"))
    decoding = VideoFolder(video_folder, **options)
    cached = VideoFolder(video_folder, **options, cache_dir=tmp_path / "cache")
    cached.prepare(progress=False)
    for epoch in (0, 1):
        clips, labels = decoding.load_batch([0, 1, 2, 3], epoch=epoch)
        cached_clips, cached_labels = cached.load_batch([0, 1, 2, 3], epoch=epoch)
        np.testing.assert_array_equal(clips, cached_clips)
        np.testing.assert_array_equal(labels, cached_labels)
        assert clips.shape == (4, 6, 32, 32, 3) and labels.shape == (4, 2)
        np.testing.assert_allclose(labels.sum(axis=1), 1.0, atol=1e-6)
    train, validation = cached.split(0.34, progress=False)
    assert train.label_shape == (2,) and validation.label_shape == ()  # validation keeps class numbers
    clips, labels = next(iter(train.batches(2, shuffle=True, progress=False)))  # tf.data on TensorFlow
    clips, labels = np.asarray(clips), np.asarray(labels)
    assert clips.shape == (2, 6, 32, 32, 3) and labels.shape == (2, 2) and labels.dtype == np.float32
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, atol=1e-6)


def test_augment_true_still_means_a_random_crop_position_and_a_flip(video_folder):
    folder = VideoFolder(video_folder, num_frames=4, size=40, crop_size=32, augment=True)
    assert folder.augment.operations == ("shift", "flip")
    assert not VideoFolder(video_folder, num_frames=4, size=40, augment=False).augment


@pytest.mark.slow  # two short training runs
def test_videokit_train_with_augmentation_on_synthetic_clips(tmp_path):
    from videokit.cli import main

    arguments = ["train", "--model", "c3d", "--samples", "32", "--clip", "8x32x32", "--batch-size", "8",
                 "--epochs", "2", "--verbose", "0"]
    assert main([*arguments, "--run-dir", str(tmp_path / "mixed"), "--augment", "crop,flip,speed,mixup,cutmix",
                 "--mixup-alpha", "0.4"]) == 0
    run = tmp_path / "mixed"
    config = json.loads((run / "config.json").read_text())
    assert config["augment"] == "crop,flip,speed,mixup,cutmix" and config["mixup_alpha"] == 0.4
    rows = (run / "metrics.csv").read_text().splitlines()
    assert rows[0].split(",") == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"] and len(rows) == 3
    assert main([*arguments, "--run-dir", str(run), "--resume", "--epochs", "3"]) == 0  # the custom loss reloads
    assert len((run / "metrics.csv").read_text().splitlines()) == 4
    assert main([*arguments, "--run-dir", str(tmp_path / "bad"), "--augment", "crop,rotate"]) == 2
