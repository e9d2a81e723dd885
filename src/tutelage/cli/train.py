"""``tutelage train``: train a model type on a dataset file and save it as safetensors."""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from tutelage.errors import DataError

NAME = "train"
HELP = "train a model type on a dataset (.npz with X and y, or Parquet) and save a safetensors model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_type", help="a registered model type (see `tutelage plugins`), e.g. mlp or cnn")
    parser.add_argument("data", help=".npz with arrays X and y, or a Parquet file with feature columns and a target column")
    parser.add_argument("--out", required=True, help="where to write the model (.safetensors)")
    parser.add_argument("--target", default="y", help="Parquet: the target column (default: y)")
    parser.add_argument("--input-shape", type=int, nargs="+", help="reshape each sample, e.g. 1 8 8 for a cnn")
    parser.add_argument("--task", choices=("auto", "classification", "regression"), default="auto",
                        help="auto: integer targets are classes (cross-entropy), others are regressed (MSE)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--optimizer", default="adam", help="sgd, adam or adamw")
    parser.add_argument("--hidden", type=int, nargs="+", help="hidden layer sizes (mlp) or the dense head size (cnn)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="another model-type option, VALUE in JSON (e.g. activation=\"relu\"); repeatable")
    parser.add_argument("--validation", type=float, default=0.1, help="fraction held out for validation (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def load_dataset(path: str, target: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """(X, y) from an .npz (arrays X and y) or a Parquet file (feature columns + ``target``)."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{path}: no such dataset file")
    if file.suffix == ".npz":
        return _load_npz(file)
    if file.suffix in (".parquet", ".pq"):
        return _load_parquet(file, target)
    raise DataError(f"{path}: unsupported dataset format {file.suffix!r} (use .npz or .parquet)")


def _load_npz(file: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(file, allow_pickle=False) as data:
            missing = [k for k in ("X", "y") if k not in data.files]
            if missing:
                raise DataError(f"{file}: missing array(s) {missing} (found {sorted(data.files)})")
            X, y = data["X"], data["y"]
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{file}: not a readable .npz file: {exc}") from None
    if X.dtype.kind not in "fiub" or y.dtype.kind not in "fiub":
        raise DataError(f"{file}: field 'X' and 'y' must be numeric, got {X.dtype} and {y.dtype}")
    if X.ndim < 2 or y.shape[:1] != X.shape[:1]:
        raise DataError(f"{file}: field 'X' must be (N, features...) and 'y' have N rows; got {X.shape} and {y.shape}")
    return X, y


def _load_parquet(file: Path, target: str) -> tuple[np.ndarray, np.ndarray]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(file)
    except Exception as exc:
        raise DataError(f"{file}: not a readable Parquet file: {exc}") from None
    if target not in table.column_names:
        raise DataError(f"{file}: target column {target!r} not found (columns: {', '.join(table.column_names)})")
    features = [name for name in table.column_names if name != target]
    if not features:
        raise DataError(f"{file}: no feature columns besides the target {target!r}")
    columns = []
    for name in features + [target]:
        try:
            values = np.asarray(table.column(name).to_numpy(zero_copy_only=False))
            if values.dtype == object:  # list columns: one fixed-size vector per row
                values = np.stack(values)
            values = values.reshape(values.shape[0], -1)
        except Exception as exc:
            raise DataError(f"{file}: column {name!r} is not numeric or not fixed-size: {exc}") from None
        if values.dtype.kind not in "fiub":
            raise DataError(f"{file}: column {name!r} is not numeric ({values.dtype})")
        columns.append(values)
    y = columns[-1]
    return np.concatenate(columns[:-1], axis=1).astype(np.float32), (y[:, 0] if y.shape[1] == 1 else y)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.hidden:
        options["hidden"] = args.hidden[0] if args.model_type == "cnn" else tuple(args.hidden)
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep:
            raise DataError(f"--option {item!r}: expected KEY=VALUE")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def run(args: argparse.Namespace) -> int:
    from tutelage import nn
    from tutelage.cli import host_of
    from tutelage.train import fit

    host = host_of(args)
    model_type = host.registry("model_types").get(args.model_type, where="tutelage train")
    X, y = load_dataset(args.data, args.target)
    if args.input_shape:
        if int(np.prod(args.input_shape)) != int(np.prod(X.shape[1:])):
            raise DataError(f"--input-shape {args.input_shape} does not hold {X.shape[1:]} features per sample")
        X = X.reshape(X.shape[0], *args.input_shape)
    classify = args.task == "classification" or (args.task == "auto" and y.dtype.kind in "iub" and y.ndim == 1)
    if classify:
        if y.ndim != 1 or (y.dtype.kind == "f" and not np.all(y == np.round(y))) or y.min() < 0:
            raise DataError(f"{args.data}: classification needs non-negative integer targets, one per row")
        y = y.astype(np.int64)
        output_size, loss = int(y.max()) + 1, "cross_entropy"
    else:
        y = y.astype(np.float32).reshape(y.shape[0], -1)
        output_size, loss = y.shape[1], "mse"
    try:
        model = model_type.build(tuple(X.shape[1:]), output_size, seed=args.seed, **_options(args))
    except TypeError as exc:
        raise DataError(f"model type {args.model_type!r}: {exc}") from None
    history = fit(model, X, y, loss=loss, optimizer=args.optimizer, lr=args.lr, epochs=args.epochs,
                  batch_size=args.batch_size, validation=args.validation or None, seed=args.seed, quiet=args.quiet,
                  callbacks=host.callbacks())
    digest = hashlib.sha256(Path(args.data).read_bytes()).hexdigest()[:16]
    last = history.epochs[-1] if history.epochs else {}
    ident = nn.save(model, args.out, model_type=args.model_type,
                    lineage={"method": "supervised", "dataset": digest},
                    metadata={"loss": loss, "epochs": args.epochs, "final": last, "data": Path(args.data).name})
    scores = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k not in ("epoch", "seconds"))
    print(f"saved {args.model_type} model {ident} to {args.out} ({model.n_params:,} parameters; {scores})")
    return 0
