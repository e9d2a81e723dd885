"""Saving rendered episodes: animated GIFs, written atomically."""
from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from PIL import Image

from tutelage.fileio import atomic_path


def save_gif(frames: Sequence[np.ndarray], path: str | os.PathLike, fps: float = 25.0) -> None:
    """Write RGB frames (H, W, 3) uint8 as a looping animated GIF at ``fps`` frames per second."""
    if len(frames) == 0:
        raise ValueError("save_gif needs at least one frame")
    images = []
    for index, frame in enumerate(frames):
        array = np.asarray(frame)
        if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in (3, 4):
            raise ValueError(f"frame {index}: expected uint8 (H, W, 3), got {array.dtype} {array.shape}")
        images.append(Image.fromarray(np.ascontiguousarray(array[:, :, :3])))
    duration = max(20, int(round(1000.0 / fps)))
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0)
