"""videokit train --model videomae: masked-video pretraining on unlabelled clips, then --init-from into a classifier."""

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from videokit import training  # noqa: E402
from videokit.config import RunConfig  # noqa: E402
from videokit.training import checkpoints, transfer  # noqa: E402
from videokit.training.using import load_run  # noqa: E402

pytestmark = pytest.mark.slow  # whole training runs: tens of seconds each on 2 CPU cores

CLIP = (4, 32, 32)


def config(**changes):
    settings = dict(model="videomae", data="moving_shapes", epochs=2, samples=24, batch_size=8, clip=CLIP,
                    preset="small", learning_rate=1e-3)
    return RunConfig(**{**settings, **changes})


@pytest.fixture(scope="module")
def pretraining_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("pretraining") / "videomae"
    history = training.train(config(), run_dir, verbose=0)
    return run_dir, history


def test_pretraining_writes_a_reconstruction_picture_each_epoch(pretraining_run):
    run_dir, history = pretraining_run
    assert sorted(history) == ["loss", "val_loss"] and len(history["loss"]) == 2
    assert np.isfinite(history["loss"]).all()
    pictures = sorted(path.name for path in (run_dir / "reconstructions").iterdir())
    assert pictures == ["epoch_001.png", "epoch_002.png"]
    for path in (run_dir / "reconstructions.png", run_dir / "reconstructions" / "epoch_002.png"):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert checkpoints.checkpoint_state(run_dir / "last.keras")["epochs_done"] == 2


def test_a_pretraining_run_resumes_for_more_epochs(pretraining_run, tmp_path):
    import shutil

    run_dir = tmp_path / "videomae"
    shutil.copytree(pretraining_run[0], run_dir)
    training.train(config(epochs=3), run_dir, resume=True, verbose=0)
    state = checkpoints.checkpoint_state(run_dir / "last.keras")
    assert state["epochs_done"] == 3 and (run_dir / "reconstructions" / "epoch_003.png").exists()


def test_a_classifier_fine_tunes_from_the_pretrained_encoder(pretraining_run, tmp_path, capsys):
    run_dir, _ = pretraining_run
    _, pretrained = load_run(run_dir)
    from videokit.models import videomae_classifier

    fresh = videomae_classifier((*CLIP, 3), 8, preset="small")
    copied, skipped = transfer.initialise_from(fresh, run_dir)
    assert copied == ["tubelet_embedding", "encoder_block0", "encoder_block1"]
    assert sorted(skipped) == ["fc_norm", "predictions"]
    for name in copied:
        for got, expected in zip(fresh.get_layer(name).weights, pretrained.get_layer(name).weights):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(expected))

    history = training.train(config(model="videomae_classifier", epochs=1, init_from=str(run_dir)),
                             tmp_path / "classifier", verbose=0)
    assert "accuracy" in history
    assert f"weights from {run_dir}: 3 of 5 layers" in capsys.readouterr().out


def test_a_pretraining_run_cannot_predict_a_video(pretraining_run):
    from videokit.training.task import task_for

    run_dir, _ = pretraining_run
    with pytest.raises(ValueError, match="holds a pretraining run; fine-tune a classifier from it"):
        task_for(config()).predict_video(None, None, "clip.mp4", run_dir, top_k=3, steps=1, output=None)
