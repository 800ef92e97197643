"""videokit.explain: motion probes, temporal occlusion, Grad-CAM and overlays, checked on models
whose answer is known (constructed weights or order-invariant architectures)."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from videokit import explain
from videokit.data import SQUARE_DIRECTIONS, moving_squares


def order_invariant_classifier(shape=(6, 8, 8, 1), num_classes=3):
    """Per-frame 2D features averaged over time: frame order cannot matter."""
    keras.utils.set_random_seed(1)
    clips = keras.Input(shape)
    x = keras.layers.TimeDistributed(keras.layers.Conv2D(4, 3, padding="same", activation="relu"), name="conv")(clips)
    x = keras.layers.TimeDistributed(keras.layers.GlobalAveragePooling2D())(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(clips, keras.layers.Dense(num_classes, activation="softmax")(x))


def motion_direction_classifier(num_frames, size):
    """Constructed weights: frame differences correlated with x and y classify moving_squares directions.

    For a square sliding right, the difference of two frames is +1 on its new right edge and -1 on
    its old left edge, so sum(difference * x) > 0; sliding left, < 0; vertical motions give 0 there.
    """
    clips = keras.Input((num_frames, size, size, 1))
    difference = keras.layers.Conv3D(1, (2, 1, 1), use_bias=False, name="frame_difference")
    x = keras.layers.Flatten()(difference(clips))
    head = keras.layers.Dense(len(SQUARE_DIRECTIONS), activation="softmax")
    model = keras.Model(clips, head(x))
    difference.set_weights([np.array([-1.0, 1.0], "float32").reshape(2, 1, 1, 1, 1)])
    y, x_coordinate = np.meshgrid(np.arange(size) - size / 2, np.arange(size) - size / 2, indexing="ij")
    along = {"move_left": -x_coordinate, "move_right": x_coordinate, "move_up": -y, "move_down": y}
    kernel = np.stack([np.broadcast_to(along[name], (num_frames - 1, size, size)).ravel()
                       for name in SQUARE_DIRECTIONS], axis=-1)
    head.set_weights([kernel.astype("float32"), np.zeros(len(SQUARE_DIRECTIONS), "float32")])
    return model


# ------------------------------------------------------------ motion probes


def test_probe_clips_shuffle_reverse_and_freeze_frames():
    clips = np.broadcast_to(np.arange(5, dtype="float32")[None, :, None, None, None], (3, 5, 2, 2, 1))
    probes = explain.probe_clips(clips, seed=3)
    frame_order = {name: probe[:, :, 0, 0, 0] for name, probe in probes.items()}
    assert list(probes) == list(explain.PROBES)
    for order in frame_order["shuffled"]:
        assert sorted(order) == list(range(5)) and list(order) != list(range(5))
    np.testing.assert_array_equal(explain.probe_clips(clips, seed=3)["shuffled"], probes["shuffled"])
    np.testing.assert_array_equal(frame_order["reversed"], np.tile([4, 3, 2, 1, 0], (3, 1)))
    np.testing.assert_array_equal(frame_order["frozen"], np.full((3, 5), 2))


def test_order_invariant_model_scores_the_same_on_shuffled_and_reversed_clips():
    model = order_invariant_classifier()
    clips = np.random.default_rng(0).uniform(size=(12, 6, 8, 8, 1)).astype("float32")
    labels = np.argmax(model.predict(clips, verbose=0), axis=-1)
    labels[:4] = (labels[:4] + 1) % 3  # some wrong answers, so accuracy is not trivially 1
    probes = explain.motion_probes(model, clips, labels, batch_size=6)
    assert probes["original"] == probes["shuffled"] == probes["reversed"] == pytest.approx(8 / 12)
    for name in ("shuffled", "reversed"):
        np.testing.assert_array_equal(probes.predictions[name], probes.predictions["original"])
    assert probes.chance == pytest.approx(1 / 3)


def test_motion_model_falls_to_chance_on_frozen_clips_and_flips_on_reversed_ones():
    videos, labels, _ = moving_squares(16, num_frames=6, size=12)
    model = motion_direction_classifier(6, 12)
    probes = explain.motion_probes(model, videos / 255.0, labels)
    assert probes["original"] == 1.0
    assert probes["reversed"] == 0.0  # left <-> right, up <-> down
    assert probes["frozen"] == pytest.approx(probes.chance)  # no motion: every class scores the same
    table = str(probes)
    assert "frozen" in table and "-0.750" in table and "chance" in table


def test_motion_probes_says_what_labels_it_expected():
    with pytest.raises(ValueError, match=r"one integer label per clip, shape \(2,\); got labels of shape \(3,\)"):
        explain.motion_probes(order_invariant_classifier(), np.zeros((2, 6, 8, 8, 1)), [0, 1, 2])


# ------------------------------------------------------- temporal occlusion


def one_frame_classifier(frame, shape=(5, 4, 4, 1), num_classes=3):
    """Sees frame ``frame`` only: the others are cropped away before a Dense layer."""
    clips = keras.Input(shape)
    x = keras.layers.Cropping3D(((frame, shape[0] - frame - 1), (0, 0), (0, 0)))(clips)
    x = keras.layers.Flatten()(x)
    head = keras.layers.Dense(num_classes, activation="softmax")
    model = keras.Model(clips, head(x))
    kernel = np.random.default_rng(frame).normal(size=(int(np.prod(shape[1:])), num_classes))
    head.set_weights([kernel.astype("float32"), np.zeros(num_classes, "float32")])
    return model


@pytest.mark.parametrize("fill", explain.OCCLUSION_FILLS)
def test_temporal_occlusion_finds_the_only_frame_a_model_sees(fill):
    model = one_frame_classifier(frame=3)
    clip = np.random.default_rng(1).normal(size=(5, 4, 4, 1)).astype("float32")
    predicted = int(np.argmax(model.predict(clip[None], verbose=0)))
    importance = explain.temporal_occlusion(model, clip, class_index=predicted, fill=fill)
    assert importance.shape == (5,)
    np.testing.assert_allclose(np.delete(importance, 3), 0.0, atol=1e-6)
    assert abs(importance[3]) > 0.05


def test_temporal_occlusion_says_which_fills_it_knows():
    with pytest.raises(ValueError, match=r"fill to be one of \['mean', 'neighbour'\]; got 'zeros'"):
        explain.temporal_occlusion(one_frame_classifier(0), np.zeros((5, 4, 4, 1)), 0, fill="zeros")


# ----------------------------------------------------------------- Grad-CAM


def linear_head_classifier(per_frame, shape=(4, 6, 6, 2), num_classes=3):
    """A convolution, a global average and a Dense softmax: Grad-CAM has a closed form."""
    keras.utils.set_random_seed(3)
    clips = keras.Input(shape)
    if per_frame:
        conv = keras.layers.TimeDistributed(keras.layers.Conv2D(5, 3, padding="same", activation="relu"))
        x = keras.layers.TimeDistributed(keras.layers.GlobalAveragePooling2D())(conv(clips))
        x = keras.layers.GlobalAveragePooling1D()(x)
    else:
        conv = keras.layers.Conv3D(5, 3, padding="same", activation="relu")
        x = keras.layers.GlobalAveragePooling3D()(conv(clips))
    head = keras.layers.Dense(num_classes, activation="softmax")
    return keras.Model(clips, head(x)), conv, head


@pytest.mark.parametrize("per_frame", [False, True], ids=["conv3d", "time_distributed_conv2d"])
def test_grad_cam_of_a_linear_head_on_average_pooled_features_has_its_closed_form(per_frame):
    model, conv, head = linear_head_classifier(per_frame)
    clips = np.random.default_rng(2).normal(size=(2, 4, 6, 6, 2)).astype("float32")
    maps = explain.grad_cam(model, clips, class_index=[2, 0])
    features = keras.ops.convert_to_numpy(keras.Model(model.input, conv.output)(clips))
    kernel = head.get_weights()[0]  # (channels, classes): dlogit_k/dA_c = kernel[c, k] / positions
    positions = 4 * 6 * 6
    for clip, k in enumerate([2, 0]):
        expected = np.maximum(features[clip] @ kernel[:, k], 0) / positions
        np.testing.assert_allclose(maps[clip], expected, rtol=1e-4, atol=1e-7)
    assert maps.shape == (2, 4, 6, 6)


def test_grad_cam_explains_the_predicted_class_by_default_and_one_clip_alone():
    model, _, _ = linear_head_classifier(per_frame=False)
    clips = np.random.default_rng(3).normal(size=(2, 4, 6, 6, 2)).astype("float32")
    predicted = np.argmax(model.predict(clips, verbose=0), axis=-1)
    maps = explain.grad_cam(model, clips)
    np.testing.assert_allclose(maps, explain.grad_cam(model, clips, class_index=predicted), atol=1e-7)
    np.testing.assert_allclose(explain.grad_cam(model, clips[1], class_index=predicted[1]), maps[1], atol=1e-7)


def region_classifier(shape, rows, columns):
    """Sees one region only: the rest of every frame is cropped and padded back with zeros before a
    strided Conv3D (constructed positive weights), whose maps Grad-CAM has to upsample."""
    clips = keras.Input(shape)
    margins = ((0, 0), (rows[0], shape[1] - rows[1]), (columns[0], shape[2] - columns[1]))
    x = keras.layers.ZeroPadding3D(margins)(keras.layers.Cropping3D(margins)(clips))
    conv = keras.layers.Conv3D(3, 2, strides=(1, 2, 2), padding="same", activation="relu", name="conv")
    x = keras.layers.GlobalAveragePooling3D()(conv(x))
    head = keras.layers.Dense(2, activation="softmax")
    model = keras.Model(clips, head(x))
    conv.set_weights([np.full((2, 2, 2, 1, 3), 0.1, "float32"), np.zeros(3, "float32")])
    head.set_weights([np.array([[1.0, -1.0]] * 3, "float32"), np.zeros(2, "float32")])
    return model


def test_grad_cam_peaks_in_the_only_region_a_model_sees():
    rows, columns = (4, 12), (6, 14)
    model = region_classifier((4, 16, 16, 1), rows, columns)
    clips = np.random.default_rng(4).uniform(0.5, 1.0, size=(2, 4, 16, 16, 1)).astype("float32")
    coarse = explain.grad_cam(model, clips, class_index=0, upsample=False)
    assert coarse.shape == (2, 4, 8, 8)
    outside = np.ones((8, 8), bool)
    outside[rows[0] // 2 : rows[1] // 2, columns[0] // 2 : columns[1] // 2] = False
    assert coarse[:, :, outside].max() == 0 and coarse[:, :, ~outside].min() > 0
    maps = explain.grad_cam(model, clips, class_index=0)
    assert maps.shape == (2, 4, 16, 16)
    inside = np.zeros((16, 16), bool)
    inside[rows[0] : rows[1], columns[0] : columns[1]] = True
    for clip_map in maps:
        _, row, column = np.unravel_index(np.argmax(clip_map), clip_map.shape)
        assert inside[row, column]
        assert clip_map[:, inside].sum() / clip_map.sum() > 0.85  # linear upsampling spills one pixel
        assert clip_map[:, : rows[0] - 1].max() == 0 and clip_map[:, :, : columns[0] - 1].max() == 0


def test_grad_cam_explains_the_residual_sum_when_a_skip_connection_goes_around_the_last_conv():
    keras.utils.set_random_seed(5)
    clips = keras.Input((4, 6, 6, 2))
    x = keras.layers.Conv3D(3, 3, padding="same", activation="relu")(clips)
    residual = keras.layers.Conv3D(3, 3, padding="same", name="last_conv")(x)
    x = keras.layers.Add(name="block_sum")([x, residual])
    x = keras.layers.GlobalAveragePooling3D()(keras.layers.ReLU()(x))
    model = keras.Model(clips, keras.layers.Dense(2, activation="softmax")(x))
    data = np.random.default_rng(5).normal(size=(2, 4, 6, 6, 2)).astype("float32")
    np.testing.assert_allclose(explain.grad_cam(model, data, class_index=1),
                               explain.grad_cam(model, data, class_index=1, layer_name="block_sum"), atol=1e-7)
    with pytest.raises(ValueError, match="grad_cam needs everything after layer 'last_conv' to depend on its output"):
        explain.grad_cam(model, data, layer_name="last_conv")


def test_grad_cam_upsamples_like_keras_bilinear_resize_frame_by_frame():
    maps = np.random.default_rng(6).uniform(size=(2, 3, 4, 5)).astype("float32")
    frames = keras.ops.image.resize(maps.reshape(6, 4, 5, 1), (8, 15), interpolation="bilinear", antialias=False)
    expected = keras.ops.convert_to_numpy(frames).reshape(2, 3, 8, 15)
    np.testing.assert_allclose(explain._resize(maps, (3, 8, 15)), expected, atol=1e-6)


def test_grad_cam_says_which_layer_it_needs():
    model = one_frame_classifier(0)
    with pytest.raises(ValueError, match="found none; name the layer to explain with layer_name="):
        explain.grad_cam(model, np.zeros((1, 5, 4, 4, 1)))
    flatten = next(layer.name for layer in model.layers if isinstance(layer, keras.layers.Flatten))
    with pytest.raises(ValueError, match=rf"video-shaped output .*; layer '{flatten}' gives \(None, 16\)"):
        explain.grad_cam(model, np.zeros((1, 5, 4, 4, 1)), layer_name=flatten)


# ----------------------------------------------------------- attention maps


def _uniform_last_attention(model, attention_names):
    """Zero the last block's query and key projections: every query then attends equally to every key."""
    from videokit.layers import DividedSpaceTimeBlock, TransformerBlock

    block = [layer for layer in model.layers if isinstance(layer, (DividedSpaceTimeBlock, TransformerBlock))][-1]
    for name in attention_names:
        attention = getattr(block, name)
        for dense in (attention.query_dense, attention.key_dense):
            dense.set_weights([np.zeros_like(weight) for weight in dense.get_weights()])


