"""Plain data across the sandbox's wall: one ``.npz`` file, a JSON document and NumPy arrays.

The only format that crosses the sandbox, both ways: the test inputs the
grader hands in (``plan.npz``) and the answers the sandbox hands back
(``answers.npz``). The file is a NumPy ``.npz`` archive read with
``allow_pickle=False``; its entry ``__json__`` holds a UTF-8 JSON document
whose values are ``null``, booleans, numbers, strings, lists and objects,
plus a few tagged objects of one key:

* ``{"__array__": "a3"}``: the array ``a3`` of the archive (bool, int, uint, float, complex or str dtype);
  a 0-d array stands for a NumPy scalar;
* ``{"__tuple__": [...]}``, ``{"__items__": [[key, value], ...]}`` (a dict with keys that are not strings);
* ``{"__error__": "text"}``: a call that raised, or a value that could not be exported;
* ``{"__rng__": state}``: a ``numpy.random.Generator`` by its bit generator's state (test inputs only);
* ``{"__keras_model__": config, "weights": [...]}``: a Keras model by its config and weights
  (test inputs only, rebuilt inside the sandbox; never read by the trusted side).

`encode` runs on both sides; `decode` is what the trusted side uses on the
sandbox's file: it checks sizes before it reads, accepts nothing else, and
raises `InvalidData` for anything out of shape. Imports NumPy only.
"""

import io
import json
import zipfile

import numpy as np

JSON_ENTRY = "__json__"
MAX_DEPTH = 32
MAX_NODES = 2_000_000
MAX_UNPACKED_BYTES = 512 * 2**20
MAX_ARRAY_BYTES = 32 * 2**20  # one array; larger ones are not written (an answer that big is wrong)
_ARRAY_KINDS = "biufcU"  # no objects, no raw bytes or records, no dates


class InvalidData(ValueError):
    """The sandbox's file is not plain data of the expected shape."""


class Error:
    """A value that stands for a failure (a call that raised, an answer that could not be exported)."""

    def __init__(self, message):
        self.message = str(message)[:500]

    def __repr__(self):
        return f"Error({self.message!r})"


# --------------------------------------------------------------------------- writing


class _Writer:
    def __init__(self, models):
        self.arrays, self.models = {}, models

    def array(self, value):
        value = np.asarray(value)
        if value.dtype.kind not in _ARRAY_KINDS:
            raise TypeError(f"an array of dtype {value.dtype}")
        if value.nbytes > MAX_ARRAY_BYTES:
            raise TypeError(f"an array of {value.nbytes:,} bytes, over the limit of {MAX_ARRAY_BYTES:,}")
        name = f"a{len(self.arrays)}"
        self.arrays[name] = value if value.flags.c_contiguous else value.copy(order="C")  # 0-d stays 0-d
        return {"__array__": name}

    def value(self, value, depth=0):
        if depth > MAX_DEPTH:
            raise TypeError("nested too deep")
        kind = type(value)
        if value is None or kind in (bool, str):
            return value
        if kind is int:
            return value if abs(value) < 2**63 else float(value)
        if kind is float:
            return value
        if kind in (list, tuple):
            items = [self.value(item, depth + 1) for item in value]
            return items if kind is list else {"__tuple__": items}
        if kind is dict:
            if all(type(key) is str and not key.startswith("__") for key in value):
                return {key: self.value(item, depth + 1) for key, item in value.items()}
            return {"__items__": [[self.value(key, depth + 1), self.value(item, depth + 1)] for key, item in value.items()]}
        if kind is Error:
            return {"__error__": value.message}
        if isinstance(value, (np.ndarray, np.generic)):
            return self.array(value)
        if kind is np.random.Generator:
            return {"__rng__": _plain_state(value.bit_generator.state)}
        if self.models is not None:
            encoded = self.models(value)
            if encoded is not None:
                return {"__keras_model__": encoded[0], "weights": [self.array(weight) for weight in encoded[1]]}
        if hasattr(value, "__array__") and type(value).__module__.split(".")[0] in ("tensorflow", "jax", "jaxlib",
                                                                                   "torch", "keras"):
            return self.array(np.asarray(value))  # a backend tensor: its values
        raise TypeError(f"a {type(value).__name__}")


def _plain_state(state):
    if isinstance(state, dict):
        return {str(key): _plain_state(item) for key, item in state.items()}
    if isinstance(state, np.ndarray):
        return {"__list__": state.tolist(), "dtype": str(state.dtype)}
    return int(state) if isinstance(state, (int, np.integer)) else state


