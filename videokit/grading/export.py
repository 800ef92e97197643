"""Kernel side of phases 0 and 1: the calls recorded on the master, the answers exported from a submission.

Both run as the last cell of a notebook executed by the worker (``worker.py``):

* `record_tests` (phase 0, a kernel of the **master**, trusted): runs every
  test of the master on the master's answers, records the arguments of each
  call to an answer (`calls.Recorder`), and writes ``inputs.npz`` (the calls'
  arguments: what the sandbox will need) and ``given.npz`` (the values the
  tests take from the notebook that are not answers, e.g. validation clips,
  and the calls' signatures: what only phase 2 reads).
* `export_answers` (phase 1, a kernel of the **submission**, in the sandbox,
  not trusted): calls the student's answers on the recorded inputs and writes
  ``answers.npz``: values, outputs, and for models their config, weights and
  outputs, as plain data (``plaindata.py``). Expected values are not there to read.
"""

import signal
import time
import traceback

from videokit.grading import plaindata
from videokit.grading.calls import Recorder, signature


def _read(path):
    with open(path, "rb") as file:
        return file.read()


def _write(path, data):
    with open(path, "wb") as file:
        file.write(data)


class _TimeLimit:
    """Raises TimeoutError in the code it runs once `seconds` (for all the calls of one test) are spent."""

    def __init__(self, seconds):
        self.deadline = time.monotonic() + seconds

    def left(self):
        return self.deadline - time.monotonic()

    def run(self, function, *args, **kwargs):
        left = self.left()
        if left <= 0:
            raise TimeoutError("over the time limit of the test's calls")

        def on_alarm(signum, frame):
            raise TimeoutError("over the time limit of the test's calls")

        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, left)
        try:
            return function(*args, **kwargs)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)


# --------------------------------------------------------------------------- phase 0: the master


def record_tests(tests, answers, folder, environment, timeout):
    """Runs the master's tests on its answers; writes ``inputs.npz`` and ``given.npz`` to `folder`.

    Args:
        tests: ``[{"question", "name", "source", "params"}]`` from ``masters.test_cells``.
        answers: names the master's solution cells define (the rest of a test's parameters are given).
        folder: where the two files go.
        environment: the master's globals after its cells ran.
        timeout: seconds for each test.
    """
    inputs, checks, given = [], [], {}
    for test in tests:
        recorder, arguments, message = Recorder(), {}, ""
        for name in test["params"]:
            if name not in environment:
                message = f"the master defines no {name}"
                break
            value = environment[name]
            if name in answers:
                arguments[name] = recorder.wrap(name, value)
            else:
                arguments[name] = given[name] = value
        if not message:
            namespace = {"__name__": "videokit_grading_test"}
            try:
                exec(compile(test["source"], f"<{test['name']}>", "exec"), namespace)
                _TimeLimit(timeout).run(namespace[test["name"]], **arguments)
            except BaseException as error:  # the master fails its own test: every submission will
                message = f"the master fails this test: {type(error).__name__}: {error}"[:1000]
                traceback.print_exc()
        kinds = {name: _kind(environment.get(name)) for name in recorder.calls}
        inputs.append({"question": test["question"], "name": test["name"], "answers": {
            name: {"kind": kinds[name], "calls": [[method, args, kwargs] for method, args, kwargs in calls]}
            for name, calls in recorder.calls.items()}})
        checks.append({"question": test["question"], "name": test["name"], "kinds": kinds, "failure": message,
                       "signatures": {name: [[method, signature([args, kwargs])] for method, args, kwargs in calls]
                                      for name, calls in recorder.calls.items()}})
    _write(f"{folder}/inputs.npz", plaindata.encode({"tests": inputs}, models=plaindata.keras_model_parts))
    _write(f"{folder}/given.npz", plaindata.encode({"given": given, "tests": checks},
                                                   models=plaindata.keras_model_parts))


def _kind(value):
    from videokit.grading.checks import is_model

    return "model" if is_model(value) else "function" if callable(value) else "value"


# --------------------------------------------------------------------------- phase 1: a submission


def export_answers(inputs_path, answers_path, environment, timeout):
    """Exports the submission's answers for every test as plain data to `answers_path`.

    Never raises for anything the student's objects do: a missing name, a
    call that raises or runs out of time, an output that is not plain data
    become ``plaindata.Error`` values, which fail the tests that need them.
    """
    plan = plaindata.decode(_read(inputs_path), trusted=True)
    exported = {"tests": [], "models": {}}
    for test in plan["tests"]:
        limit, answers = _TimeLimit(timeout), {}
        for name, spec in test["answers"].items():
            try:
                answers[name] = _export(name, spec, environment, limit, exported["models"])
            except BaseException as error:  # whatever an answer does while it is looked at
                answers[name] = {"error": plaindata.Error(_describe(error))}
        exported["tests"].append({"question": test["question"], "name": test["name"], "answers": answers})
    _write(answers_path, plaindata.encode(exported))


def _export(name, spec, environment, limit, models):
    if name not in environment:
        return {"error": plaindata.Error(f"name '{name}' is not defined")}
    value = environment[name]
    if spec["kind"] == "value":
        return {"value": _plain(value)}
    if spec["kind"] == "model":
        import keras

        if not isinstance(value, keras.Model):
            return {"error": plaindata.Error(f"{name} is not a keras.Model")}
        if name not in models:
            models[name] = _plain(_model_summary(value))
        targets = {"predict": value.predict, "__call__": value}
    elif not callable(value):
        return {"error": plaindata.Error(f"{name} is not callable")}
    else:
        targets = {"__call__": value}
    outputs = []
    for method, args, kwargs in spec["calls"]:
        try:
            outputs.append(_plain(limit.run(targets[method], *args, **kwargs)))
        except BaseException as error:  # the student's code failed on this input; the next input is tried
            outputs.append(plaindata.Error(_describe(error)))
    return {"outputs": outputs}


def _describe(error):
    try:
        return f"{type(error).__name__}: {error}"[:300]
    except BaseException:
        return "an exception that cannot be printed"


def _plain(value):
    """`value` when `plaindata.encode` takes it, else an `Error`."""
    try:
        plaindata.encode(value)
    except BaseException as error:  # the student's object, looked at
        return plaindata.Error(f"not plain data ({_describe(error)})")
    return value


def _plain_config(layer):
    try:
        config = layer.get_config()
    except BaseException:
        return {}
    return {key: item for key, item in config.items() if key != "layers" and not isinstance(_plain(item), plaindata.Error)}


def _layer_summary(layer, depth=0):
    inner = getattr(layer, "layers", None) if depth < 8 else None
    return {"name": str(layer.name), "class_name": type(layer).__name__, "config": _plain_config(layer),
            "layers": [_layer_summary(item, depth + 1) for item in inner] if isinstance(inner, list) else []}


def _model_summary(model):
    import numpy as np

    summary = _layer_summary(model)
    for key in ("input_shape", "output_shape"):
        try:
            summary[key] = _plain(getattr(model, key))
        except BaseException:
            summary[key] = None
    summary["weights"] = [np.asarray(weight) for weight in model.get_weights()]
    return summary
