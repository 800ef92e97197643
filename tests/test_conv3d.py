import keras
import numpy as np
import pytest

from videokit.data import moving_shapes
from videokit.layers import Conv2Plus1D
from videokit.models import c3d, mc3, r2plus1d, r3d
from videokit.models.conv3d import KINETICS_MEAN, KINETICS_STD

C3D_PARAMS = 79_991_015
C3D_CONV_PARAMS = 27_655_936
C3D_FC_PARAMS = 52_335_079
SMALL_CLIPS = (8, 32, 32, 3)
BUILDERS = [c3d, r3d, mc3, r2plus1d]
RESNETS = [r3d, mc3, r2plus1d]
# torchvision.models.video's r3d_18, mc3_18, r2plus1d_18: sum(p.numel() for p in model.parameters()).
TORCHVISION_PARAMS = {"r3d": 33_371_472, "mc3": 11_695_440, "r2plus1d": 31_505_325}


def _without_initial_values(builder, *args, **kwargs):
    """Build a model whose variables have shapes but no values (fast; for shapes and counts)."""
    with keras.StatelessScope(initialize_variables=False):
        return builder(*args, **kwargs)


@pytest.fixture(scope="module")
def paper_c3d():
    return _without_initial_values(c3d, num_classes=487)


@pytest.fixture(scope="module")
def small_models():
    """One small model per builder, shared by the tests (building is slow on JAX)."""
    keras.utils.set_random_seed(0)
    return {builder.__name__: builder(preset="small") for builder in BUILDERS}


def _params(model, layer_type):
    return sum(layer.count_params() for layer in model.layers if isinstance(layer, layer_type))


def _small_clips(batch=2, seed=0):
    return np.random.default_rng(seed).uniform(size=(batch, *SMALL_CLIPS)).astype("float32")


def test_c3d_paper_parameter_count(paper_c3d):
    assert paper_c3d.count_params() == C3D_PARAMS
    assert _params(paper_c3d, keras.layers.Conv3D) == C3D_CONV_PARAMS
    assert _params(paper_c3d, keras.layers.Dense) == C3D_FC_PARAMS
    assert paper_c3d.get_layer("conv1a").count_params() == 3 * 3 * 3 * 3 * 64 + 64
    assert paper_c3d.get_layer("fc6").count_params() == 8192 * 4096 + 4096


def test_c3d_paper_shapes(paper_c3d):
    assert paper_c3d.input_shape == (None, 16, 112, 112, 3)
    assert paper_c3d.get_layer("pool4").output.shape == (None, 2, 7, 7, 512)
    assert paper_c3d.get_layer("pool5").output.shape == (None, 1, 4, 4, 512)
    assert paper_c3d.get_layer("flatten").output.shape == (None, 8192)
    assert paper_c3d.output_shape == (None, 487)
    convs = [layer for layer in paper_c3d.layers if isinstance(layer, keras.layers.Conv3D)]
    assert [conv.filters for conv in convs] == [64, 128, 256, 256, 512, 512, 512, 512]
    assert all(conv.kernel_size == (3, 3, 3) and conv.strides == (1, 1, 1) for conv in convs)


def test_r3d_paper_matches_torchvision_r3d_18():
    model = _without_initial_values(r3d)
    trainable = sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)
    assert trainable == 33_371_472  # torchvision.models.video.r3d_18().parameters()
    assert model.output_shape == (None, 400)


def _trainable(model):
    return sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)


@pytest.mark.parametrize("builder", RESNETS, ids=lambda builder: builder.__name__)
def test_torchvision_preset_has_torchvisions_parameters(builder):
    model = _without_initial_values(builder, preset="torchvision")
    assert _trainable(model) == TORCHVISION_PARAMS[builder.__name__]
    assert model.input_shape == (None, 16, 112, 112, 3) and model.output_shape == (None, 400)
    normalization = model.get_layer("input_normalization")
    assert model.layers[1] is normalization
    np.testing.assert_allclose(np.ravel(normalization.mean), KINETICS_MEAN)
    np.testing.assert_allclose(np.sqrt(np.ravel(normalization.variance)), KINETICS_STD, rtol=1e-6)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(norm.epsilon == 1e-5 and norm.momentum == 0.9 for norm in norms)


