import keras
import numpy as np
import pytest

from videokit.data import moving_shapes
from videokit.models.gan import (
    MaskedComposite,
    VideoGAN,
    discriminator_loss,
    generator_loss,
    mocogan_generator,
    r1_penalty,
    vgan_generator,
    video_discriminator,
)

SHAPE = (4, 16, 16, 3)  # frames, height, width, channels: tiny, for 2 CPU cores.


def tiny_vgan():
    return vgan_generator(SHAPE, preset="small", latent_dim=8, base_filters=4)


def tiny_mocogan():
    return mocogan_generator(SHAPE, preset="small", latent_dim=3, content_dim=5, motion_dim=4, base_filters=4)


def tiny_discriminator():
    return video_discriminator(SHAPE, preset="small", base_filters=4)


def mocogan_latents(batch, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "content": rng.normal(size=(batch, 5)).astype("float32"),
        "motion_noise": rng.normal(size=(batch, SHAPE[0], 3)).astype("float32"),
    }


@pytest.fixture(scope="module")
def real_videos():
    videos, _, _ = moving_shapes(4, num_frames=SHAPE[0], size=32, seed=0)
    return videos[:, :, ::2, ::2].astype("float32") / 127.5 - 1.0


def test_vgan_generator_mixes_foreground_and_background_with_the_mask():
    outputs = tiny_vgan()(np.random.default_rng(0).normal(size=(2, 8)).astype("float32"))
    video, mask, foreground, background = (
        keras.ops.convert_to_numpy(outputs[key])
        for key in ("video", "mask", "foreground", "background")
    )
    assert video.shape == foreground.shape == (2, *SHAPE)
    assert mask.shape == (2, *SHAPE[:3], 1)
    assert background.shape == (2, *SHAPE[1:])
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    assert np.abs(video).max() <= 1.0
    expected = mask * foreground + (1.0 - mask) * background[:, None]
    np.testing.assert_allclose(video, expected, atol=1e-6)


def test_masked_composite_rejects_a_background_of_the_wrong_size():
    with pytest.raises(ValueError, match="background"):
        MaskedComposite()(
            [np.zeros((1, 2, 4, 4, 3)), np.zeros((1, 2, 4, 4, 1)), np.zeros((1, 8, 8, 3))]
        )


def build_shapes_only(builder, **kwargs):
    """Build a model whose weights are never initialised: its shapes, fast on every backend."""
    with keras.StatelessScope(initialize_variables=False):
        model = builder(**kwargs)
    keras.backend.clear_session()  # Forget the uninitialised weights.
    return model


@pytest.mark.parametrize(
    "builder, preset, shape",
    [
        (vgan_generator, "small", (8, 32, 32, 3)),
        (vgan_generator, "paper", (32, 64, 64, 3)),
        (mocogan_generator, "small", (8, 32, 32, 3)),
        (mocogan_generator, "paper", (16, 64, 64, 3)),
    ],
)
def test_generator_presets_have_their_video_shape(builder, preset, shape):
    assert tuple(build_shapes_only(builder, preset=preset).output["video"].shape) == (None, *shape)


@pytest.mark.parametrize("preset, shape", [("small", (8, 32, 32, 3)), ("paper", (32, 64, 64, 3))])
def test_discriminator_presets_take_their_video_shape(preset, shape):
    assert tuple(build_shapes_only(video_discriminator, preset=preset).input.shape) == (
        None,
        *shape,
    )


def test_unknown_preset_and_bad_shape_raise():
    with pytest.raises(ValueError, match="preset"):
        vgan_generator(preset="huge")
    with pytest.raises(ValueError, match=r"\(time, height, width, channels\)"):
        video_discriminator((16, 64, 64))
    with pytest.raises(ValueError, match="divisible"):
        vgan_generator((4, 36, 36, 3), latent_dim=8)


def test_mocogan_motion_noise_only_changes_the_frames_from_its_own_on():
    generator = tiny_mocogan()
    latents = mocogan_latents(2)
    video = keras.ops.convert_to_numpy(generator(latents)["video"])
    assert video.shape == (2, *SHAPE)

    later_noise = {**latents, "motion_noise": latents["motion_noise"].copy()}
    later_noise["motion_noise"][:, 2] += 1.0
    changed = keras.ops.convert_to_numpy(generator(later_noise)["video"])
    np.testing.assert_allclose(changed[:, :2], video[:, :2], atol=1e-6)
    assert np.abs(changed[:, 2:] - video[:, 2:]).max() > 1e-4

    other_content = {**latents, "content": latents["content"] + 1.0}
    recontent = keras.ops.convert_to_numpy(generator(other_content)["video"])
    assert all(np.abs(recontent[:, t] - video[:, t]).max() > 1e-4 for t in range(SHAPE[0]))


