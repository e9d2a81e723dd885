"""``tutelage distill``: train a small student from a teacher by bc, dagger or kd, with its lineage."""
from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from tutelage.errors import DataError, NumericalError, SpecError, UserError
from tutelage.methods.collapse_guard import add_guard_arguments
from tutelage.rollouts.generate import BACKENDS
from tutelage.runs.schema import MAX_INTEGER

NAME = "distill"
HELP = "train a student from a teacher (behavior cloning, DAgger or knowledge distillation) and save it with its lineage"
METHODS = ("bc", "dagger", "kd")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tutelage.cli.models import add_registry_argument

    add_registry_argument(parser)
    parser.add_argument("--method", choices=METHODS, required=True,
                        help="bc: clone a dataset's actions; dagger: the student drives, the teacher labels; "
                             "kd: learn a model teacher's softened logits")
    parser.add_argument("--teacher", help="'expert' (the world's privileged expert), a teacher name, or a model file")
    parser.add_argument("--teacher-option", action="append", default=[], metavar="KEY=VALUE",
                        help="an option of a named teacher (value in TOML syntax, e.g. sigma=0.1); repeatable")
    parser.add_argument("--data", help="bc/kd: a dataset directory or an .npz with X (and y)")
    parser.add_argument("--world", help="dagger: the world the student drives in, e.g. tutelage/Driving-v0")
    parser.add_argument("--out", required=True, help="where to write the student (.safetensors)")
    parser.add_argument("--model-type", default="mlp", help="the student's model type (default: mlp)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 64], help="student hidden sizes (default: 64 64)")
    parser.add_argument("--activation", default="tanh", help="student activation (default: tanh)")
    parser.add_argument("--target", default="action", help="bc on a dataset: the target column (e.g. teacher.action)")
    parser.add_argument("--allow-incomplete", action="store_true",
                        help="bc/kd: learn from the shards an unfinished generation wrote (refused by default)")
    parser.add_argument("--temperature", type=float, default=4.0, help="kd: softening temperature T")
    parser.add_argument("--alpha", type=float, default=0.9, help="kd: weight of the soft-target loss (1 - alpha: hard labels)")
    parser.add_argument("--rounds", type=int, default=5, help="dagger: rounds")
    parser.add_argument("--episodes-per-round", type=int, default=10, help="dagger: episodes per round")
    parser.add_argument("--edge-case-fraction", type=float, default=0.2, help="dagger: share of edge-case episodes")
    parser.add_argument("--max-steps", type=int, help="dagger: cap on an episode's steps")
    parser.add_argument("--workers", type=int, default=1,
                        help="dagger: worker processes or Ray tasks playing each round (same results for any count)")
    parser.add_argument("--backend", choices=BACKENDS, default="process", help="dagger: worker processes or Ray tasks")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    add_guard_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from tutelage.runs.registry import record_model_file

    check_arguments(args)
    train = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed}
    method = {"dagger": run_dagger, "bc": run_bc, "kd": run_kd}[args.method]
    verdict, depth = guard_arguments(args)
    try:
        student, derivation = method(args, train)
    except NumericalError as exc:
        from tutelage.train import save_last_good

        raise save_last_good(exc, args.out, model_type=args.model_type, lineage={"method": args.method}) from None
    from tutelage.methods.lineage import save_derived

    derivation.guarded(verdict, depth)
    model_id = save_derived(student, args.out, derivation, model_type=args.model_type,
                            metadata={"command": "distill", "hidden": args.hidden, "activation": args.activation})
    record_model_file(args.out, args.registry)
    result = {"model": str(args.out), "model_id": model_id, "n_params": int(student.n_params),
              **derivation.lineage, **{k: v for k, v in derivation.metrics.items() if isinstance(v, (int, float, str))}}
    print(json.dumps(result, indent=2) if args.json else
          f"saved {args.out} ({result['n_params']:,} params, id {model_id}); "
          f"method {derivation.method}, teacher {derivation.teacher}, dataset {derivation.dataset}")
    return 0


