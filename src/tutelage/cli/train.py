"""``tutelage train``: train a model type on a dataset file and save it as safetensors."""
from __future__ import annotations

import argparse
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from tutelage.errors import DataError, NumericalError, SpecError, UnknownNameError
from tutelage.methods.collapse_guard import add_guard_arguments
from tutelage.runs.schema import MAX_INTEGER

NAME = "train"
HELP = "train a model type on a dataset (.npz with X and y, Parquet, or a dataset directory) and save a safetensors model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tutelage.cli.models import add_registry_argument

    add_registry_argument(parser)
    parser.add_argument("model_type", help="a registered model type (see `tutelage plugins`), e.g. mlp or cnn")
    parser.add_argument("data", help=".npz with arrays X and y, a Parquet file with feature columns and a target column, "
                                     "or a dataset directory from `tutelage generate` (observations → --target)")
    parser.add_argument("--out", required=True, help="where to write the model (.safetensors)")
    parser.add_argument("--target", help="Parquet or dataset directory: the target column (default: action for "
                                         "what `tutelage generate` writes, else y)")
    parser.add_argument("--features", nargs="+", metavar="COLUMN",
                        help="Parquet: the observation columns (default: the observation.* columns of a shard "
                             "`tutelage generate` wrote, else every column but the target)")
    parser.add_argument("--allow-incomplete", action="store_true",
                        help="train on the shards an unfinished generation wrote (refused by default)")
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
    add_guard_arguments(parser)


def load_dataset(path: str, target: str | None = None, allow_incomplete: bool = False,
                 features: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) from an .npz (arrays X and y), a Parquet file (feature columns + ``target``) or a dataset directory.

    Non-numeric or non-finite (NaN, inf) values are a :class:`DataError` naming the file and the field.
    """
    file = Path(path)
    if features and file.suffix not in (".parquet", ".pq"):
        raise DataError(f"--features: only a Parquet file has columns to choose ({path} is not one)")
    if file.is_dir():
        X, y = _load_directory(file, target or "action", allow_incomplete)
    elif not file.is_file():
        raise DataError(f"{path}: no such dataset file")
    elif file.suffix == ".npz":
        X, y = _load_npz(file)
    elif file.suffix in (".parquet", ".pq"):
        X, y = _load_parquet(file, target, features)
    else:
        raise DataError(f"{path}: unsupported dataset format {file.suffix!r} (use .npz, .parquet or a dataset directory)")
    for field, values in (("X", X), (target or "y", y)):
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            raise DataError(f"{path}: field {field!r} holds {int(np.count_nonzero(~np.isfinite(values)))} "
                            "NaN or infinite values")
    return X, y


def _load_directory(root: Path, target: str, allow_incomplete: bool) -> tuple[np.ndarray, np.ndarray]:
    from tutelage.data import Dataset
    from tutelage.methods.bc import dataset_arrays

    X, y, _, _ = dataset_arrays(Dataset(root, allow_incomplete=allow_incomplete), target)
    return X, y


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


def _load_parquet(file: Path, target: str | None, features: list[str] | None) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) from named columns; a shard of a generated dataset defaults to its observation.* columns → action."""
    from tutelage.data.parquet import read_table

    try:
        table = read_table(file)
    except Exception as exc:
        raise DataError(f"{file}: not a readable Parquet file: {exc}") from None
    names = table.column_names
    observations = [name for name in names if name.startswith("observation.") and name != "observation.images.rgb"]
    target = target or ("action" if observations else "y")
    features = features or observations or [name for name in names if name != target]
    for flag, wanted in (("--target", [target]), ("--features", features)):
        for name in wanted:
            if name not in names:
                raise UnknownNameError(f"column of {file}", name, names, where=flag)
    if target in features:
        raise DataError(f"{file}: column {target!r} is both the target and a feature")
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
            raise DataError(f"{file}: column {name!r} is not numeric ({values.dtype}); choose the observation "
                            "columns with --features and the target with --target")
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