def test_torchvision_r2plus1d_counts_intermediate_channels_per_block():
    torchvision, paper = _without_initial_values(r2plus1d, preset="torchvision"), _without_initial_values(r2plus1d)
    middle = {
        name: (torchvision.get_layer(name).spatial_conv.filters, paper.get_layer(name).spatial_conv.filters)
        for name in ("stem_conv", "stage2_block1_conv1", "stage2_block1_conv2", "stage2_block2_conv2")
    }
    # (torchvision, paper): 45 against the formula's 83 in the stem; the second convolution of a
    # stage's first block keeps its block's M = M(64 -> 128) = 230 instead of M(128 -> 128) = 288.
    assert middle == {"stem_conv": (45, 83), "stage2_block1_conv1": (230, 230),
                      "stage2_block1_conv2": (230, 288), "stage2_block2_conv2": (288, 288)}
    assert torchvision.get_layer("stage2_block1_conv1").batch_norm.epsilon == 1e-5


def test_mc3_convolves_time_in_the_stem_and_first_stage_only():
    model = _without_initial_values(mc3)
    assert _trainable(model) == TORCHVISION_PARAMS["mc3"]
    assert model.get_layer("stage1_block2_conv2").kernel_size == (3, 3, 3)
    for stage in (2, 3, 4):
        assert model.get_layer(f"stage{stage}_block1_conv1").kernel_size == (1, 3, 3)
        assert model.get_layer(f"stage{stage}_block1_conv1").strides == (1, 2, 2)
        assert model.get_layer(f"stage{stage}_block1_shortcut").strides == (1, 2, 2)
    assert model.get_layer("stage4_block2_out").output.shape == (None, 16, 7, 7, 512)  # r3d: (None, 2, 7, 7, 512)


@pytest.mark.parametrize("builder", RESNETS, ids=lambda builder: builder.__name__)
def test_symmetric_padding_equals_same_padding_exactly_when_every_strided_size_is_odd(builder):
    keras.utils.set_random_seed(0)
    same, symmetric = (
        builder((None, None, None, 3), preset="small", padding=padding, classifier_activation=None)
        for padding in ("same", "symmetric")
    )
    rng = np.random.default_rng(0)
    for weight in same.weights:  # batch-norm statistics too, so that they matter
        if weight.path.endswith(("gamma", "moving_variance")):
            weight.assign(rng.uniform(0.5, 1.5, size=weight.shape).astype("float32"))
        elif weight.path.endswith(("beta", "moving_mean")):
            weight.assign(rng.normal(0, 0.1, size=weight.shape).astype("float32"))
    symmetric.set_weights(same.get_weights())
    logits = {}
    # 9x33x33: every stride-2 convolution meets an odd size (33, 17, 9, 5 and 9, 5, 3 frames),
    # where "same" pads both sides by one; 8x32x32: even sizes, where it pads the end only.
    for shape in ((9, 33, 33, 3), (8, 32, 32, 3)):
        clips = rng.uniform(size=(1, *shape)).astype("float32")
        logits[shape[0]] = [keras.ops.convert_to_numpy(model(clips)) for model in (same, symmetric)]
    np.testing.assert_allclose(*logits[9], atol=1e-5)
    assert np.abs(logits[8][0] - logits[8][1]).max() > 1e-3


def test_input_mean_and_std_normalise_the_clips_first():
    keras.utils.set_random_seed(0)
    plain = r3d(preset="small")
    normalised = r3d(preset="small", input_mean=KINETICS_MEAN, input_std=KINETICS_STD)
    normalised.set_weights(plain.get_weights())
    clips = _small_clips()
    expected = keras.ops.convert_to_numpy(plain((clips - np.float32(KINETICS_MEAN)) / np.float32(KINETICS_STD)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(normalised(clips)), expected, atol=1e-6)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"padding": "valid"}, r"padding to be one of \('same', 'symmetric'\); got 'valid'"),
        ({"input_mean": (0.5, 0.5, 0.5)}, "input_mean and input_std together"),
        ({"input_mean": (0.5, 0.5), "input_std": (1, 1)}, "one value per channel"),
        ({"input_mean": (0.5,) * 3, "input_std": (1, 0, 1)}, "standard deviations positive"),
        ({"intermediate_filters": "per_stage"}, "intermediate_filters to be one of"),
    ],
)
def test_video_resnets_reject_bad_architecture_options(arguments, message):
    with pytest.raises(ValueError, match=message):
        r2plus1d(preset="small", **arguments)


