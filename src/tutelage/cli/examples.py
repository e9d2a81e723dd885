"""``tutelage examples digits --out DIR``: the example files the documentation uses.

The 8x8 handwritten digits (1,797 images, 10 classes; the UCI "Optical
Recognition of Handwritten Digits" test set, CC BY 4.0, as scikit-learn
distributes it) ship with tutelage as a 45 KB compressed array, so the
examples run in a plain install without scikit-learn or a download.
"""
from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

import numpy as np

from tutelage.errors import SpecError

NAME = "examples"
HELP = "write the documentation's example files (digits: digits.npz and a trained teacher.safetensors)"
EXAMPLES = ("digits",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tutelage.cli.models import add_registry_argument

    parser.add_argument("example", choices=EXAMPLES, help="digits: 8x8 handwritten digits and an mlp teacher trained on them")
    parser.add_argument("--out", default=".", metavar="DIR", help="folder to write into (default: the current one)")
    parser.add_argument("--epochs", type=int, default=20, help="the teacher's training epochs (default 20)")
    add_registry_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def digits() -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)``: 1,797 digits as (N, 64) float32 pixels in [0, 1] and int64 labels 0-9."""
    with resources.as_file(resources.files("tutelage.cli") / "data" / "digits.npz") as path:
        with np.load(path, allow_pickle=False) as data:
            images, target = data["images"], data["target"]
    return (images.reshape(len(images), -1) / 16.0).astype(np.float32), target.astype(np.int64)


def run(args: argparse.Namespace) -> int:
    from tutelage import fileio, nn
    from tutelage.cli import host_of
    from tutelage.runs.registry import record_model_file
    from tutelage.train import fit

    if args.epochs < 1:
        raise SpecError(f"--epochs: must be at least 1, got {args.epochs}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise SpecError(f"--out {out}: is a file; give a folder")
    out.mkdir(parents=True, exist_ok=True)
    X, y = digits()
    data = out / "digits.npz"
    with fileio.atomic_path(data) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, X=X, y=y)
    teacher = host_of(args).registry("model_types").get("mlp").build((X.shape[1],), 10, hidden=(64, 64), seed=0)
    history = fit(teacher, X, y, loss="cross_entropy", epochs=args.epochs, validation=0.1, seed=0, quiet=args.quiet)
    path = out / "teacher.safetensors"
    ident = nn.save(teacher, path, model_type="mlp", lineage={"method": "supervised", "dataset": "digits"},
                         metadata={"example": "digits", "epochs": args.epochs})
    record_model_file(path, args.registry)
    last = history.epochs[-1] if history.epochs else {}
    accuracy = float(np.mean(np.argmax(teacher(X), axis=1) == y))
    print(f"wrote {data} ({len(X):,} digits, X (N, 64) in [0, 1], y 0-9) and {path} (mlp teacher {ident}, "
          f"training accuracy {100 * accuracy:.1f} %, validation loss {last.get('val_loss', float('nan')):.3g})")
    return 0
