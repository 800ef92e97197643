import keras
import numpy as np
import pytest

from videokit.data import moving_shapes
from videokit.layers import TubeletEmbedding
from videokit.models.videomae import (
    VideoMAE,
    clips_from_tubelets,
    normalised_tubelets,
    tube_mask,
    tubelets_of,
)

SMALL = {
    "tubelet_size": (2, 8, 8),
    "embed_dim": 32,
    "depth": 1,
    "num_heads": 2,
    "mlp_dim": 64,
    "decoder_dim": 16,
    "decoder_depth": 1,
    "decoder_heads": 2,
}


def clips_of(batch, seed=0):
    return (
        np.random.default_rng(seed)
        .uniform(size=(batch, 8, 32, 32, 3))
        .astype("float32")
    )


def test_tubelets_come_in_the_token_order_of_the_tubelet_embedding():
    clips = clips_of(2)
    size = 2 * 8 * 8 * 3
    embedding = TubeletEmbedding(size, patch_size=(2, 8, 8))
    embedding.build(clips.shape)
    embedding.projection.kernel.assign(
        np.eye(size, dtype="float32").reshape(2, 8, 8, 3, size)
    )
    expected = keras.ops.convert_to_numpy(embedding(clips))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(tubelets_of(clips, (2, 8, 8))), expected, atol=1e-5
    )


def test_targets_are_normalised_per_tubelet():
    targets = keras.ops.convert_to_numpy(normalised_tubelets(clips_of(2), (2, 8, 8)))
    assert targets.shape == (2, 64, 384)
    np.testing.assert_allclose(targets.mean(axis=-1), 0.0, atol=1e-4)
    np.testing.assert_allclose(targets.std(axis=-1), 1.0, atol=1e-3)


def test_tube_mask_hides_the_same_positions_in_every_time_step():
    frames, patches, keep = 4, 16, 2
    noise = np.random.default_rng(0).uniform(size=(3, patches)).astype("float32")
    visible, masked = (
        keras.ops.convert_to_numpy(i) for i in tube_mask(noise, frames, keep)
    )
    assert visible.shape == (3, frames * keep) and masked.shape == (
        3,
        frames * (patches - keep),
    )
    for clip in range(3):
        assert sorted(np.concatenate([visible[clip], masked[clip]])) == list(
            range(frames * patches)
        )
        positions = visible[clip].reshape(frames, keep) % patches
        assert (
            positions == positions[0]
        ).all()  # the same spatial positions at every time step
        assert set(positions[0]) == set(np.argsort(noise[clip])[:keep])


def test_encoder_sees_only_the_visible_tenth():
    mae = VideoMAE((8, 32, 32, 3), mask_ratio=0.9, seed=0, **SMALL)
    predicted, targets = mae(clips_of(2))
    assert (
        mae.num_patches == 16 and mae.num_visible == 2
    )  # 10% of 16 positions, in each of 4 time steps
    assert tuple(predicted.shape) == tuple(targets.shape) == (2, 4 * 14, 384)


def test_a_few_steps_lower_the_reconstruction_loss():
    keras.utils.set_random_seed(0)
    videos, _, _ = moving_shapes(16, num_frames=8, size=32, seed=0)
    clips = videos.astype("float32") / 255.0
    mae = VideoMAE((8, 32, 32, 3), seed=0, **SMALL)
    mae.compile(optimizer=keras.optimizers.Adam(1e-3))
    losses = mae.fit(clips, batch_size=8, epochs=8, verbose=0).history["loss"]
    assert losses[-1] < losses[0] - 0.05, np.round(losses, 3)


def test_keras_file_round_trip(tmp_path):
    mae = VideoMAE((8, 32, 32, 3), seed=0, **SMALL)
    clips = clips_of(2)
    mae(clips)
    path = tmp_path / "videomae.keras"
    mae.save(path)
    restored = keras.saving.load_model(path)
    assert restored.get_config() == mae.get_config()
    state = keras.ops.convert_to_numpy(mae.seed_generator.state)
    restored.seed_generator.state.assign(state)  # the same masks
    for expected, got in zip(mae(clips), restored(clips)):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(got),
            keras.ops.convert_to_numpy(expected),
            atol=1e-5,
        )


def test_rejects_a_mask_ratio_outside_zero_and_one():
    with pytest.raises(
        ValueError,
        match=r"^VideoMAE expects 0 < mask_ratio < 1; got mask_ratio=1\.0\.$",
    ):
        VideoMAE((8, 32, 32, 3), mask_ratio=1.0, **SMALL)


def test_clips_from_tubelets_undoes_tubelets_of():
    clips = clips_of(2)
    tubelets = tubelets_of(clips, (2, 8, 8))
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(clips_from_tubelets(tubelets, (2, 8, 8), (8, 32, 32, 3))), clips
    )


def test_sinusoidal_positions_have_no_weights_and_still_train():
    mae = VideoMAE((8, 32, 32, 3), seed=0, position_embedding="sinusoidal", **SMALL)
    mae(clips_of(2))
    assert not mae.get_layer("positions").weights and not mae.get_layer("decoder_positions").weights
    with pytest.raises(ValueError, match=r"position_embedding to be one of \('learned', 'sinusoidal'\); got 'rope'"):
        VideoMAE((8, 32, 32, 3), position_embedding="rope", **SMALL)


def test_reconstruction_keeps_the_visible_tubes_and_greys_the_hidden_ones():
    mae = VideoMAE((8, 32, 32, 3), seed=0, mask_ratio=0.75, **SMALL)
    clips = clips_of(2)
    masked_input, reconstruction, original = mae.reconstruct(clips, seed=0)
    np.testing.assert_array_equal(original, clips)
    hidden = np.all(masked_input == 0.5, axis=-1)  # (clip, time, height, width): a hidden pixel
    assert hidden.mean() == pytest.approx(0.75)
    assert (hidden == hidden[:, :1]).all()  # tubes: the same places hidden in every frame
    visible = ~hidden
    np.testing.assert_allclose(reconstruction[visible], clips[visible], atol=1e-6)
    assert np.abs(reconstruction[~visible] - 0.5).max() > 0.1  # drawn from the prediction, not grey
    # the same seed, the same mask: pictures of successive epochs are comparable
    np.testing.assert_array_equal(mae.reconstruct(clips, seed=0)[0], masked_input)


def test_the_classifier_takes_the_pretrained_encoder_by_name_and_shape():
    from videokit.models.videomae import videomae, videomae_classifier
    from videokit.training.transfer import initialise_from

    keras.utils.set_random_seed(0)
    pretrained = videomae(preset="small", seed=0)
    pretrained(clips_of(1))
    classifier = videomae_classifier(num_classes=5, preset="small")
    copied, skipped = initialise_from(classifier, pretrained)
    assert copied == ["tubelet_embedding", "encoder_block0", "encoder_block1"]
    assert sorted(skipped) == ["fc_norm", "predictions"]  # not in the autoencoder: the new head
    for name in copied:
        for got, expected in zip(classifier.get_layer(name).weights, pretrained.get_layer(name).weights):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(expected))


def test_the_classifier_without_mean_pooling_reads_the_first_normalised_token():
    from videokit.models.videomae import videomae_classifier

    model = videomae_classifier(preset="small", use_mean_pooling=False, classifier_activation=None)
    features = keras.Model(model.input, model.get_layer("encoder_norm").output)
    clips = clips_of(2)
    tokens = keras.ops.convert_to_numpy(features(clips))
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in model.get_layer("predictions").weights)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(clips)), tokens[:, 0] @ kernel + bias, atol=1e-5)
