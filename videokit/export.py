"""Ship a trained model: SavedModel, ONNX or TFLite (LiteRT), checked by its own runtime.

Keras 3's `keras.Model.export` writes each format (with tf2onnx for ONNX on the
TensorFlow backend); this module adds what a user needs around it. The file is
written beside its destination and moved into place only after the format's own
runtime (TensorFlow for a SavedModel, onnxruntime for ONNX, the LiteRT
interpreter for TFLite) has run it on a clip and given the Keras model's outputs;
an existing file is kept unless ``overwrite`` is asked for; and a model a format
cannot take is refused with one line that says why.
"""

import dataclasses
import pathlib
import shutil
import tempfile
import warnings

import numpy as np

FORMATS = ("savedmodel", "onnx", "tflite")
_KERAS_FORMATS = {"savedmodel": "tf_saved_model", "onnx": "onnx", "tflite": "litert"}
_FILE_NAMES = {"savedmodel": "savedmodel", "onnx": "model.onnx", "tflite": "model.tflite"}
TOLERANCE = 1e-4


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What `export_model` wrote.

    Attributes:
        path: the exported file (a folder for a SavedModel).
        format: one of `FORMATS`.
        max_difference: the largest absolute difference between the exported
            model's outputs, run by its own runtime, and the Keras model's, on
            a random clip.
    """

    path: pathlib.Path
    format: str
    max_difference: float


def default_path(folder, format):
    """Where `export_run` writes ``format`` inside ``folder``: ``savedmodel/``, ``model.onnx`` or ``model.tflite``."""
    return pathlib.Path(folder) / _FILE_NAMES[_check_format(format)]


def export_model(model, path, format, *, overwrite=False, seed=0):
    """Export ``model`` and check it with the format's own runtime.

    Args:
        model: a `keras.Model` taking one clip tensor ``(batch, T, H, W, C)``.
        path: the file to write (a folder for ``"savedmodel"``).
        format: ``"savedmodel"``, ``"onnx"`` or ``"tflite"``.
        overwrite: replace an existing ``path``; otherwise it is an error.
        seed: seed of the random clip the check runs on.

    Returns:
        An `ExportResult`.

    Raises:
        ValueError: an unknown format, a model the format's runtime cannot
            run, or outputs that differ from the Keras model's by more than
            1e-4 (nothing is written then).
        FileExistsError: ``path`` exists and ``overwrite`` is false.

    Example:

    >>> result = export_model(c3d(preset="small"), "c3d.onnx", "onnx")  # doctest: +SKIP
    >>> result.max_difference < 1e-4  # doctest: +SKIP
    True
    """
    format = _check_format(format)
    path = pathlib.Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; choose another --output or pass --overwrite to replace it.")
    clips = np.random.default_rng(seed).random((2, *model.input_shape[1:]), dtype=np.float32)
    expected = np.asarray(model.predict_on_batch(clips), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as folder:
        written = pathlib.Path(folder) / path.name
        _write(model, written, format)
        outputs = _run(written, format, clips)
        difference = float(np.max(np.abs(outputs - expected)))
        if not difference <= TOLERANCE:
            raise ValueError(
                f"{format}: the exported model's outputs differ from the Keras model's by {difference:.2g} "
                f"(more than {TOLERANCE}); nothing was written."
            )
        if path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        written.replace(path)
    return ExportResult(path, format, difference)


def export_run(run_dir, format, *, output=None, overwrite=False):
    """Export the trained model of a ``videokit train`` run (its ``best.keras``).

    Args:
        run_dir: the run directory.
        format: ``"savedmodel"``, ``"onnx"`` or ``"tflite"``.
        output: where to write; by default ``run_dir/export/`` +
            `default_path`'s name.
        overwrite: replace an existing export.

    Returns:
        An `ExportResult`.
    """
    from videokit import registry
    from videokit.training.using import load_run

    config, model = load_run(run_dir)
    task = registry.get_model(config.model).task
    if task not in ("classifier", "predictor"):
        raise ValueError(f"{run_dir}: export takes classifier and predictor runs; {config.model} is a {task}.")
    return export_model(model, output or default_path(pathlib.Path(run_dir) / "export", format), format,
                        overwrite=overwrite)


def _check_format(format):
    if format not in FORMATS:
        raise ValueError(f"export format must be one of {list(FORMATS)}; got {format!r}.")
    return format


def _write(model, path, format):
    try:
        with warnings.catch_warnings():  # the converters' own deprecation notices are not the user's business
            warnings.simplefilter("ignore", FutureWarning)
            model.export(str(path), format=_KERAS_FORMATS[format], verbose=False)
    except ImportError as error:
        raise ValueError(f"{format} export needs a package that is not installed: {error}") from None


def _run(path, format, clips):
    """The exported model's outputs on ``clips``, computed by the format's own runtime."""
    if format == "onnx":
        try:
            import onnxruntime
        except ImportError:
            raise ValueError("checking an ONNX export needs onnxruntime (pip install onnxruntime).") from None
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return np.asarray(session.run(None, {session.get_inputs()[0].name: clips})[0])
    from videokit import tf_support

    if format == "savedmodel":
        return tf_support.run_saved_model(path, clips)
    return tf_support.run_tflite(path, clips)
