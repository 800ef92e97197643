import re

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from videokit import io, viz
from videokit.data import moving_digits, moving_shapes

pytestmark = pytest.mark.backend_independent  # the Keras backend does not matter here


def test_frame_grid_draws_one_row_per_clip_and_saves_a_png(tmp_path):
    videos, labels, names = moving_shapes(3, num_frames=12, size=32)
    figure = viz.frame_grid(videos, max_frames=6, titles=[names[i] for i in labels], path=tmp_path / "grid.png")
    assert len(figure.axes) == 18
    assert [axis.get_title() for axis in figure.axes[:6]] == ["t=0", "t=2", "t=4", "t=7", "t=9", "t=11"]
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_frame_grid_shows_grayscale_and_float_clips():
    figure = viz.frame_grid(moving_digits(1, num_frames=4, size=32)[0] / 255.0)
    assert len(figure.axes) == 4


def test_animation_embeds_a_playable_mp4(tmp_path):
    clip = moving_shapes(1, num_frames=8, size=33)[0][0]
    html = viz.animate(clip, fps=4).data
    assert html.startswith("<video") and "autoplay loop" in html
    encoded = re.search(r"base64,([A-Za-z0-9+/=]+)", html).group(1)
    path = tmp_path / "embedded.mp4"
    import base64

    path.write_bytes(base64.b64decode(encoded))
    info = io.probe(path)
    assert (info.num_frames, info.width, info.height) == (8, 34, 34)


def test_history_and_confusion_plots(tmp_path):
    history = {"loss": [2.0, 1.0, 0.5], "val_loss": [2.1, 1.4, 0.9], "accuracy": [0.2, 0.5, 0.8]}
    figure = viz.plot_history(history, path=tmp_path / "curves.png")
    assert [axis.get_title() for axis in figure.axes] == ["loss", "accuracy"]
    assert len(figure.axes[0].lines) == 2
    figure = viz.plot_confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], ["a", "b", "c"], path=tmp_path / "cm.png")
    texts = [text.get_text() for text in figure.axes[0].texts]
    assert texts == ["1", "0", "0", "0", "1", "1", "0", "0", "1"]
    assert (tmp_path / "curves.png").exists() and (tmp_path / "cm.png").exists()


def test_reconstructions_draw_masked_reconstructed_original_for_each_clip(tmp_path):
    original = moving_shapes(2, num_frames=8, size=32)[0] / 255.0
    masked = original.copy()
    masked[:, :, :16] = 0.5
    figure = viz.plot_reconstructions(masked, original, original, max_frames=4, title="epoch 3",
                                      path=tmp_path / "reconstructions.png")
    assert len(figure.axes) == 2 * 3 * 4
    labels = [figure.axes[row * 4].get_ylabel() for row in range(6)]
    assert labels == ["masked", "reconstructed", "original"] * 2
    assert (tmp_path / "reconstructions.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="three batches of clips of one shape"):
        viz.plot_reconstructions(masked, original[:1], original)
