"""Start a run from weights a user already has: another run, or a `.keras` file; optionally freeze them.

Keras-io's transfer-learning recipe, for videokit's runs: every layer of the new
model whose name and weight shapes match a layer of the source takes its
weights; the rest (typically the ``"predictions"`` head, when the classes
differ) keeps its fresh initialisation, and the run says which. Freezing the
backbone trains only the head; a later run (``--init-from`` the frozen one)
can then fine-tune everything at a lower learning rate.
"""

import pathlib

import keras

FREEZE = ("none", "backbone")
HEAD = "predictions"


def source_model(source):
    """The model weights are taken from: a run directory's trained model, or a ``.keras`` file."""
    path = pathlib.Path(source)
    if path.is_dir():
        from videokit.training.using import load_run

        return load_run(path)[1]
    if path.suffix == ".keras" and path.is_file():
        try:
            return keras.saving.load_model(path, compile=False)
        except Exception as error:  # a damaged or foreign file: one line, naming it
            raise ValueError(f"{path}: cannot be loaded as a Keras model ({type(error).__name__}: {error}).") from None
    raise ValueError(f"--init-from expects a videokit run directory or a .keras file; {source} is neither.")


def initialise_from(model, source):
    """Copy into ``model`` the weights of every layer of ``source`` with the same name and weight shapes.

    Args:
        model: the new model (built).
        source: a `keras.Model`, a run directory or a ``.keras`` file.

    Returns:
        ``(copied, skipped)``: the names of the layers that took the
        source's weights, and ``{name: why}`` for the layers with weights that
        did not.

    Example:

    >>> copied, skipped = initialise_from(c3d(num_classes=5, preset="small"), "runs/c3d")  # doctest: +SKIP
    >>> skipped  # doctest: +SKIP
    {'predictions': 'shapes (128, 5), (5,) here, (128, 8), (8,) in the source'}
    """
    source = source if isinstance(source, keras.Model) else source_model(source)
    available = {layer.name: layer for layer in source.layers}
    copied, skipped = [], {}
    for layer in model.layers:
        if not layer.weights:
            continue
        other = available.get(layer.name)
        if other is None:
            skipped[layer.name] = "not in the source"
            continue
        shapes, other_shapes = _shapes(layer), _shapes(other)
        if shapes != other_shapes:
            skipped[layer.name] = f"shapes {_describe(shapes)} here, {_describe(other_shapes)} in the source"
            continue
        layer.set_weights(other.get_weights())
        copied.append(layer.name)
    if not copied:
        raise ValueError("--init-from: no layer of the source matches the model by name and weight shapes; "
                         "is it the same model family?")
    return copied, skipped


def freeze(model, what):
    """Freeze ``"backbone"`` (every layer but the ``"predictions"`` head) or nothing; recompiles ``model``.

    Returns:
        The number of weights left trainable.
    """
    if what not in FREEZE:
        raise ValueError(f"--freeze expects one of {', '.join(FREEZE)}; got {what!r}.")
    if what == "none":
        return sum(int(keras.ops.size(weight)) for weight in model.trainable_weights)
    if HEAD not in [layer.name for layer in model.layers]:
        raise ValueError(f"--freeze backbone needs a classifier head named {HEAD!r}; {model.name} has none.")
    compile_config = model.get_compile_config()
    for layer in model.layers:
        layer.trainable = layer.name == HEAD
    model.compile_from_config(compile_config)  # trainability is read when the training step is built
    return sum(int(keras.ops.size(weight)) for weight in model.trainable_weights)


def _shapes(layer):
    return [tuple(weight.shape) for weight in layer.weights]


def _describe(shapes):
    return ", ".join(str(shape) for shape in shapes)