def check_arguments(args: argparse.Namespace) -> None:
    """Every number in range and finite, and a writable ``--out``, before any work starts."""
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise SpecError(f"--lr must be a finite positive number, got {args.lr}")
    if not (math.isfinite(args.validation) and 0.0 <= args.validation < 1.0):
        raise SpecError(f"--validation must be a fraction in [0, 1), got {args.validation}")
    for flag, value, low in (("--epochs", args.epochs, 0), ("--batch-size", args.batch_size, 1)):
        if not low <= value <= MAX_INTEGER:
            raise SpecError(f"{flag} must be in [{low}, {MAX_INTEGER}], got {value}")
    if Path(args.out).is_dir():
        raise SpecError(f"--out {args.out}: is a directory; give a .safetensors file path")


def run(args: argparse.Namespace) -> int:
    from tutelage.runs.registry import record_model_file

    from tutelage import nn
    from tutelage.cli import host_of
    from tutelage.methods.collapse_guard import guard_of, guard_path
    from tutelage.train import fit, save_last_good

    check_arguments(args)
    verdict, depth = guard_path(guard_of(args), args.data)
    host = host_of(args)
    model_type = host.registry("model_types").get(args.model_type, where="tutelage train")
    X, y = load_dataset(args.data, args.target, args.allow_incomplete, args.features)
    if args.input_shape:
        if int(np.prod(args.input_shape)) != int(np.prod(X.shape[1:])):
            raise DataError(f"--input-shape {args.input_shape} does not hold {X.shape[1:]} features per sample")
        X = X.reshape(X.shape[0], *args.input_shape)
    classify = args.task == "classification" or (args.task == "auto" and y.dtype.kind in "iub" and y.ndim == 1)
    if classify:
        if y.ndim != 1 or (y.dtype.kind == "f" and not np.all(y == np.round(y))) or y.min() < 0 or y.max() >= MAX_INTEGER:
            raise DataError(f"{args.data}: classification needs integer targets in [0, {MAX_INTEGER}), one per row")
        y = y.astype(np.int64)
        output_size, loss = int(y.max()) + 1, "cross_entropy"
    else:
        y = y.astype(np.float32).reshape(y.shape[0], -1)
        output_size, loss = y.shape[1], "mse"
    options = _options(args)
    try:
        if hasattr(model_type, "validate_options"):
            model_type.validate_options(options, f"model type {args.model_type!r}")
        model = model_type.build(tuple(X.shape[1:]), output_size, seed=args.seed, **options)
    except TypeError as exc:
        raise DataError(f"model type {args.model_type!r}: {exc}") from None
    digest = dataset_digest(args.data)
    lineage = {"method": "supervised", "dataset": digest, "data_depth": depth, "collapse_guard": verdict.as_dict()}
    try:
        history = fit(model, X, y, loss=loss, optimizer=args.optimizer, lr=args.lr, epochs=args.epochs,
                      batch_size=args.batch_size, validation=args.validation or None, seed=args.seed, quiet=args.quiet,
                      callbacks=host.callbacks())
    except NumericalError as exc:
        raise save_last_good(exc, args.out, model_type=args.model_type, lineage=lineage) from None
    last = history.epochs[-1] if history.epochs else {}
    ident = nn.save(model, args.out, model_type=args.model_type, lineage=lineage,
                    metadata={"loss": loss, "epochs": args.epochs, "final": last, "data": Path(args.data).name})
    record_model_file(args.out, args.registry)
    scores = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k not in ("epoch", "seconds"))
    print(f"saved {args.model_type} model {ident} to {args.out} ({model.n_params:,} parameters; {scores})")
    return 0


def dataset_digest(path: str) -> str:
    """16 hex digits naming the training data: a file's SHA-256, or a dataset directory's id."""
    if Path(path).is_dir():
        from tutelage.data import read_info

        return str(read_info(path).get("id") or Path(path).name)
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