def encode(value, *, models=None):
    """The bytes of an ``.npz`` archive holding `value` (plain data; see the module docstring).

    Args:
        value: the value to write.
        models: a callable that returns ``(config, weights)`` for a Keras model, None for other
            values (inputs only); None to refuse models.

    Raises:
        TypeError: for a value that is not plain data.
    """
    writer = _Writer(models)
    document = json.dumps(writer.value(value), allow_nan=True)
    buffer = io.BytesIO()
    np.savez(buffer, **{JSON_ENTRY: np.frombuffer(document.encode("utf-8"), dtype=np.uint8)}, **writer.arrays)
    return buffer.getvalue()


# --------------------------------------------------------------------------- reading


class _Reader:
    def __init__(self, archive, trusted):
        self.archive, self.trusted, self.nodes = archive, trusted, 0

    def value(self, value, depth=0):
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > MAX_NODES:
            raise InvalidData("the data is nested too deep or has too many values")
        if value is None or type(value) in (bool, int, float, str):
            return value
        if type(value) is list:
            return [self.value(item, depth + 1) for item in value]
        if type(value) is not dict:
            raise InvalidData(f"unexpected JSON value {type(value).__name__}")
        tags = [key for key in value if key.startswith("__")]
        if not tags:
            return {key: self.value(item, depth + 1) for key, item in value.items()}
        tag = tags[0]
        if tag == "__array__" and len(value) == 1:
            return self.array(value[tag])
        if tag == "__tuple__" and len(value) == 1 and type(value[tag]) is list:
            return tuple(self.value(item, depth + 1) for item in value[tag])
        if tag == "__items__" and len(value) == 1 and type(value[tag]) is list:
            items = {}
            for pair in value[tag]:
                if type(pair) is not list or len(pair) != 2:
                    raise InvalidData("a dict item is not a pair")
                key = self.value(pair[0], depth + 1)
                try:
                    items[key] = self.value(pair[1], depth + 1)
                except TypeError:
                    raise InvalidData("a dict key that cannot be a key") from None
            return items
        if tag == "__error__" and len(value) == 1 and type(value[tag]) is str:
            return Error(value[tag])
        if not self.trusted:
            raise InvalidData(f"unexpected tag {tag[:40]!r}")
        if tag == "__rng__":
            return _generator(value[tag])
        if tag == "__keras_model__":
            return _keras_model(value[tag], [self.value(weight, depth + 1) for weight in value["weights"]])
        raise InvalidData(f"unexpected tag {tag[:40]!r}")

    def array(self, name):
        if type(name) is not str or name not in self.archive.files or name == JSON_ENTRY:
            raise InvalidData("a reference to a missing array")
        array = self.archive[name]
        if array.dtype.kind not in _ARRAY_KINDS:
            raise InvalidData(f"an array of dtype {array.dtype}")
        return array[()] if array.ndim == 0 else array


def _check_archive(data, limit):
    """Refuses an archive that is not a zip of ``.npy`` files or unpacks to more than `limit` bytes."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise InvalidData(f"not an .npz archive ({error})"[:200]) from None
    if sum(entry.file_size for entry in entries) > limit or len(entries) > 100_000:
        raise InvalidData(f"the archive unpacks to more than {limit:,} bytes")
    if not all(entry.filename.endswith(".npy") for entry in entries):
        raise InvalidData("the archive holds files that are not arrays")


def decode(data, *, trusted=False, limit=MAX_UNPACKED_BYTES):
    """The value held by an archive of `encode`.

    Args:
        data: the archive's bytes.
        trusted: also rebuild random generators and Keras models (the sandbox, reading the grader's inputs);
            False on the trusted side, reading what the sandbox wrote.
        limit: most bytes the archive may unpack to.

    Raises:
        InvalidData: for anything but plain data.
    """
    _check_archive(data, limit)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            document = json.loads(bytes(archive[JSON_ENTRY]).decode("utf-8"))
            return _Reader(archive, trusted).value(document)
    except InvalidData:
        raise
    except Exception as error:  # a malformed array, JSON or key: all the same, not plain data
        raise InvalidData(f"unreadable data: {type(error).__name__}: {str(error)[:200]}") from None


def _generator(state):
    def restore(item):
        if isinstance(item, dict) and "__list__" in item:
            return np.array(item["__list__"], dtype=item["dtype"])
        return {key: restore(value) for key, value in item.items()} if isinstance(item, dict) else item

    state = restore(state)
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def _keras_model(config, weights):
    import keras

    model = keras.saving.deserialize_keras_object(config)
    model.set_weights(weights)
    return model


def keras_model_parts(value):
    """``(config, weights)`` of a Keras model, or None for anything else (for `encode`'s `models`)."""
    import sys

    keras = sys.modules.get("keras")
    if keras is None or not isinstance(value, keras.Model):
        return None
    return keras.saving.serialize_keras_object(value), [np.asarray(weight) for weight in value.get_weights()]