def test_discriminator_gives_one_float32_logit_per_clip():
    logits = tiny_discriminator()(np.zeros((3, *SHAPE), "float32"))
    assert tuple(logits.shape) == (3, 1)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


REAL_LOGITS = np.array([[2.0], [-1.0], [0.5]], "float32")
FAKE_LOGITS = np.array([[-3.0], [0.2], [1.5]], "float32")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_non_saturating_losses_match_the_cross_entropy():
    d_expected = np.mean(-np.log(sigmoid(REAL_LOGITS))) + np.mean(
        -np.log(1.0 - sigmoid(FAKE_LOGITS))
    )
    g_expected = np.mean(-np.log(sigmoid(FAKE_LOGITS)))
    np.testing.assert_allclose(
        float(discriminator_loss(REAL_LOGITS, FAKE_LOGITS)), d_expected, rtol=1e-5
    )
    np.testing.assert_allclose(float(generator_loss(FAKE_LOGITS)), g_expected, rtol=1e-5)


def test_hinge_losses_match_numpy():
    d_expected = np.mean(np.maximum(0.0, 1.0 - REAL_LOGITS)) + np.mean(
        np.maximum(0.0, 1.0 + FAKE_LOGITS)
    )
    d_loss = discriminator_loss(REAL_LOGITS, FAKE_LOGITS, "hinge")
    np.testing.assert_allclose(float(d_loss), d_expected, rtol=1e-6)
    np.testing.assert_allclose(
        float(generator_loss(FAKE_LOGITS, "hinge")), -np.mean(FAKE_LOGITS), rtol=1e-6
    )
    with pytest.raises(ValueError, match="hinge"):
        generator_loss(FAKE_LOGITS, "minimax")


def test_r1_penalty_is_half_the_mean_squared_gradient_norm():
    gradients = np.random.default_rng(0).normal(size=(3, *SHAPE)).astype("float32")
    expected = 0.5 * np.mean(np.sum(gradients.reshape(3, -1) ** 2, axis=1))
    np.testing.assert_allclose(float(r1_penalty(gradients)), expected, rtol=1e-5)


def compiled_gan(generator, loss="non_saturating", gradient_penalty=0.0, mask_penalty=0.0):
    keras.utils.set_random_seed(0)
    gan = VideoGAN(generator, tiny_discriminator(), seed=0)
    gan.compile(
        keras.optimizers.Adam(1e-3, beta_1=0.5),
        keras.optimizers.Adam(1e-3, beta_1=0.5),
        loss=loss,
        gradient_penalty=gradient_penalty,
        mask_penalty=mask_penalty,
    )
    return gan


def weights_of(model):
    return [np.array(w) for w in model.get_weights()]


def changed(before, after):
    return any(not np.allclose(a, b) for a, b in zip(before, after))


@pytest.mark.parametrize(
    "make_generator, loss, gradient_penalty",
    [(tiny_vgan, "non_saturating", 0.0), (tiny_mocogan, "hinge", 1.0)],
    ids=["vgan-non_saturating", "mocogan-hinge-r1_penalty"],
)
def test_fit_trains_both_networks(real_videos, make_generator, loss, gradient_penalty):
    gan = compiled_gan(make_generator(), loss, gradient_penalty)
    generator_before, discriminator_before = (
        weights_of(gan.generator),
        weights_of(gan.discriminator),
    )
    seed_before = np.array(gan.seed_generator.state)

    history = gan.fit(real_videos, batch_size=2, epochs=2, verbose=0).history

    assert sorted(history) == ["d_fake", "d_loss", "d_real", "g_loss"]
    assert all(len(values) == 2 and np.all(np.isfinite(values)) for values in history.values())
    assert changed(generator_before, weights_of(gan.generator))  # weights and batch-norm statistics
    assert changed(discriminator_before, weights_of(gan.discriminator))
    assert int(gan.d_optimizer.iterations) == int(gan.g_optimizer.iterations) == 4
    assert not np.array_equal(seed_before, np.array(gan.seed_generator.state))


def mean_mask(gan):
    latents = gan.sample_latents(8, seed=5)
    return float(np.mean(keras.ops.convert_to_numpy(gan.generator(latents, training=True)["mask"])))


def test_mask_penalty_pushes_the_vgan_mask_towards_the_background(real_videos):
    masks = {}
    for penalty in (0.0, 5.0):
        keras.utils.set_random_seed(0)
        gan = VideoGAN(tiny_vgan(), tiny_discriminator(), seed=0)
        gan.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2), mask_penalty=penalty)
        history = gan.fit(real_videos, batch_size=2, epochs=3, verbose=0).history
        assert np.all(np.isfinite(history["g_loss"]))
        masks[penalty] = mean_mask(gan)
    assert masks[5.0] < masks[0.0] - 0.1, masks  # the penalty is in the generator's gradient


