"""Multi-view evaluation of a tiny trained run: clips x crops per video, decoded once, predictions averaged."""

import csv

import numpy as np
import pytest

from videokit import cli, io, training
from videokit.data import moving_shapes
from videokit.training.task import task_for
from videokit.training.views import average_views

pytestmark = pytest.mark.slow  # trains a tiny run: about 20 s on 2 CPU cores


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A one-epoch cnn_lstm run on a folder of 12 videos (3 classes, 30 frames of 24x40); 3 validation videos."""
    root = tmp_path_factory.mktemp("views")
    videos, _, _ = moving_shapes(12, num_frames=30, size=40, seed=2)
    for number, video in enumerate(videos):
        name = ["bounce", "grow", "move_left"][number % 3]  # classes by number: the test needs no learning
        io.write_video(root / "clips" / name / f"v{number:02d}.mp4", video[:, 8:32], fps=10)
    config = training.RunConfig(model="cnn_lstm", data=str(root / "clips"), epochs=1, batch_size=4, clip=(4, 24, 24))
    training.train(config, root / "run", verbose=0)
    return root / "run"


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_one_clip_one_crop_is_todays_single_clip_evaluate(run, tmp_path):
    report = training.evaluate(run, output=tmp_path, progress=False)
    config, model = training.load_run(run)
    task = task_for(config)
    today = task.evaluate(model, task.load_data(config.batch_size), tmp_path / "today")
    assert report["accuracy"] == report["video_accuracy"] == report["clip_accuracy"] == today["accuracy"]
    assert report["confusion"] == today["confusion"] and report["views"] == 1 and report["videos"] == 3
    rows = read_rows(tmp_path / "predictions-1x1.csv")
    _, validation = task.folders()
    expected = model.predict(np.stack([validation.load(i)[0] for i in range(len(validation))]), verbose=0)
    written = np.array([[float(row[f"p_{name}"]) for name in validation.class_names] for row in rows])
    np.testing.assert_allclose(written, expected, atol=1e-5)  # the centred clip validation scores
    assert [row["video"] for row in rows] == [validation._name(path) for path, _ in validation.samples]


def test_views_are_averaged_per_video_and_both_accuracies_come_from_them(run, tmp_path):
    path = tmp_path / "views.csv"
    report = training.evaluate(run, output=tmp_path, clips=4, crops=3, predictions=path, progress=False)
    config, model = training.load_run(run)
    _, validation = task_for(config).folders()
    rows = read_rows(path)
    assert len(rows) == len(validation) == 3 and report["forward_passes"] == 3 * 12
    view_hits, video_hits = 0, 0
    for index, row in enumerate(rows):
        views, label = validation.views(index, clips=4, crops=3)
        probabilities = model.predict(views, verbose=0)
        averaged = probabilities.mean(axis=0)
        np.testing.assert_allclose([float(row[f"p_{name}"]) for name in validation.class_names], averaged, atol=1e-5)
        assert row["label"] == validation.class_names[label]
        assert row["predicted"] == validation.class_names[int(np.argmax(averaged))]
        assert row["correct"] == str(int(np.argmax(averaged) == label))
        view_hits += int(np.sum(probabilities.argmax(axis=-1) == label))
        video_hits += int(np.argmax(averaged) == label)
    assert report["video_accuracy"] == report["accuracy"] == video_hits / 3
    assert report["clip_accuracy"] == pytest.approx(view_hits / 36)
    assert report["gflops_per_view"] > 0
    with pytest.raises(FileExistsError, match="views.csv: already exists"):
        training.evaluate(run, output=tmp_path, clips=4, crops=3, predictions=path, progress=False)
    logits = training.evaluate(
        run, output=tmp_path, clips=4, crops=3, average="logits", predictions=path, overwrite=True, progress=False
    )
    assert logits["videos"] == 3 and len(read_rows(path)) == 3


def test_logit_averaging_is_the_softmax_of_the_mean_log_probability():
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 3.0, 0.5]])
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    mean = logits.mean(axis=0)
    np.testing.assert_allclose(average_views(probabilities, "logits"), np.exp(mean) / np.exp(mean).sum(), atol=1e-12)
    np.testing.assert_allclose(average_views(probabilities, "probabilities"), probabilities.mean(axis=0))


def test_the_command_prints_video_and_clip_accuracy_and_the_compute(run, tmp_path, capsys):
    assert cli.main(["evaluate", str(run), "--clips", "2", "--crops", "3", "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("accuracy ") and "on 3 videos, 2 clips x 3 crops each, probabilities averaged" in out
    assert "video accuracy " in out and "clip accuracy " in out and "18 forward passes (6 views per video)" in out
    assert "GFLOPs per view" in out and (tmp_path / "predictions-2x3.csv").exists()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--crops", "2"], "crops must be 1 (the centre) or 3 (along the longer side); got 2."),
        (["--clips", "0"], "clips must be a positive integer; got 0."),
    ],
)
def test_bad_views_are_one_line(run, arguments, message, capsys):
    assert cli.main(["evaluate", str(run), *arguments]) == 2
    assert capsys.readouterr().err.strip() == f"videokit evaluate: error: {message}"


def test_train_takes_sampling_for_folders_only(capsys):
    assert cli.main(["train", "--sampling", "segment"]) == 2
    assert "--sampling is for folders of videos" in capsys.readouterr().err
