"""Calls to answers, recorded (phase 0) and replayed (phase 2); shared by the kernel side and the checker.

A test calls an answer (a function, or a model's ``predict`` or ``__call__``)
on inputs it makes. The grader runs every test once on the master's own
answers, in a kernel of the master, and records the arguments of each call:
those are the inputs the sandbox calls the student's answer on. In phase 2
the same test runs again, and each call gets the student's output for the
call made at the same place, after checking that the arguments have the same
`signature` (so a test whose flow differs gets no output that was not meant
for it).
"""

import copy

ANSWER_METHODS = ("__call__", "predict")


def signature(value, depth=0):
    """A short description of the structure of call arguments: shapes and dtypes, small values."""
    import numpy as np

    from videokit.grading.checks import is_model

    if depth > 8:
        return "..."
    if isinstance(value, (list, tuple)):
        inner = ",".join(signature(item, depth + 1) for item in value[:64])
        return f"{type(value).__name__}[{len(value)}]({inner})"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: str(item[0]))[:64]
        return "{" + ",".join(f"{key}:{signature(item, depth + 1)}" for key, item in items) + "}"
    if isinstance(value, np.random.Generator):
        return "rng"
    if is_model(value):
        return "model"
    if isinstance(value, (bool, int, float, str, type(None), np.generic)) and not isinstance(value, np.ndarray):
        text = repr(value.item() if isinstance(value, np.generic) else value)
        return text if len(text) <= 40 else f"{type(value).__name__}"
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        array = np.asarray(value)
        kind = "f" if array.dtype.kind in "fc" else array.dtype.kind
        return f"array{tuple(array.shape)}{kind}"
    return type(value).__name__


class Recorder:
    """Phase 0: the calls a test makes to the master's answers, with their arguments."""

    def __init__(self):
        self.calls = {}  # answer name: [(method, args, kwargs)]

    def wrap(self, name, value):
        from videokit.grading.checks import is_model

        self.calls[name] = []
        if is_model(value):
            return RecordingModel(value, name, self)
        if callable(value):
            return RecordingFunction(value, name, self)
        return value

    def record(self, name, method, args, kwargs):
        from videokit.grading.checks import is_model

        def snapshot(item):
            return item if is_model(item) else copy.deepcopy(item)

        self.calls[name].append((method, [snapshot(arg) for arg in args],
                                 {key: snapshot(arg) for key, arg in kwargs.items()}))


class RecordingFunction:
    def __init__(self, function, name, recorder):
        self._function, self._name, self._recorder = function, name, recorder

    def __call__(self, *args, **kwargs):
        self._recorder.record(self._name, "__call__", args, kwargs)
        return self._function(*args, **kwargs)


def _recording_model_class():
    from videokit.grading.checks import ModelAnswer

    class RecordingModel(ModelAnswer):
        """The master's model, with its ``predict`` and ``__call__`` recorded."""

        def __init__(self, model, name, recorder):
            self._model, self._name, self._recorder = model, name, recorder

        def __getattr__(self, attribute):
            return getattr(self.__dict__["_model"], attribute)

        def predict(self, *args, **kwargs):
            self._recorder.record(self._name, "predict", args, kwargs)
            return self._model.predict(*args, **kwargs)

        def __call__(self, *args, **kwargs):
            self._recorder.record(self._name, "__call__", args, kwargs)
            return self._model(*args, **kwargs)

    return RecordingModel


def RecordingModel(model, name, recorder):  # noqa: N802 (a class made on first use: checks imports nothing)
    return _recording_model_class()(model, name, recorder)


class Replay:
    """Phase 2: an answer's outputs, handed back call by call to the test that asked for them.

    Args:
        name: the answer's name (for messages).
        outputs: the sandbox's outputs, one per recorded call (plain data, or ``plaindata.Error``).
        signatures: the `signature` of each recorded call's arguments.
    """

    def __init__(self, name, outputs, signatures):
        self.name, self.outputs, self.signatures, self.made = name, outputs, signatures, 0

    def __call__(self, *args, **kwargs):
        from videokit.grading.plaindata import Error

        index, self.made = self.made, self.made + 1
        if index >= len(self.signatures) or index >= len(self.outputs):
            raise AssertionError(f"{self.name}: the grader has no answer for this call (call {index + 1})")
        if signature([list(args), kwargs]) != self.signatures[index]:
            raise AssertionError(f"{self.name}: call {index + 1} differs from the calls the grader made")
        output = self.outputs[index]
        if isinstance(output, Error):
            raise RuntimeError(f"{self.name} failed on the grader's input: {output.message}")
        return copy.deepcopy(output)
