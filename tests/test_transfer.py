"""Starting from other weights (--init-from) and freezing the backbone (--freeze backbone)."""

import keras
import numpy as np
import pytest

from videokit.config import RunConfig
from videokit.models import c3d
from videokit.training import train, transfer

CLIPS = np.random.default_rng(0).random((4, 8, 32, 32, 3), dtype=np.float32)


def small_c3d(num_classes, seed):
    keras.utils.set_random_seed(seed)
    model = c3d(num_classes=num_classes, preset="small")
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def test_matching_layers_take_the_source_weights_and_a_new_head_starts_fresh():
    source, model = small_c3d(8, seed=1), small_c3d(5, seed=2)
    fresh_head = [w.copy() for w in model.get_layer("predictions").get_weights()]
    copied, skipped = transfer.initialise_from(model, source)
    assert "conv1a" in copied and "fc6" in copied and list(skipped) == ["predictions"]
    assert "(128, 5), (5,) here, (128, 8), (8,) in the source" in skipped["predictions"]
    for name in copied:
        for mine, theirs in zip(model.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(mine, theirs)
    for mine, fresh in zip(model.get_layer("predictions").get_weights(), fresh_head):
        np.testing.assert_array_equal(mine, fresh)


def test_a_frozen_backbone_does_not_move_in_training_and_the_head_does():
    model = small_c3d(5, seed=3)
    before = {layer.name: [w.copy() for w in layer.get_weights()] for layer in model.layers if layer.weights}
    trainable = transfer.freeze(model, "backbone")
    assert trainable == 128 * 5 + 5
    model.fit(CLIPS, np.arange(4) % 5, epochs=2, verbose=0)
    for layer in model.layers:
        if layer.weights:
            unchanged = all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), before[layer.name]))
            assert unchanged == (layer.name != "predictions"), layer.name


def test_unusable_sources_are_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no layer of the source matches"):
        transfer.initialise_from(small_c3d(5, seed=0), keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))
    (tmp_path / "broken.keras").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="broken.keras: cannot be loaded as a Keras model"):
        transfer.source_model(tmp_path / "broken.keras")
    with pytest.raises(ValueError, match="no such run directory or .keras file"):
        RunConfig(model="c3d", init_from=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="unknown freeze 'all'"):
        RunConfig(model="c3d", freeze="all")


@pytest.mark.slow  # two short training runs
def test_a_run_starts_from_another_runs_weights(tmp_path, capsys):
    options = dict(model="c3d", epochs=1, samples=32, clip=(8, 32, 32), batch_size=8)
    train(RunConfig(**options), tmp_path / "first", verbose=0)
    train(RunConfig(**options, init_from=str(tmp_path / "first"), freeze="backbone"), tmp_path / "second", verbose=0)
    printed = capsys.readouterr().out
    assert f"weights from {tmp_path / 'first'}: 11 of 11 layers" in printed
    assert "backbone frozen: 1,032 weights left to train" in printed
    first = keras.saving.load_model(tmp_path / "first" / "best.keras")
    second = keras.saving.load_model(tmp_path / "second" / "best.keras")
    np.testing.assert_array_equal(second.get_layer("conv1a").get_weights()[0], first.get_layer("conv1a").get_weights()[0])
    assert not second.get_layer("conv1a").trainable  # the frozen backbone stays frozen in the checkpoint
