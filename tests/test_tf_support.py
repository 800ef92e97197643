"""TensorFlow stays out of JAX and torch processes until a TensorFlow-only feature asks for it."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.backend_independent  # each test picks its backend in a subprocess

pytest.importorskip("tensorflow")
pytest.importorskip("jax")

SAVE_AND_SEED = """
import sys
import keras
from videokit import tf_support

tf_support.keep_unimported_off_tensorflow()
keras.utils.set_random_seed(1)
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
model.save("model.keras")
print("after save and seed:", "tensorflow" in sys.modules)
tf_support.tensorflow("as_tf_dataset()")
tf_support.tensorflow("as_tf_dataset()")
from keras.src.utils import module_utils
print("after asking for it:", "tensorflow" in sys.modules, module_utils.tensorflow.available)
"""


def test_keras_saves_and_seeds_on_jax_without_importing_tensorflow_until_asked(tmp_path):
    environment = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", SAVE_AND_SEED], cwd=tmp_path, env=environment,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == ["after save and seed: False", "after asking for it: True True"]
    said = [line for line in result.stderr.splitlines() if line.startswith("videokit:")]
    assert said == ["videokit: as_tf_dataset() imports TensorFlow on the jax backend."]  # once


def test_nothing_changes_on_the_tensorflow_backend(tmp_path):
    script = ("import sys\nfrom videokit import tf_support\ntf_support.keep_unimported_off_tensorflow()\n"
              "from keras.src.utils import module_utils\nprint(module_utils.tensorflow.available)")
    environment = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=environment,
                            capture_output=True, text=True, timeout=300)
    assert result.stdout.strip() == "True", result.stderr[-2000:]