def test_r2plus1d_keeps_the_conv_weight_count_of_r3d():
    factorised, full = _without_initial_values(r2plus1d), _without_initial_values(r3d)
    blocks = [layer for layer in factorised.layers if isinstance(layer, Conv2Plus1D)]
    assert len(blocks) == 17  # stem + 4 stages x 2 blocks x 2 convolutions
    factorised_kernels = sum(
        int(np.prod(layer.spatial_conv.kernel.shape)) + int(np.prod(layer.temporal_conv.kernel.shape))
        for layer in blocks
    )
    full_kernels = sum(int(np.prod(full.get_layer(layer.name).kernel.shape)) for layer in blocks)
    assert full_kernels == 32_984_640
    assert 0.999 * full_kernels <= factorised_kernels <= full_kernels


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda builder: builder.__name__)
def test_small_preset_predicts_and_round_trips_through_keras_file(builder, small_models, tmp_path):
    model = small_models[builder.__name__]
    clips = _small_clips()
    probabilities = model.predict(clips, verbose=0)
    assert model.input_shape == (None, *SMALL_CLIPS)
    assert probabilities.shape == (2, 8) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    path = tmp_path / f"{builder.__name__}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(clips, verbose=0), probabilities)


@pytest.mark.parametrize("builder", [c3d, r3d], ids=lambda builder: builder.__name__)
def test_arguments_override_the_preset(builder):
    model = _without_initial_values(
        builder, (8, 48, 40, 1), 5, preset="small", classifier_activation=None
    )
    assert model.input_shape == (None, 8, 48, 40, 1)
    assert model.output_shape == (None, 5)
    assert model.get_layer("predictions").get_config()["activation"] == "linear"


def test_mixed_precision_computes_in_bfloat16_and_outputs_float32():
    try:
        keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
        model = c3d(preset="small")
        outputs = model(_small_clips(batch=1))
        assert model.get_layer("conv1a").compute_dtype == "bfloat16"
        assert model.get_layer("fc7").output.dtype == "bfloat16"
        assert keras.backend.standardize_dtype(outputs.dtype) == "float32"
        # R(2+1)D: checked symbolically, a forward pass in bfloat16 is slow to compile on JAX.
        resnet = _without_initial_values(r2plus1d, preset="small")
        factorised = resnet.get_layer("stage1_block1_conv1")
        assert factorised.spatial_conv.compute_dtype == "bfloat16"
        assert factorised.temporal_conv.variable_dtype == "float32"
        assert factorised.output.dtype == "bfloat16"
        assert resnet.output.dtype == "float32"
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda builder: builder.__name__)
@pytest.mark.parametrize("input_shape", [(112, 112, 3), (16, 112, 112, 3, 1), (8, 32, 32, 0)])
def test_rejects_input_shapes_that_are_not_one_clip(builder, input_shape):
    with pytest.raises(ValueError, match=r"\(time, height, width, channels\)"):
        builder(input_shape, preset="small")


@pytest.mark.parametrize("input_shape", [(4, 112, 112, 3), (16, 8, 112, 3), (16, 112, 15, 3)])
def test_c3d_rejects_clips_too_small_for_five_poolings(input_shape):
    with pytest.raises(ValueError, match=r"time >= 8, height and width >= 16 \(c3d halves time"):
        c3d(input_shape)


def test_c3d_smallest_clip_and_none_sizes():
    smallest = _without_initial_values(c3d, (8, 16, 16, 3), preset="small")
    assert smallest.get_layer("flatten").output.shape == (None, 64)
    with pytest.raises(ValueError, match="positive int sizes"):
        c3d((None, 32, 32, 3), preset="small")
    resnet = _without_initial_values(r3d, (None, None, None, 3), preset="small")
    assert resnet.output_shape == (None, 8)


@pytest.mark.parametrize("arguments", [{"preset": "huge"}, {"num_classes": 0}, {"filters": (8, 16)}])
def test_c3d_rejects_bad_arguments(arguments):
    with pytest.raises(ValueError):
        c3d(**{"preset": "small", **arguments})


def test_r3d_rejects_mismatched_stages():
    with pytest.raises(ValueError, match="blocks per stage"):
        r3d(preset="small", stage_filters=(8, 16), blocks_per_stage=(2, 2, 2))


def test_a_few_training_steps_reduce_the_loss_of_small_c3d():
    keras.utils.set_random_seed(0)
    videos, labels, class_names = moving_shapes(32, num_frames=8, size=32, seed=0)
    clips = videos.astype("float32") / 255.0
    model = c3d(preset="small", num_classes=len(class_names))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    losses = model.fit(clips, labels, batch_size=16, epochs=8, verbose=0).history["loss"]
    assert losses[-1] < losses[0] - 0.05, np.round(losses, 3)
