"""Clip decoding speed: videokit.io and VideoFolder against the usual OpenCV loop.

Generates a fixed set of real files (H.264, 320x240, 10 s at 25 fps) and
measures clips per second for 16 frames at 112x112, both with videokit and
with the baseline the keras-io and TensorFlow video tutorials use: OpenCV's
``VideoCapture`` reads every frame, the wanted ones are kept and resized in a
Python loop. Both run in this process on the same files; the ratio is printed.

Usage:
    pip install -e ".[bench]"
    python benchmarks/bench_io.py [--videos 32] [--repeats 2]
"""

import argparse
import pathlib
import time

import cv2
import numpy as np

from videokit import io
from videokit.data import VideoFolder, moving_shapes

DATA = pathlib.Path(__file__).parent / "_data"
FRAMES, HEIGHT, WIDTH, FPS = 250, 240, 320, 25
CLIP, SIZE = 16, 112


def make_videos(count, keyframe_interval):
    folder = DATA / f"gop{keyframe_interval}"
    paths = sorted(folder.glob("*/*.mp4"))
    if len(paths) >= count:
        return folder, paths[:count]
    videos, labels, names = moving_shapes(count, num_frames=FRAMES // 10, size=96, seed=7)
    for number, (video, label) in enumerate(zip(videos, labels)):
        frames = np.repeat(video, 10, axis=0)  # 250 frames
        frames = np.stack([cv2.resize(frame, (WIDTH, HEIGHT)) for frame in frames])
        frames = np.roll(frames, number, axis=2)  # every file different
        io.write_video(folder / names[label] / f"video{number:02d}.mp4", frames, fps=FPS,
                       keyframe_interval=keyframe_interval, overwrite=True)
    return folder, sorted(folder.glob("*/*.mp4"))[:count]


def opencv_clip(path, sampling, rng):
    """The tutorials' loop: read every frame, keep the wanted ones, resize each in Python."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    indices = io.sample_indices(len(frames), CLIP, sampling=sampling, seed=rng)
    return np.stack([cv2.resize(frames[i], (SIZE, SIZE))[..., ::-1] for i in indices])


def videokit_clip(path, sampling, rng):
    return io.read_video(path, num_frames=CLIP, size=SIZE, sampling=sampling, seed=rng)


def clips_per_second(read, paths, sampling, repeats):
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for _ in range(repeats):
        for path in paths:
            clip = read(path, sampling, rng)
            assert clip.shape == (CLIP, SIZE, SIZE, 3), clip.shape
    return repeats * len(paths) / (time.perf_counter() - started)


def pipeline_clips_per_second(folder, sampling, workers, epochs=2):
    dataset = VideoFolder(folder, num_frames=CLIP, size=SIZE, sampling=sampling)
    sequence = dataset.as_pydataset(batch_size=8, workers=workers)
    started, count = time.perf_counter(), 0
    for _ in range(epochs):
        for number in range(len(sequence)):
            clips, _ = sequence[number]
            count += len(clips)
        sequence.on_epoch_end()
    return count / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    arguments = parser.parse_args()
    cv2.setNumThreads(2)
    print(f"{arguments.videos} H.264 videos, {WIDTH}x{HEIGHT}, {FRAMES} frames at {FPS} fps; "
          f"clips of {CLIP} frames at {SIZE}x{SIZE}")
    print(f"{'keyframes every':>16} {'sampling':>9} {'OpenCV loop':>12} {'read_video':>11} {'ratio':>6}")
    for keyframe_interval in (250, 25):
        folder, paths = make_videos(arguments.videos, keyframe_interval)
        for path in paths[:2]:  # warm the OS file cache and the packet-index cache alike
            opencv_clip(path, "center", np.random.default_rng(0))
            videokit_clip(path, "center", np.random.default_rng(0))
        for sampling in ("uniform", "random", "center"):
            baseline = clips_per_second(opencv_clip, paths, sampling, arguments.repeats)
            ours = clips_per_second(videokit_clip, paths, sampling, arguments.repeats)
            print(f"{keyframe_interval:>10} frames {sampling:>9} {baseline:>9.1f}/s {ours:>9.1f}/s {ours / baseline:>5.1f}x")
        baseline = clips_per_second(opencv_clip, paths, "random", arguments.repeats)
        pipeline = pipeline_clips_per_second(folder, "random", workers=2)
        print(f"{keyframe_interval:>10} frames {'PyDataset':>9} {baseline:>9.1f}/s {pipeline:>9.1f}/s "
              f"{pipeline / baseline:>5.1f}x  (random clips, 2 workers, float32 batches of 8)")


if __name__ == "__main__":
    main()