def check_arguments(args: argparse.Namespace) -> None:
    """Every missing or inconsistent option is one clear error before any work starts."""
    if args.method == "dagger":
        if not args.world:
            raise SpecError("--world: dagger needs the world the student drives in")
        if not args.teacher:
            raise SpecError("--teacher: dagger needs a teacher ('expert', a teacher name or a model file)")
        if min(args.rounds, args.episodes_per_round, args.workers) < 1:
            raise SpecError("--rounds, --episodes-per-round and --workers must be at least 1")
        if not 0.0 <= args.edge_case_fraction <= 1.0:
            raise SpecError(f"--edge-case-fraction must lie in [0, 1], got {args.edge_case_fraction}")
    elif not args.data:
        raise SpecError(f"--data: {args.method} learns from a dataset directory or an .npz file")
    if not (math.isfinite(args.temperature) and args.temperature > 0):
        raise SpecError(f"--temperature must be a finite positive number, got {args.temperature}")
    if not 0.0 <= args.alpha <= 1.0:
        raise SpecError(f"--alpha must lie in [0, 1], got {args.alpha}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise SpecError(f"--lr must be a finite positive number, got {args.lr}")
    counts = {"--epochs": args.epochs, "--batch-size": args.batch_size, "--rounds": args.rounds,
              "--episodes-per-round": args.episodes_per_round, "--max-steps": args.max_steps or 1}
    for flag, value in counts.items():
        if not 1 <= value <= MAX_INTEGER:
            raise SpecError(f"{flag} must be in [1, {MAX_INTEGER}], got {value}")
    if Path(args.out).is_dir():
        raise SpecError(f"--out {args.out}: is a directory; give a .safetensors file path")
    from tutelage.cli import host_of

    model_type = host_of(args).registry("model_types").get(args.model_type, where="--model-type")
    if hasattr(model_type, "validate_options"):
        model_type.validate_options({"hidden": list(args.hidden), "activation": args.activation}, "--hidden/--activation")


def guard_arguments(args: argparse.Namespace) -> Any:
    """The collapse guard's verdict on ``--data`` (dagger: on the teacher's labels; kd: on the data with the
    teacher's soft labels), before any work."""
    from tutelage.methods.collapse_guard import (guard_of, guard_path, guard_training, policy_provenance,
                                                 soft_label_provenance)

    guard = guard_of(args)
    if args.method == "dagger":
        from tutelage.rollouts.rollout import check_world

        check_world(args.world)
        return guard_training(guard, policy_provenance(resolve_teacher(args, args.world)),
                              name=f"labels of teacher {args.teacher}")
    if args.method == "kd":
        teacher = resolve_teacher(args) if args.teacher else None
        return guard_training(guard, soft_label_provenance(args.data, teacher),
                              name=f"{args.data} with the soft labels of teacher {args.teacher or 'teacher.logits'}")
    return guard_path(guard, args.data)


def resolve_teacher(args: argparse.Namespace, world: str | None = None) -> Any:
    """The ``--teacher``: ``expert``, a registered teacher name (with ``--teacher-option``s) or a model file."""
    from tutelage.cli import host_of, policy_options
    from tutelage.rollouts.policy import build_teacher, world_expert

    ref, teachers = args.teacher, host_of(args).registry("teachers")
    if ref.endswith(".safetensors") or os.sep in ref:
        return teachers.get("model")(path=ref)
    if ref == "expert":
        if not world:
            raise SpecError("--teacher expert: name the --world whose expert to use")
        ref = world_expert(host_of(args), world, where="--teacher expert")
    return build_teacher(teachers.get(ref, where="--teacher"), ref, policy_options(args.teacher_option, "--teacher-option"))


def build_student(args: argparse.Namespace, inputs: int, outputs: int) -> Any:
    from tutelage.cli import host_of

    model_type = host_of(args).registry("model_types").get(args.model_type, where="--model-type")
    return model_type.build((inputs,), outputs, seed=args.seed, hidden=tuple(args.hidden), activation=args.activation)


def run_dagger(args: argparse.Namespace, train: dict[str, Any]) -> Any:
    from tutelage.cli import host_of
    from tutelage.methods.dagger import dagger
    from tutelage.rollouts.rollout import check_world
    from tutelage.sim.spaces import io_sizes

    host = host_of(args)
    check_world(args.world)
    teacher = resolve_teacher(args, args.world)
    student = build_student(args, *io_sizes(args.world))
    return dagger(args.world, teacher, student, rounds=args.rounds, episodes_per_round=args.episodes_per_round,
                  edge_case_fraction=args.edge_case_fraction, max_steps=args.max_steps, quiet=args.quiet,
                  callbacks=host.callbacks(), workers=args.workers, backend=args.backend, plugins=host.local, **train)


def load_arrays(path: str) -> tuple[np.ndarray, np.ndarray | None, str]:
    """``(X, y or None, dataset id)`` from an .npz (X, optional y) file."""
    file = Path(path)
    try:
        with np.load(file, allow_pickle=False) as data:
            if "X" not in data.files:
                raise DataError(f"{path}: missing array 'X' (found {sorted(data.files)})")
            X = np.asarray(data["X"], np.float32)
            y = np.asarray(data["y"]) if "y" in data.files else None
    except UserError:
        raise
    except Exception as exc:
        raise DataError(f"{path}: not a readable .npz file: {exc}") from None
    if not np.isfinite(X).all():
        raise DataError(f"{path}: field 'X' holds {int(np.count_nonzero(~np.isfinite(X)))} NaN or infinite values")
    return X.reshape(len(X), -1), y, file.name


def data_source(path: str) -> str:
    if Path(path).is_dir():
        return "dataset"
    if Path(path).suffix == ".npz" and Path(path).is_file():
        return "npz"
    raise DataError(f"{path}: --data must be a dataset directory or an .npz file")


def run_bc(args: argparse.Namespace, train: dict[str, Any]) -> Any:
    from tutelage.methods.bc import as_targets, behavior_cloning, dataset_arrays

    if data_source(args.data) == "npz":
        X, y, name = load_arrays(args.data)
        if y is None:
            raise DataError(f"{args.data}: bc needs the actions as array 'y'")
        teacher = args.teacher
    else:
        X, y, name, generator = dataset_arrays(open_dataset(args), args.target)
        teacher = args.teacher or generator
    targets = as_targets(y)
    outputs = int(targets.max()) + 1 if targets.ndim == 1 else targets.shape[1]
    student = build_student(args, X.shape[1], outputs)
    student, derivation = behavior_cloning(student, (X, y), teacher=teacher, quiet=args.quiet, **train)
    derivation.dataset = name  # the arrays' source, read once
    return student, derivation


def run_kd(args: argparse.Namespace, train: dict[str, Any]) -> Any:
    from tutelage.methods.kd import distill

    teacher = resolve_teacher(args) if args.teacher else None
    X, y, logits, name, recorded = kd_data(args.data, offline=teacher is None, allow_incomplete=args.allow_incomplete)
    if teacher is None and logits is None:
        raise SpecError("--teacher: kd needs a model teacher, or a dataset labelled with teacher.logits")
    outputs = logits.shape[1] if logits is not None else int(np.prod(teacher.model.output_shape))
    student = build_student(args, X.shape[1], outputs)
    student, derivation = distill(teacher, X, y, student, temperature=args.temperature, alpha=args.alpha,
                                  logits=logits, dataset=name, quiet=args.quiet, **train)
    if teacher is None:  # the teacher that wrote the logits is the parent, as if it had run
        derivation.teacher = derivation.parent = recorded
    return student, derivation


def open_dataset(args: argparse.Namespace) -> Any:
    """The ``--data`` dataset directory, checked (incomplete ones only with ``--allow-incomplete``)."""
    from tutelage.data import Dataset

    return Dataset(args.data, allow_incomplete=args.allow_incomplete)


def kd_data(path: str, offline: bool, allow_incomplete: bool = False
            ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, str, str | None]:
    """``(X, y, offline logits, dataset id, recorded teacher)`` from an .npz or a dataset directory."""
    if data_source(path) == "npz":
        X, y, name = load_arrays(path)
        return X, y, None, name, None
    from tutelage.data import Dataset
    from tutelage.methods.bc import dataset_arrays
    from tutelage.methods.teacher_outputs import teacher_outputs

    dataset = Dataset(path, allow_incomplete=allow_incomplete)
    name = str(dataset.info.get("id") or dataset.root.name)
    if offline:  # the dataset carries the teacher's logits
        X, logits, recorded = teacher_outputs(dataset)
        return X, None, logits, name, recorded
    X, _, name, _ = dataset_arrays(dataset)
    return X, None, None, name, None
