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


def weights_by_layer(model):
    return {layer.name: [np.array(w) for w in layer.get_weights()] for layer in model.layers if layer.weights}


def tiny_classifier(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((4, 8, 8, 3)), keras.layers.Conv3D(4, 3, name="conv"),
                             keras.layers.GlobalAveragePooling3D(), keras.layers.Dense(6, name="hidden"),
                             keras.layers.Dense(5, activation="softmax", name="predictions")])


def one_step(backbone_lr_scale):
    model = tiny_classifier(4)
    model.compile(transfer.DiscriminativeAdam(1e-2, backbone_lr_scale=backbone_lr_scale),
                  "sparse_categorical_crossentropy")
    before = weights_by_layer(model)
    model.train_on_batch(CLIPS[:, :4, :8, :8], np.arange(4) % 5)
    after = weights_by_layer(model)
    return {name: [b - a for a, b in zip(before[name], after[name])] for name in before}


def test_discriminative_rates_scale_the_backbones_updates_and_not_the_heads():
    full, tenth, none = one_step(1.0), one_step(0.1), one_step(0.0)
    for name in full:
        for step, scaled, still in zip(full[name], tenth[name], none[name]):
            if name == "predictions":
                np.testing.assert_allclose(scaled, step, rtol=1e-4, atol=1e-7)
                np.testing.assert_allclose(still, step, rtol=1e-4, atol=1e-7)
                assert np.abs(step).max() > 0
            else:  # Adam's first step is lr * g / (|g| + eps): scaling the rate scales the step exactly
                np.testing.assert_allclose(scaled, 0.1 * step, rtol=1e-3, atol=1e-7)
                np.testing.assert_array_equal(still, 0.0)


def test_with_scale_zero_the_backbone_stays_through_fit_and_a_saved_file(tmp_path):
    model = tiny_classifier(5)
    model.compile(transfer.optimizer(1e-2, backbone_lr_scale=0.0), "sparse_categorical_crossentropy")
    before = weights_by_layer(model)
    model.fit(CLIPS[:, :4, :8, :8], np.arange(4) % 5, epochs=2, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.optimizer.get_config()["backbone_lr_scale"] == 0.0
    loaded.fit(CLIPS[:, :4, :8, :8], np.arange(4) % 5, epochs=1, verbose=0)
    for name, weights in weights_by_layer(loaded).items():
        moved = any(not np.array_equal(a, b) for a, b in zip(weights, before[name]))
        assert moved == (name == "predictions"), name
    with pytest.raises(ValueError, match="backbone_lr_scale >= 0"):
        transfer.DiscriminativeAdam(backbone_lr_scale=-1)
    with pytest.raises(ValueError, match="--unfreeze-after N .* goes with --freeze backbone"):
        RunConfig(model="c3d", unfreeze_after=2)


@pytest.mark.slow  # three short training runs
def test_the_backbone_moves_only_after_unfreezing_and_a_resumed_run_unfreezes_it(tmp_path, capsys):
    import json

    options = dict(model="c3d", samples=32, clip=(8, 32, 32), batch_size=8)
    train(RunConfig(**options, epochs=1), tmp_path / "source", verbose=0)
    source = weights_by_layer(keras.saving.load_model(tmp_path / "source" / "best.keras"))
    tuned = RunConfig(**options, epochs=1, init_from=str(tmp_path / "source"), freeze="backbone", unfreeze_after=1,
                      backbone_lr_scale=0.5)
    train(tuned, tmp_path / "tuned", verbose=0)
    state = json.loads((tmp_path / "tuned" / "state.json").read_text())
    assert state["epochs_done"] == 1 and state["frozen"] == "backbone"
    first = weights_by_layer(keras.saving.load_model(tmp_path / "tuned" / "last.keras"))
    np.testing.assert_array_equal(first["conv1a"][0], source["conv1a"][0])  # frozen for epoch 1
    assert not np.array_equal(first["predictions"][0], source["predictions"][0])

    tuned.epochs = 2
    train(tuned, tmp_path / "tuned", resume=True, verbose=0)
    assert "epoch 2: backbone unfrozen" in capsys.readouterr().out
    state = json.loads((tmp_path / "tuned" / "state.json").read_text())
    assert state["epochs_done"] == 2 and state["frozen"] == "none"
    second = keras.saving.load_model(tmp_path / "tuned" / "last.keras")
    assert second.get_layer("conv1a").trainable and second.optimizer.get_config()["backbone_lr_scale"] == 0.5
    assert not np.array_equal(second.get_layer("conv1a").get_weights()[0], source["conv1a"][0])

    train(RunConfig(**options, epochs=3, init_from=str(tmp_path / "source"), freeze="backbone", unfreeze_after=1),
          tmp_path / "straight", verbose=0)  # the same in one run: unfrozen between its epochs 1 and 2
    assert "epoch 2: backbone unfrozen" in capsys.readouterr().out
    assert json.loads((tmp_path / "straight" / "state.json").read_text())["frozen"] == "none"


def test_the_preset_is_one_the_model_has():
    assert RunConfig(model="r3d", preset="torchvision").preset == "torchvision"
    with pytest.raises(ValueError, match="c3d has the presets paper, small; got preset 'torchvision'"):
        RunConfig(model="c3d", preset="torchvision")


@pytest.mark.slow  # two full-width R3D-18s
def test_weights_imported_in_torchvisions_layout_fill_every_layer_of_a_torchvision_preset_model():
    from videokit.models import r3d

    def torchvision_r3d(seed):
        keras.utils.set_random_seed(seed)
        return r3d(input_shape=(4, 32, 32, 3), num_classes=5, preset="torchvision")

    imported, model = torchvision_r3d(1), torchvision_r3d(2)
    copied, skipped = transfer.initialise_from(model, imported)
    assert not skipped and "stem_conv" in copied and "predictions" in copied
    clips = CLIPS[:, :4]
    np.testing.assert_allclose(model.predict(clips, verbose=0), imported.predict(clips, verbose=0), atol=1e-6)
