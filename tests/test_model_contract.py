"""The contract every registered model keeps, checked for each entry of `videokit.registry`.

A new model family is picked up here as soon as it is registered: it builds at
its ``"small"`` preset with the output its task promises, round-trips through a
``.keras`` file, names its input ``"clips"`` (generators: their latent
inputs), ends a classifier in a float32 ``"predictions"`` layer, trains a
pretraining model on clips alone and resumes it from its file, and answers a
bad preset or a bad clip shape in the one phrasing of
`videokit.models._common`. ``preset=None`` builds the paper configuration.
"""

import functools
import inspect
import pathlib
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

from videokit import registry
from videokit.models.gan import video_of
from videokit.models.videomae import VideoMAE

MODELS = registry.list_models()
ROOT = pathlib.Path(__file__).resolve().parents[1]


def entry_and_builder(name):
    entry = registry.get_model(name)
    return entry, entry.build_function()


@functools.cache
def small_model(name):
    """One small model per name, shared by the tests (building is slow on JAX)."""
    keras.utils.set_random_seed(0)
    return entry_and_builder(name)[1](preset="small")


def random_inputs(model, batch=2):
    rng = np.random.default_rng(0)
    if isinstance(model, VideoMAE):  # a subclassed model: no symbolic input
        return rng.uniform(size=(batch, *model.clip_shape)).astype("float32")
    return keras.tree.map_structure(
        lambda tensor: rng.uniform(size=(batch, *tensor.shape[1:])).astype("float32"), model.input
    )


@pytest.mark.parametrize("name", MODELS)
def test_builder_signature_follows_the_preset_rule(name):
    entry, builder = entry_and_builder(name)
    parameters = inspect.signature(builder).parameters
    first = "output_shape" if entry.task == "generator" else "input_shape"
    assert list(parameters)[0] == first
    assert parameters[first].default is None and parameters["preset"].default is None
    assert parameters["preset"].kind is inspect.Parameter.KEYWORD_ONLY
    if entry.task == "classifier":
        assert list(parameters)[1] == "num_classes" and parameters["num_classes"].default is None
        assert parameters["classifier_activation"].default == "softmax"
        assert parameters["include_top"].default is True
    assert sorted(builder.presets) == sorted(entry.presets), "the registry describes the builder's presets"
    assert all(builder.presets["paper"].keys() == preset.keys() for preset in builder.presets.values())


@pytest.mark.parametrize("name", MODELS)
def test_small_preset_builds_with_the_output_of_its_task(name):
    entry, builder = entry_and_builder(name)
    model = small_model(name)
    small = builder.presets["small"]
    if entry.task == "generator":
        assert video_of(model.output).shape[1:] == small["output_shape"]
        assert all(not tensor.name.startswith("clips") for tensor in keras.tree.flatten(model.input))
        return
    if entry.task == "pretraining":  # clips in, (predicted, target) hidden tubelets out
        assert model.clip_shape == small["input_shape"]
        predicted, targets = model(random_inputs(model))
        assert predicted.shape == targets.shape and predicted.shape[0] == 2
        return
    assert model.input.name == "clips"
    assert model.input_shape[1:] == small["input_shape"]
    if entry.task == "classifier":
        assert model.output_shape == (None, small["num_classes"])
        head = model.get_layer("predictions")
        assert head is model.layers[-1] and head.dtype_policy.compute_dtype == "float32"
    else:
        assert model.output_shape == model.input_shape


@pytest.mark.parametrize("name", MODELS)
def test_keras_file_round_trip_gives_equal_outputs(name, tmp_path):
    model = small_model(name)
    inputs = random_inputs(model)
    path = tmp_path / f"{name}.keras"
    model.predict(inputs, verbose=0)  # built before it is saved
    model.save(path)
    reloaded = keras.saving.load_model(path)
    if registry.get_model(name).task == "pretraining":  # the same random masks in both
        reloaded.seed_generator.state.assign(keras.ops.convert_to_numpy(model.seed_generator.state))
    keras.tree.map_structure(
        lambda expected, got: np.testing.assert_allclose(got, expected, atol=1e-6),
        model.predict(inputs, verbose=0),
        reloaded.predict(inputs, verbose=0),
    )


