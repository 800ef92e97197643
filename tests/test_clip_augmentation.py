"""Clip augmentations: one transform per clip, the same in every frame; labels that sum to 1."""

import keras
import numpy as np
import pytest

from videokit.layers import ClipCutMix, ClipMixUp, ClipRandomFlip, ClipRandomResizedCrop

RNG = np.random.default_rng(0)


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def clips_with_frame_offsets(batch=4, frames=5, height=20, width=24):
    # Frame t of a clip is its first frame plus t: a crop shared by all frames keeps the offsets exactly.
    base = RNG.random((batch, 1, height, width, 2)).astype("float32")
    return base + np.arange(frames, dtype="float32")[None, :, None, None, None]


def test_random_resized_crop_cuts_the_same_box_from_every_frame():
    clips = clips_with_frame_offsets()
    cropped = numpy(ClipRandomResizedCrop(10, 12, seed=1)(clips, training=True))
    assert cropped.shape == (4, 5, 10, 12, 2)
    offsets = cropped - cropped[:, :1]
    np.testing.assert_allclose(offsets, np.broadcast_to(np.arange(5.0)[None, :, None, None, None], offsets.shape),
                               atol=1e-5)


def test_random_resized_crop_draws_one_box_per_clip_reproducibly():
    same = np.repeat(clips_with_frame_offsets(batch=1), 6, axis=0)  # six copies of one clip
    first = numpy(ClipRandomResizedCrop(10, 12, seed=3)(same, training=True))
    assert len({np.round(clip, 4).tobytes() for clip in first}) == 6  # six different boxes
    np.testing.assert_array_equal(first, numpy(ClipRandomResizedCrop(10, 12, seed=3)(same, training=True)))


def test_random_resized_crop_at_inference_resizes_the_centred_box():
    clips = clips_with_frame_offsets()  # 20x24 frames, the output's aspect ratio: the box is the whole frame
    resized = numpy(ClipRandomResizedCrop(10, 12)(clips, training=False))
    pooled = clips.reshape(4, 5, 10, 2, 12, 2, 2).mean(axis=(3, 5))  # halving by bilinear == 2x2 means
    np.testing.assert_allclose(resized, pooled, atol=1e-5)


def test_random_flip_flips_whole_clips():
    clips = RNG.random((16, 3, 4, 5, 1)).astype("float32")
    flipped = numpy(ClipRandomFlip(seed=0)(clips, training=True))
    was_flipped = [np.array_equal(out, clip[:, :, ::-1]) for out, clip in zip(flipped, clips)]
    kept = [np.array_equal(out, clip) for out, clip in zip(flipped, clips)]
    assert all(a != b for a, b in zip(was_flipped, kept))  # every clip: all frames flipped, or none
    assert 0 < sum(was_flipped) < 16
    np.testing.assert_array_equal(numpy(ClipRandomFlip(seed=0)(clips)), clips)  # inference: unchanged


def one_hot_batch(batch=8):
    return {"clips": RNG.random((batch, 3, 8, 8, 2)).astype("float32"), "labels": np.eye(batch, dtype="float32")}


def test_mixup_mixes_clips_and_labels_with_one_weight():
    batch = one_hot_batch()
    mixed = {key: numpy(value) for key, value in ClipMixUp(alpha=0.4, seed=0)(batch, training=True).items()}
    np.testing.assert_allclose(mixed["labels"].sum(axis=1), 1.0, rtol=1e-6)
    for index, labels in enumerate(mixed["labels"]):  # identity labels: row i holds i's own weight and its partner's
        partner = [j for j in np.flatnonzero(labels > 1e-6) if j != index] or [index]
        own = labels[index] if partner[0] != index else 1.0
        expected = own * batch["clips"][index] + (1 - own) * batch["clips"][partner[0]]
        np.testing.assert_allclose(mixed["clips"][index], expected, atol=1e-5)


def test_cutmix_pastes_one_tube_and_mixes_the_labels_by_its_area():
    batch = one_hot_batch()
    mixed = {key: numpy(value) for key, value in ClipCutMix(alpha=1.0, seed=2)(batch, training=True).items()}
    np.testing.assert_allclose(mixed["labels"].sum(axis=1), 1.0, rtol=1e-6)
    for index, (clip, labels) in enumerate(zip(mixed["clips"], mixed["labels"])):
        changed = np.any(clip != batch["clips"][index], axis=-1)  # (T, H, W): where another clip shows
        assert all(np.array_equal(changed[t], changed[0]) for t in range(3))  # the same box in every frame
        np.testing.assert_allclose(changed[0].mean(), 1.0 - labels[index], atol=1e-6)


def test_mixes_are_reproducible_and_off_at_inference():
    batch = one_hot_batch()
    for make in (lambda: ClipMixUp(0.4, seed=5), lambda: ClipCutMix(1.0, seed=5)):
        first, second = make()(batch, training=True), make()(batch, training=True)
        np.testing.assert_array_equal(numpy(first["clips"]), numpy(second["clips"]))
        np.testing.assert_array_equal(numpy(make()(batch)["clips"]), batch["clips"])


@pytest.mark.parametrize("layer", [ClipRandomResizedCrop(8, 8, scale=(0.5, 1.0), seed=1), ClipRandomFlip(seed=2),
                                   ClipMixUp(0.3, seed=3), ClipCutMix(1.0, seed=4)])
def test_configs_round_trip(layer):
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config


def test_wrong_inputs_say_what_was_expected():
    with pytest.raises(ValueError, match=r"expects clips \(batch, time, height, width, channels\)"):
        ClipRandomFlip()(np.zeros((2, 8, 8, 3), "float32"), training=True)
    with pytest.raises(ValueError, match="expects a dict"):
        ClipMixUp(0.2)(np.zeros((2, 3, 8, 8, 3), "float32"), training=True)
    with pytest.raises(ValueError, match="scale"):
        ClipRandomResizedCrop(8, 8, scale=(0.5, 2.0))
