"""Multi-view evaluation input: every view of a video cut from one decode, against one read per view.

The papers' evaluation scores each test video from 10 clips x 3 crops. Generates
a few real files (H.264, 300 frames of 128x171, the C3D / R(2+1)D resize), and
for each times the views of 16-frame clips cropped to 112x112 made two ways,
in this process on the same files:

* ``VideoFolder.views``: the frames of all clips decoded once (one pass over
  the file, each frame converted once), every clip and crop cut from them.
* the baseline: 30 independent ``read_video`` calls, one per view (each seeks
  to its clip's keyframe and decodes the clip), cropped afterwards.

Both give the same views (checked); the ratio is printed.

Usage:
    python benchmarks/bench_eval.py [--videos 4] [--clips 10] [--crops 3] [--repeats 2]
"""

import argparse
import pathlib
import tempfile
import time

import numpy as np

from videokit import io
from videokit.data import VideoFolder, moving_shapes
from videokit.data.sampling import crop_boxes, dense_clip_indices

FRAMES, HEIGHT, WIDTH, FPS = 300, 128, 171, 25
CLIP, CROP = 16, 112


def make_videos(folder, count, keyframe_interval):
    videos, _, _ = moving_shapes(count, num_frames=FRAMES // 10, size=WIDTH, seed=3)
    for number, video in enumerate(videos):
        frames = np.roll(np.repeat(video, 10, axis=0)[:, :HEIGHT], number, axis=2)  # 300 frames, every file different
        io.write_video(folder / "all" / f"video{number:02d}.mp4", frames, fps=FPS, keyframe_interval=keyframe_interval)
    return VideoFolder(folder, num_frames=CLIP, size=(HEIGHT, WIDTH), crop_size=CROP, training=False)


def views_decoded_once(folder, index, clips, crops):
    return folder.views(index, clips=clips, crops=crops)[0]


def views_read_one_by_one(folder, index, clips, crops):
    path = folder.samples[index][0]
    views, number = np.empty((clips * crops, CLIP, CROP, CROP, 3), np.float32), 0
    for frames in dense_clip_indices(io.frame_count(path), CLIP, num_clips=clips, training=False):
        for top, left, height, width in crop_boxes(HEIGHT, WIDTH, CROP, crops):
            clip = io.read_video(path, indices=frames, size=(HEIGHT, WIDTH))
            np.divide(clip[:, top : top + height, left : left + width], np.float32(255), out=views[number])
            number += 1
    return views  # scaled as VideoFolder.views scales them


def videos_per_second(make_views, folder, clips, crops, repeats):
    started = time.perf_counter()
    for _ in range(repeats):
        for index in range(len(folder)):
            assert make_views(folder, index, clips, crops).shape == (clips * crops, CLIP, CROP, CROP, 3)
    return repeats * len(folder) / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--clips", type=int, default=10)
    parser.add_argument("--crops", type=int, default=3, choices=(1, 3))
    parser.add_argument("--repeats", type=int, default=2)
    arguments = parser.parse_args()
    views = arguments.clips * arguments.crops
    print(
        f"{arguments.videos} H.264 videos, {WIDTH}x{HEIGHT}, {FRAMES} frames at {FPS} fps; "
        f"{arguments.clips} clips x {arguments.crops} crops of {CLIP}x{CROP}x{CROP} per video"
    )
    print(f"{'keyframes every':>16} {f'{views} read_video':>16} {'decoded once':>13} {'ratio':>6}")
    for keyframe_interval in (250, 25):
        with tempfile.TemporaryDirectory() as temporary:
            folder = make_videos(pathlib.Path(temporary), arguments.videos, keyframe_interval)
            for index in range(len(folder)):  # the same views; warms the file and packet-index caches alike
                np.testing.assert_array_equal(
                    views_decoded_once(folder, index, arguments.clips, arguments.crops),
                    views_read_one_by_one(folder, index, arguments.clips, arguments.crops),
                )
            baseline = videos_per_second(
                views_read_one_by_one, folder, arguments.clips, arguments.crops, arguments.repeats
            )
            ours = videos_per_second(views_decoded_once, folder, arguments.clips, arguments.crops, arguments.repeats)
        print(
            f"{keyframe_interval:>10} frames {baseline:>9.2f} videos/s {ours:>6.2f} videos/s {ours / baseline:>5.1f}x"
        )


if __name__ == "__main__":
    main()