def test_mask_penalty_needs_a_generator_that_draws_a_mask():
    gan = VideoGAN(tiny_mocogan(), tiny_discriminator())
    assert not gan.generator_draws_mask
    with pytest.raises(ValueError, match="'mask' output"):
        gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), mask_penalty=1.0)
    with pytest.raises(ValueError, match="mask_penalty"):
        VideoGAN(tiny_vgan(), tiny_discriminator()).compile(
            keras.optimizers.Adam(), keras.optimizers.Adam(), mask_penalty=-1.0
        )


def test_generate_gives_displayable_reproducible_clips():
    gan = compiled_gan(tiny_vgan())
    clips = gan.generate(2, seed=1, as_uint8=True)
    assert clips.shape == (2, *SHAPE) and clips.dtype == np.uint8
    np.testing.assert_array_equal(clips, gan.generate(2, seed=1, as_uint8=True))
    floats = gan.generate(2, seed=1)
    assert floats.dtype == np.float32 and 0.0 <= floats.min() and floats.max() <= 1.0


def test_video_gan_checks_its_networks_and_loss():
    with pytest.raises(ValueError, match="generator's videos"):
        VideoGAN(vgan_generator((8, 16, 16, 3), latent_dim=8, base_filters=4), tiny_discriminator())
    gan = VideoGAN(tiny_vgan(), tiny_discriminator())
    with pytest.raises(ValueError, match="non_saturating"):
        gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), loss="wasserstein")
    optimizer = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="two optimizer instances"):
        gan.compile(optimizer, optimizer)
    gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        gan.fit(np.zeros((2, *SHAPE), "uint8"), batch_size=2, verbose=0)


@pytest.mark.parametrize("make_model", [tiny_vgan, tiny_mocogan, tiny_discriminator])
def test_networks_round_trip_through_keras_files(tmp_path, make_model):
    model = make_model()
    inputs = (
        mocogan_latents(2)
        if make_model is tiny_mocogan
        else np.random.default_rng(0).normal(size=(2, *model.input.shape[1:])).astype("float32")
    )
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    expected, got = model.predict(inputs, verbose=0), reloaded.predict(inputs, verbose=0)
    keras.tree.map_structure(
        lambda e, g: np.testing.assert_allclose(g, e, atol=1e-6), expected, got
    )


def test_video_gan_round_trips_through_a_keras_file(tmp_path):
    gan = compiled_gan(tiny_mocogan())
    gan.save(tmp_path / "gan.keras")
    reloaded = keras.saving.load_model(tmp_path / "gan.keras")
    assert reloaded.latent_shape == {"content": (5,), "motion_noise": (SHAPE[0], 3)}
    np.testing.assert_allclose(reloaded.generate(2, seed=3), gan.generate(2, seed=3), atol=1e-6)


def test_mixed_bfloat16_networks_give_float32_outputs():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        with keras.StatelessScope(initialize_variables=False):  # Shapes and dtypes only.
            models = [tiny_vgan(), tiny_mocogan(), tiny_discriminator()]
    finally:
        keras.backend.clear_session()
        keras.mixed_precision.set_global_policy("float32")
    assert models[0].get_layer("fg_up1").compute_dtype == "bfloat16"
    outputs = [output for model in models for output in keras.tree.flatten(model.output)]
    assert {keras.backend.standardize_dtype(output.dtype) for output in outputs} == {"float32"}


def test_explicit_arguments_win_over_a_preset():
    from videokit.models import gan

    generator = gan.vgan_generator(output_shape=(4, 32, 32, 3), preset="small")
    discriminator = gan.video_discriminator((4, 32, 32, 3), preset="small")
    assert generator.output["video"].shape[1:] == (4, 32, 32, 3)
    assert discriminator.input_shape[1:] == (4, 32, 32, 3)


def test_an_integer_seed_draws_independent_noise_for_each_generator_input():
    from videokit.models import gan

    model = gan.VideoGAN(gan.mocogan_generator(preset="small"), gan.video_discriminator(preset="small"))
    latents = {name: np.asarray(value) for name, value in model.sample_latents(2, seed=3).items()}
    again = {name: np.asarray(value) for name, value in model.sample_latents(2, seed=3).items()}
    content, motion = latents["content"].ravel(), latents["motion_noise"].ravel()
    assert not np.allclose(content, motion[: content.size])
    np.testing.assert_array_equal(latents["content"], again["content"])
