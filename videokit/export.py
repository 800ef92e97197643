"""Ship a trained model: SavedModel, ONNX or TFLite (LiteRT), checked by its own runtime.

Keras 3's `keras.Model.export` writes each format (with tf2onnx for ONNX on the
TensorFlow backend); this module adds what a user needs around it. The file is
written beside its destination and moved into place only after the format's own
runtime (TensorFlow for a SavedModel, onnxruntime for ONNX, the LiteRT
interpreter for TFLite) has run it on a clip and given the Keras model's outputs;
an existing file is kept unless ``overwrite`` is asked for; and a model a format
cannot take is refused with one line that says why.

A causal model (`videokit.models.stream` runs it) can be exported as its step
function instead (``streaming=True``): one frame and the states in, the output
and the new states out, every tensor at most 4-D and no 3D operation, so that
LiteRT takes it too. The check then streams a clip through the exported step in
its runtime, carrying the states, and compares every frame's output with the
Keras stream's.
"""

import contextlib
import dataclasses
import io
import pathlib
import shutil
import tempfile
import warnings

import numpy as np

FORMATS = ("savedmodel", "onnx", "tflite")
_KERAS_FORMATS = {"savedmodel": "tf_saved_model", "onnx": "onnx", "tflite": "litert"}
_FILE_NAMES = {"savedmodel": "savedmodel", "onnx": "model.onnx", "tflite": "model.tflite"}
_STEP_FILE_NAMES = {"savedmodel": "step_savedmodel", "onnx": "step.onnx", "tflite": "step.tflite"}
TOLERANCE = 1e-4


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What `export_model` wrote.

    Attributes:
        path: the exported file (a folder for a SavedModel).
        format: one of `FORMATS`.
        max_difference: the largest absolute difference between the exported
            model's outputs, run by its own runtime, and the Keras model's, on
            a random clip (streaming: on every frame of a streamed clip).
        streaming: whether the step function was exported.
        state_shapes: streaming only: the shapes of the states without the
            batch axis, inputs ``state0, state1, ...`` of the step after
            ``frame``, zeros at the start of a stream.
    """

    path: pathlib.Path
    format: str
    max_difference: float
    streaming: bool = False
    state_shapes: tuple = ()


def default_path(folder, format, *, streaming=False):
    """Where `export_run` writes ``format`` inside ``folder``: ``savedmodel/``, ``model.onnx`` or ``model.tflite``;
    with ``streaming``, ``step_savedmodel/``, ``step.onnx`` or ``step.tflite``."""
    return pathlib.Path(folder) / (_STEP_FILE_NAMES if streaming else _FILE_NAMES)[_check_format(format)]


def export_model(model, path, format, *, overwrite=False, seed=0, streaming=False):
    """Export ``model`` and check it with the format's own runtime.

    Args:
        model: a `keras.Model` taking one clip tensor ``(batch, T, H, W, C)``.
        path: the file to write (a folder for ``"savedmodel"``).
        format: ``"savedmodel"``, ``"onnx"`` or ``"tflite"``.
        overwrite: replace an existing ``path``; otherwise it is an error.
        seed: seed of the random clip the check runs on.
        streaming: export the step function of a causal model (see
            `videokit.models.streaming.step_model`) instead of the model:
            inputs ``frame`` ``(batch, height, width, channels)`` and
            ``state0, state1, ...``, outputs the model's output for that frame
            and the new states, in the same order.

    Returns:
        An `ExportResult`.

    Raises:
        ValueError: an unknown format, a model the format's runtime cannot
            run, a model that cannot stream (with ``streaming``), or outputs that differ from the Keras model's by more than
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
    if streaming:
        live = _stream_of(model)
        exported, state_shapes = live.step_model, live.state_shapes
        clips = np.random.default_rng(seed).random((1, model.input_shape[1] or 8, *model.input_shape[2:]),
                                                   dtype=np.float32)
        expected = np.asarray(live.run(clips), dtype=np.float32)
        exported([clips[:, 0], *(np.zeros((1, *shape), np.float32) for shape in state_shapes)])  # export needs a call
    else:
        exported, state_shapes = model, ()
        clips = np.random.default_rng(seed).random((2, *model.input_shape[1:]), dtype=np.float32)
        expected = np.asarray(model.predict_on_batch(clips), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as folder:
        written = pathlib.Path(folder) / path.name
        _write(exported, written, format)
        if streaming:
            outputs = stream_exported(step_runner(written, format), state_shapes, clips)
        else:
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
    return ExportResult(path, format, difference, streaming, tuple(state_shapes))


def step_runner(path, format):
    """The exported step function at ``path``, run by its format's own runtime.

    Args:
        path: a step exported by `export_model` with ``streaming=True``.
        format: its format.

    Returns:
        A function ``run(frame, states) -> (output, new_states)`` on NumPy arrays.
    """
    if format == "onnx":
        try:
            import onnxruntime
        except ImportError:
            raise ValueError("checking an ONNX export needs onnxruntime (pip install onnxruntime).") from None
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

        def run_onnx(frame, states):
            output, *new_states = session.run(None, _step_feed(frame, states))
            return output, new_states

        return run_onnx
    from videokit import tf_support

    run = (tf_support.saved_model_signature if format == "savedmodel" else tf_support.tflite_signature)(path)

    def run_signature(frame, states):
        results = run(_step_feed(frame, states))  # {"output_0": ..., "output_1": ...}
        output, *new_states = (results[f"output_{index}"] for index in range(len(results)))
        return np.asarray(output), [np.asarray(state) for state in new_states]

    return run_signature


def stream_exported(run, state_shapes, clips):
    """Every frame's output of an exported step run over ``clips`` ``(batch, time, ...)``, states carried."""
    states = [np.zeros((clips.shape[0], *shape), np.float32) for shape in state_shapes]
    outputs = []
    for t in range(clips.shape[1]):
        output, states = run(clips[:, t], states)
        outputs.append(output)
    return np.stack(outputs, axis=1)


def _step_feed(frame, states):
    return {"frame": np.asarray(frame, np.float32), **{f"state{index}": state for index, state in enumerate(states)}}


def _stream_of(model):
    from videokit.models.streaming import CAUSAL_CLASSIFIERS, stream

    try:
        return stream(model)
    except ValueError as error:
        raise ValueError(
            f"--streaming exports the step of a causal model, and {model.name} is not one ({error}); the registered "
            f"causal classifiers are: {', '.join(CAUSAL_CLASSIFIERS)}."
        ) from None


def export_run(run_dir, format, *, output=None, overwrite=False, streaming=False):
    """Export the trained model of a ``videokit train`` run (its ``best.keras``).

    Args:
        run_dir: the run directory.
        format: ``"savedmodel"``, ``"onnx"`` or ``"tflite"``.
        output: where to write; by default ``run_dir/export/`` +
            `default_path`'s name.
        overwrite: replace an existing export.
        streaming: export the step function of a causal model (see
            `export_model`).

    Returns:
        An `ExportResult`.
    """
    from videokit import registry
    from videokit.training.using import load_run

    config, model = load_run(run_dir)
    task = registry.get_model(config.model).task
    if task not in ("classifier", "predictor"):
        raise ValueError(f"{run_dir}: export takes classifier and predictor runs; {config.model} is a {task}.")
    path = output or default_path(pathlib.Path(run_dir) / "export", format, streaming=streaming)
    return export_model(model, path, format, overwrite=overwrite, streaming=streaming)


def _check_format(format):
    if format not in FORMATS:
        raise ValueError(f"export format must be one of {list(FORMATS)}; got {format!r}.")
    return format


def _write(model, path, format):
    try:
        # The converters' deprecation notices and the lines some Keras releases print despite verbose=False
        # (3.13's LiteRT export: "Saved artifact at ...") are not the user's business.
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
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
