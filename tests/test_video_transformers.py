"""ViViT's factorised encoder and TimeSformer: what the contract test does not cover."""

import re

import keras
import numpy as np
import pytest

from videokit import benchmark
from videokit.data import moving_shapes
from videokit.layers import (
    DividedSpaceTimeBlock,
    SpaceTimePositionEmbedding,
    TransformerBlock,
)
from videokit.models import timesformer, vivit


def block_weights(dim, mlp_dim):
    """A pre-norm ViT block: q, k, v and output projections, two layer norms, the MLP."""
    return (
        4 * (dim * dim + dim)
        + 2 * 2 * dim
        + dim * mlp_dim
        + mlp_dim
        + mlp_dim * dim
        + dim
    )


def count_without_drawing_weights(builder, **arguments):
    with keras.StatelessScope(initialize_variables=False):
        count = builder(**arguments).count_params()
    keras.backend.clear_session()
    return count


def test_timesformer_paper_size_matches_the_reference_config():
    # facebook/timesformer-base-finetuned-k400: image_size 224, patch_size 16, num_channels 3,
    # num_frames 8, hidden_size 768, 12 layers, intermediate_size 3072, qkv_bias, 400 labels.
    dim, mlp, frames, patches = 768, 3072, 8, (224 // 16) ** 2
    embeddings = (
        16 * 16 * 3 * dim + dim + dim + (1 + patches) * dim + frames * dim
    )  # patches, cls, space, time
    # Per layer: the ViT block plus temporal_layernorm, temporal_attention and temporal_dense.
    layer = block_weights(dim, mlp) + 2 * dim + 4 * (dim * dim + dim) + dim * dim + dim
    expected = embeddings + 12 * layer + 2 * dim + dim * 400 + 400
    assert expected == 121_566_352
    assert count_without_drawing_weights(timesformer) == expected


def test_vivit_paper_size_matches_the_scenic_config():
    # Scenic's kinetics400/vivit_base_factorised_encoder.py: 32 frames of 224, patches 16x16x2,
    # hidden 768, 12 spatial and 4 temporal layers of 12 heads, MLP 3072, classifier "token".
    dim, mlp = 768, 3072
    tubelets = 2 * 16 * 16 * 3 * dim + dim
    spatial = dim + (1 + 14 * 14) * dim + 12 * block_weights(dim, mlp) + 2 * dim
    temporal = dim + (1 + 16) * dim + 4 * block_weights(dim, mlp) + 2 * dim
    expected = tubelets + spatial + temporal + dim * 400 + 400
    assert expected == 115_062_928
    assert count_without_drawing_weights(vivit) == expected


def test_timesformer_is_divided_attention_over_separable_positions():
    model = timesformer(preset="small", depth=1)
    blocks = [
        layer for layer in model.layers if isinstance(layer, DividedSpaceTimeBlock)
    ]
    assert len(blocks) == 1 and blocks[0].num_frames == 8
    positions = model.get_layer("position_embedding")
    assert positions.mode == "separable" and (
        positions.num_frames,
        positions.num_patches,
    ) == (8, 16)
    assert positions.class_token


def test_vivit_encodes_each_time_step_apart_before_the_temporal_encoder():
    """The factorised encoder: the spatial encoder's output for a time step depends on its frames only."""
    model = vivit(preset="small")
    spatial = keras.Model(model.input, model.get_layer("spatial").output)
    assert spatial.output_shape == (None, 4, 32)  # 8 frames in 2-frame tubelets
    assert (
        len([layer for layer in model.layers if isinstance(layer, TransformerBlock)])
        == 2
    )
    clips = np.random.default_rng(0).uniform(size=(1, 8, 32, 32, 3)).astype("float32")
    changed = clips.copy()
    changed[:, 2:] = 0.0  # every frame after the first time step
    before, after = (
        spatial.predict(clips, verbose=0),
        spatial.predict(changed, verbose=0),
    )
    np.testing.assert_allclose(after[:, 0], before[:, 0], atol=1e-5)
    assert np.abs(after[:, 1:] - before[:, 1:]).min() > 0
    positions = model.get_layer("temporal_positions")
    assert (
        isinstance(positions, SpaceTimePositionEmbedding) and positions.num_frames == 4
    )


@pytest.mark.parametrize("builder, tokens", [(timesformer, 1 + 8 * 16), (vivit, 1 + 4)])
def test_features_without_the_top(builder, tokens):
    assert builder(preset="small", include_top=False).output_shape == (None, tokens, 32)
    assert builder(preset="small", include_top=False, pooling="avg").output_shape == (
        None,
        32,
    )


@pytest.mark.parametrize(
    "builder, shape, requirement",
    [
        (timesformer, (8, 30, 32, 3), "time, height and width multiples of 1, 8 and 8"),
        (vivit, (7, 32, 32, 3), "time, height and width multiples of 2, 8 and 8"),
    ],
)
def test_clips_the_tubelets_do_not_tile_get_the_one_phrasing(
    builder, shape, requirement
):
    name = builder.__name__
    with pytest.raises(
        ValueError,
        match=rf"^{name} expects input_shape=\(time, height, width, channels\), .*{requirement}.*; got input_shape={re.escape(repr(shape))}\.$",
    ):
        builder(shape, preset="small")


@pytest.mark.slow
@pytest.mark.parametrize("builder", [timesformer, vivit])
def test_small_preset_fits_a_few_clips_well_above_chance(builder):
    """Training works end to end: 32 clips of 8 classes are fitted above chance (1/8)."""
    keras.utils.set_random_seed(0)
    videos, labels, _ = moving_shapes(32, num_frames=8, size=32, seed=0)
    clips = videos.astype("float32") / 255.0
    model = builder(preset="small")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    # ViViT's small preset stays near chance for its first few dozen steps, and how long depends on the
    # backend's random streams: 40 epochs were enough on TensorFlow and JAX but not on torch (seed 0).
    model.fit(clips, labels, batch_size=8, epochs=80, verbose=0)
    loss, accuracy = model.evaluate(clips, labels, verbose=0)
    assert loss < np.log(8) - 0.3 and accuracy >= 0.25, (loss, accuracy)


@pytest.mark.parametrize(
    "builder, published",
    [
        (
            timesformer,
            196e9,
        ),  # Bertasius et al. 2021, table 1: divided space-time, 0.59 TFLOPs for 3 views
        (vivit, 284e9),  # Arnab et al. 2021, table 1: factorised encoder, 284 GFLOPs
    ],
)
def test_paper_multiply_adds_match_the_published_flops(builder, published):
    with keras.StatelessScope(initialize_variables=False):
        macs = benchmark.count_macs(builder())
    keras.backend.clear_session()
    assert abs(macs - published) / published < 0.01, macs