def test_attention_maps_of_uniform_divided_attention_give_every_patch_one_share():
    from videokit.models import timesformer

    keras.utils.set_random_seed(0)
    model = timesformer(preset="small")  # 8x32x32 clips, 8x8 patches: 16 patches and the class token per frame
    _uniform_last_attention(model, ["spatial_attention"])
    clips = np.random.default_rng(0).random((2, 8, 32, 32, 3), dtype=np.float32)
    maps = explain.attention_maps(model, clips, upsample=False)
    assert maps.shape == (2, 8, 4, 4)
    np.testing.assert_allclose(maps, 1 / 17, rtol=1e-5)
    assert explain.attention_maps(model, clips[0]).shape == (8, 32, 32)
    method, heatmap = explain._explanation(model, clips[0], class_index=0)  # what videokit explain draws
    assert method == "attention" and heatmap.shape == (8, 32, 32)


def test_attention_maps_of_a_joint_model_without_class_token_average_what_each_token_receives():
    from videokit.models import videomae_classifier

    keras.utils.set_random_seed(0)
    model = videomae_classifier(preset="small")  # 2x8x8 tubelets of 8x32x32 clips: a 4x4x4 grid
    clips = np.random.default_rng(1).random((2, 8, 32, 32, 3), dtype=np.float32)
    maps = explain.attention_maps(model, clips, upsample=False)
    assert maps.shape == (2, 4, 4, 4) and np.all(maps > 0)
    np.testing.assert_allclose(maps.sum(axis=(1, 2, 3)), 1.0, rtol=1e-5)  # each query's row sums to 1
    _uniform_last_attention(model, ["attention"])
    np.testing.assert_allclose(explain.attention_maps(model, clips, upsample=False), 1 / 64, rtol=1e-5)