@pytest.mark.parametrize("name", MODELS)
def test_a_bad_preset_gets_the_one_phrasing(name):
    entry, builder = entry_and_builder(name)
    expected = f"{entry.builder} expects preset to be None or one of {sorted(builder.presets)}; got 'big'."
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        builder(preset="big")


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("shape", [(16, 16, 3), (8, 32, 32, 3, 1), (8, 0, 32, 3)])
def test_a_bad_clip_shape_gets_the_one_phrasing(name, shape):
    entry, builder = entry_and_builder(name)
    argument = "output_shape" if entry.task == "generator" else "input_shape"
    expected = (
        rf"^{entry.builder} expects {argument}=\(time, height, width, channels\), one clip without the "
        rf"batch axis, with .+; got {argument}={re.escape(repr(shape))}\.$"
    )
    with pytest.raises(ValueError, match=expected):
        builder(shape, preset="small")


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_no_preset_means_the_paper_configuration(name):
    entry, builder = entry_and_builder(name)
    with keras.StatelessScope(initialize_variables=False):  # shapes only: no weights drawn
        model = builder()
    keras.backend.clear_session()
    paper = builder.presets["paper"]
    if entry.task == "generator":
        assert video_of(model.output).shape[1:] == paper["output_shape"]
    elif entry.task == "pretraining":
        assert model.clip_shape == paper["input_shape"]
    else:
        assert model.input_shape[1:] == paper["input_shape"]
    if entry.task == "classifier":
        assert model.output_shape == (None, paper["num_classes"])


@pytest.mark.backend_independent
def test_importing_the_registry_imports_no_backend():
    code = (
        "import sys; from videokit import registry, config; registry.list_models();"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow', 'jax', 'torch'));"
        "print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"


def model_table():
    """The README's table of models, as the registry has it."""
    rows = ["| `--model` | task | builder | what it is | presets: `paper` (the default) / `small` |",
            "| --- | --- | --- | --- | --- |"]
    for name in registry.list_models():
        entry = registry.get_model(name)
        rows.append(
            f"| `{name}` | {entry.task} | `{entry.module}.{entry.builder}` | {entry.description} "
            f"| {entry.presets['paper']} / {entry.presets['small']} |"
        )
    return "\n".join(rows)


@pytest.mark.backend_independent
def test_readme_model_table_matches_the_registry():
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- models: start -->\n(.*?)\n<!-- models: end -->", readme, re.S)
    assert found, "README.md needs the model table between <!-- models: start --> and <!-- models: end -->"
    assert found.group(1) == model_table(), "refresh README.md's model table with:\n" + model_table()


@pytest.mark.backend_independent
def test_registry_refuses_bad_entries_and_names():
    with pytest.raises(ValueError, match="^unknown model 'nope'; choose one of cnn_lstm, c3d, "):
        registry.get_model("nope")
    with pytest.raises(ValueError, match="already registered"):
        registry.register_model("c3d", task="classifier", module="m", builder="b",
                                presets={"paper": "p", "small": "s"}, description="d")
    with pytest.raises(ValueError, match="small missing"):
        registry.register_model("new_model", task="classifier", module="m", builder="b",
                                presets={"paper": "p"}, description="d")
    with pytest.raises(ValueError, match="unknown task"):
        registry.list_models("detector")
    assert "new_model" not in registry.list_models()
    assert registry.list_models("classifier") + registry.list_models("predictor") + registry.list_models(
        "generator"
    ) + registry.list_models("pretraining") == MODELS


@pytest.mark.parametrize("name", registry.list_models("pretraining"))
def test_a_pretraining_model_trains_and_resumes_from_its_keras_file(name, tmp_path):
    """Clips without targets: the loss falls within a few steps, and a saved model trains on from its optimizer state."""
    keras.utils.set_random_seed(0)
    model = entry_and_builder(name)[1](preset="small", seed=0)
    clips = random_inputs(model, batch=8)
    model.compile(keras.optimizers.Adam(1e-3))
    losses = model.fit(clips, batch_size=8, epochs=6, verbose=0).history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0], np.round(losses, 4)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert int(reloaded.optimizer.iterations) == 6
    reloaded.fit(clips, batch_size=8, epochs=1, verbose=0)
    assert int(reloaded.optimizer.iterations) == 7