def test_attention_maps_say_what_model_they_need():
    with pytest.raises(ValueError, match="expects a video transformer"):
        from videokit.models import c3d

        explain.attention_maps(c3d(preset="small"), np.zeros((1, 8, 32, 32, 3), "float32"))


# ------------------------------------------------------------------ overlay


def test_overlay_gives_rgb_clips_in_the_unit_range_hottest_where_the_map_peaks():
    videos, _, _ = moving_squares(2, num_frames=4, size=8)
    heatmaps = np.zeros((2, 4, 8, 8), "float32")
    heatmaps[:, :, 1, 2] = 3.0
    blended = explain.overlay(videos, heatmaps, alpha=0.6)
    assert blended.shape == (2, 4, 8, 8, 3) and blended.dtype == np.float32
    assert 0.0 <= blended.min() and blended.max() <= 1.0
    assert blended[0, 0, 1, 2, 0] > blended[0, 0, 1, 2, 2]  # jet: hot is red, cold is blue
    assert explain.overlay(videos[0], heatmaps[0]).shape == (4, 8, 8, 3)
    with pytest.raises(ValueError, match=r"heatmaps of shape \(2, 4, 8, 8\).*got \(2, 4, 4, 4\)"):
        explain.overlay(videos, heatmaps[:, :, :4, :4])


# ------------------------------------------------------------- command line


@pytest.mark.slow  # trains a tiny c3d run and explains a video in subprocesses (~25 s)
@pytest.mark.backend_independent
def test_videokit_explain_prints_the_top_class_and_draws_the_grad_cam(tmp_path):
    from videokit import io
    from videokit.data import moving_shapes

    def videokit(*arguments):
        environment = dict(os.environ, MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="3")
        return subprocess.run([sys.executable, "-m", "videokit", *arguments], cwd=tmp_path, env=environment,
                              capture_output=True, text=True, timeout=600, check=False)

    trained = videokit("train", "--model", "c3d", "--epochs", "1", "--run-dir", "run", "--samples", "24",
                       "--clip", "8x32x32", "--batch-size", "8")
    assert trained.returncode == 0, trained.stderr[-3000:]
    videos, _, names = moving_shapes(1, num_frames=12, size=48, seed=9)
    io.write_video(tmp_path / "clip.mp4", videos[0])
    result = videokit("explain", "run", "clip.mp4", "--output", "pictures")
    assert result.returncode == 0, result.stderr[-3000:]
    video, answer = result.stdout.strip().splitlines()[-1].split(": ", 1)
    class_name, probability = answer.split(";")[0].split()
    assert video == "clip.mp4" and class_name in names and 0 < float(probability) <= 1
    assert (tmp_path / "pictures" / "clip.explain.png").stat().st_size > 0 and "Grad-CAM drawn in" in answer
    refused = videokit("explain", "nowhere", "clip.mp4")
    assert refused.returncode == 2 and "not a videokit run directory" in refused.stderr.splitlines()[-1]
