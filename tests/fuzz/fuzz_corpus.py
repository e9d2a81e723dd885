"""A generated fault corpus: broken model files, datasets, run specs, NaN/inf, markup and hostile JSON.

Each case builds its inputs in a fresh folder, runs the CLI in this process
(``tutelage.cli.main``) and is judged on what a user sees:

* ``refused``: exit 2, one line on stderr naming the file and the field, no
  traceback, nothing written (the folder's listing is unchanged, apart from a
  declared last-good file), no NaN saved;
* ``accepted``: where a case may also succeed (a learning rate that does not
  diverge, a bit flip in bytes nothing reads), exit 0 with every saved model
  finite and, for datasets, the same model as from the intact data;
* anything else is a failure: ``traceback``, ``exit N``, ``unnamed``,
  ``multi-line``, ``wrote``, ``nan saved`` or ``silent`` (a different model
  from damaged data, without an error).

``python tests/fuzz/fuzz_corpus.py --scale 10`` prints the outcome table per category.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import struct
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CATEGORIES = ("models", "datasets", "specs", "nan", "markup", "json")
ROOT = os.geteuid() == 0  # permission bits do not stop root: those cases are skipped


@dataclass
class Case:
    """One input to try: the command, what its error must name, the folder that must stay unchanged."""

    category: str
    name: str
    argv: list[str]
    names: list[str]
    watch: Path
    allowed: tuple[str, ...] = ()  # files that may appear (a last-good model)
    may_succeed: bool = False
    reference: str | None = None  # model id a successful run must reproduce
    out: Path | None = None  # the model a successful run writes


@dataclass
class Outcome:
    case: Case
    verdict: str
    code: int | None
    stderr: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.verdict in ("refused", "accepted")


# -- the base inputs every case copies ------------------------------------------------------------

SPEC = (Path(__file__).parent / "spec.toml").read_text()


@dataclass
class Base:
    """A valid model file, .npz, dataset and spec, made once; ``reference`` is the model bc makes from the dataset."""

    root: Path
    model: Path = field(init=False)
    npz: Path = field(init=False)
    dataset: Path = field(init=False)
    reference: str = field(init=False)

    page_checksums: bool = True

    def __post_init__(self) -> None:
        from tutelage import nn
        from tutelage.cli import main
        from tutelage.rollouts.generate import generate

        self.root.mkdir(parents=True, exist_ok=True)
        self.model = self.root / "model.safetensors"
        nn.save(nn.Sequential([nn.Dense(8), nn.Tanh(), nn.Dense(3)], input_shape=(4,), seed=1), self.model,
                lineage={"method": "fit"}, metadata={"note": "base"})
        rng = np.random.default_rng(0)
        X = rng.standard_normal((64, 4)).astype(np.float32)
        self.npz = self.root / "data.npz"
        np.savez(self.npz, X=X, y=(X[:, 0] > 0).astype(np.int64))
        self.dataset = self.root / "ds"
        generate("Pendulum-v1", "random", 4, self.dataset, episodes_per_shard=2, max_steps=10, seed=1, progress=False)
        if self.page_checksums:  # as a writer with Parquet page checksums would store them
            for shard in self.dataset.rglob("file-*.parquet"):
                pq.write_table(pq.read_table(shard), shard, compression="zstd", write_page_checksum=True)
        out = self.root / "reference.safetensors"
        with _captured():
            assert main(bc_argv(self.dataset, out)) == 0
        self.reference = nn.load(out).info["id"]


def bc_argv(data: Path, out: Path) -> list[str]:
    return ["distill", "--method", "bc", "--data", str(data), "--out", str(out), "--epochs", "1",
            "--hidden", "4", "--quiet"]


# -- helpers that damage files -------------------------------------------------------------------

def _header(path: Path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + size]), data[8 + size:]


def rewrite_header(path: Path, edit: Callable[[dict], None], resign: bool) -> None:
    """Edit a model file's metadata; ``resign`` recomputes the checksum as a hostile writer would."""
    from tutelage.nn.serialize import header_checksum

    header, body = _header(path)
    edit(header["__metadata__"])
    if resign:
        header["__metadata__"]["checksum"] = header_checksum(header["__metadata__"])
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + body)


def flip_bit(path: Path, rng: np.random.Generator) -> str:
    data = bytearray(path.read_bytes())
    at, bit = int(rng.integers(len(data))), int(rng.integers(8))
    data[at] ^= 1 << bit
    path.write_bytes(bytes(data))
    return f"byte {at} bit {bit}"


def truncate(path: Path, rng: np.random.Generator) -> str:
    data = path.read_bytes()
    keep = int(rng.integers(len(data)))
    path.write_bytes(data[:keep])
    return f"{keep} of {len(data)} bytes"


def make_loop(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.symlink(path.name, path)


def make_fifo(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.mkfifo(path)


def make_directory(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.mkdir()


def deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


FILESYSTEM = {"directory": make_directory, "symlink loop": make_loop, "fifo": make_fifo,
              "empty": lambda p: p.write_bytes(b""), "random bytes": lambda p: p.write_bytes(os.urandom(333))}
if not ROOT:
    FILESYSTEM["unreadable"] = lambda p: p.chmod(0)


# -- the categories ------------------------------------------------------------------------------

def model_cases(base: Base, work: Callable[[str], Path], rng: np.random.Generator, scale: int) -> Iterator[Case]:
    """Truncated, bit-flipped, edited (re-signed or not) and odd model files, loaded by quantize and show."""
    from tutelage.nn.serialize import model_id, write_model_file

    def case(name: str, damage: Callable[[Path], object], names: list[str], command: str = "quantize") -> Case:
        folder = work(name)
        path = folder / "model.safetensors"
        shutil.copy(base.model, path)
        detail = damage(path)
        argv = (["quantize", str(path), "--out", str(folder / "q.safetensors")] if command == "quantize"
                else ["show", str(path), "--registry", str(folder / "none.db")])
        return Case("models", f"{name} {detail or ''}".strip(), argv, [str(path), *names], folder)

    for i in range(4 * scale):
        yield case(f"truncated #{i}", lambda p: truncate(p, rng), [], "quantize" if i % 2 else "show")
        yield case(f"bit flip #{i}", lambda p: flip_bit(p, rng), [], "show" if i % 2 else "quantize")
    edits = {"model_type": "cnn", "lineage": json.dumps({"parent": "f00"}), "metadata": "{}", "id": "0" * 16}
    for key, value in edits.items():
        yield case(f"edited {key}", lambda p, k=key, v=value: rewrite_header(p, lambda h: h.update({k: v}), False),
                   ["checksum"])
    yield case("checksum removed", lambda p: rewrite_header(p, lambda h: h.pop("checksum"), False), ["checksum"])
    specs = {"10^12 units": {"input_shape": [4], "layers": [{"type": "dense", "units": 10**12}]},
             "3e7 units": {"input_shape": [4], "layers": [{"type": "dense", "units": 3 * 10**7}]},
             "negative shape": {"input_shape": [-4], "layers": [{"type": "dense", "units": 3}]},
             "layers not a list": {"input_shape": [4], "layers": "dense"},
             "spec a list": [1, 2], "units a string": {"input_shape": [4], "layers": [{"type": "dense", "units": "8"}]},
             "huge activation": {"input_shape": [10**6, 10**6], "layers": [{"type": "relu"}]}}
    for label, spec in specs.items():
        yield case(f"re-signed spec: {label}",
                   lambda p, s=spec: rewrite_header(p, lambda h: h.update(spec=json.dumps(s)), True), ["spec"])
    for key in ("spec", "lineage", "metadata"):
        yield case(f"re-signed {key} nested 50,000 deep",
                   lambda p, k=key: rewrite_header(p, lambda h: h.update({k: deep_json(50_000)}), True), [key])
    yield case("re-signed unknown format", lambda p: rewrite_header(p, lambda h: h.update(format="x-9"), True),
               ["format"])

    def nan_model(path: Path) -> None:
        from tutelage import nn

        model = nn.load(base.model)
        model.theta[3] = np.nan
        tensors = {f"{i}.{layer.type}.{n}": v for i, layer in enumerate(model.layers) for n, v in layer.params.items()}
        write_model_file(path, tensors, fmt="tutelage-model-1", ident=model_id(model), spec=model.spec,
                         model_type="mlp", lineage={}, metadata={})

    yield case("NaN weight, valid id and checksum", nan_model, ["0.dense.weight", "NaN"])
    for label, damage in FILESYSTEM.items():
        yield case(label, damage, [])
    yield case("missing", lambda p: p.unlink(), ["no such model file"])


def dataset_cases(base: Base, work: Callable[[str], Path], rng: np.random.Generator, scale: int) -> Iterator[Case]:
    """Shards missing, damaged or rewritten with another schema; info.json broken; read by distill and train."""
    shards = [f"data/chunk-000/file-00{i}.parquet" for i in range(2)]
    episodes = [f"meta/episodes/chunk-000/file-00{i}.parquet" for i in range(2)]

    def case(name: str, relative: str, damage: Callable[[Path], object], names: list[str],
             may_succeed: bool = False, command: str = "distill") -> Case:
        folder = work(name)
        data = folder / "ds"
        shutil.copytree(base.dataset, data, symlinks=True)
        detail = damage(data / relative)
        out = folder / "out.safetensors"
        argv = bc_argv(data, out) if command == "distill" else ["train", "mlp", str(data), "--out", str(out),
                                                                 "--epochs", "1", "--quiet"]
        return Case("datasets", f"{name} {detail or ''}".strip(), argv, [str(data), *names], folder,
                    may_succeed=may_succeed, reference=base.reference if command == "distill" else None, out=out)

    for i in range(2 * scale):
        target = shards[i % 2] if i % 3 else episodes[i % 2]
        yield case(f"truncated shard #{i}", target, lambda p: truncate(p, rng), [target])
        yield case(f"bit flip in shard #{i}", target, lambda p: flip_bit(p, rng), [target], may_succeed=True)
    for target in (shards[1], episodes[0]):
        yield case("deleted shard", target, lambda p: p.unlink(), [target, "missing"])
        for label, damage in FILESYSTEM.items():
            yield case(f"shard: {label}", target, damage, [target], command="train" if label == "fifo" else "distill")

    def rewrite(path: Path, change: Callable[[pa.Table], pa.Table]) -> None:
        pq.write_table(change(pq.read_table(path)), path)

    schema_changes = {
        "column dropped": lambda t: t.drop_columns(["reward"]),
        "column retyped": lambda t: t.set_column(t.schema.get_field_index("reward"), "reward",
                                                 t.column("reward").cast(pa.float64())),
        "rows lost": lambda t: t.slice(0, t.num_rows - 3),
        "extra column": lambda t: t.append_column("extra", pa.array(np.zeros(t.num_rows))),
    }
    for label, change in schema_changes.items():
        yield case(f"shard {label}", shards[0], lambda p, c=change: rewrite(p, c), [shards[0]])
    yield case("episode rows lost", episodes[1], lambda p: rewrite(p, lambda t: t.slice(0, 1)), [episodes[1]])

    def info_edit(edit: Callable[[dict], object]) -> Callable[[Path], None]:
        def damage(path: Path) -> None:
            info = json.loads(path.read_text())
            replaced = edit(info)
            path.write_text(json.dumps(info if replaced is None else replaced))
        return damage

    infos = {
        "a list": (info_edit(lambda i: [i]), ["JSON object"]),
        "generation missing": (info_edit(lambda i: i.pop("generation") and None), ["generation"]),
        "features a list": (info_edit(lambda i: i.update(features=[])), ["features"]),
        "episodes a string": (info_edit(lambda i: i["generation"].update(episodes="4")), ["generation.episodes"]),
        "complete = false": (info_edit(lambda i: i.update(complete=False)), ["not complete", "--allow-incomplete"]),
        "total_frames off by one": (info_edit(lambda i: i.update(total_frames=i["total_frames"] + 1)),
                                    ["total_frames"]),
        "shape not sizes": (info_edit(lambda i: i["features"]["action"].update(shape=["x"])), ["features.action.shape"]),
        "not UTF-8": (lambda p: p.write_bytes(b"\xff\xfe{" + os.urandom(20)), ["UTF-8"]),
        "nested 50,000 deep": (lambda p: p.write_text(deep_json(50_000)), ["nested"]),
        "nested 40 deep": (lambda p: p.write_text(json.dumps({"a": json.loads(deep_json(40))})), ["nested"]),
        "truncated JSON": (lambda p: p.write_text(p.read_text()[:50]), ["JSON"]),
        "a directory": (make_directory, ["directory"]),
    }
    for label, (damage, names) in infos.items():
        yield case(f"info.json {label}", "meta/info.json", damage, ["info.json", *names],
                   command="train" if "UTF" in label else "distill")


def spec_cases(base: Base, work: Callable[[str], Path], rng: np.random.Generator, scale: int) -> Iterator[Case]:
    """Run specs with bad values (NaN, inf, huge counts, bad model options) and unreadable spec files."""
    def case(name: str, text: str | bytes | None, names: list[str], damage: Callable[[Path], None] | None = None,
             filename: str = "fuzz.toml") -> Case:
        folder = work(name)
        path = folder / filename
        if isinstance(text, bytes):
            path.write_bytes(text)
        elif text is not None:
            path.write_text(text)
        if damage is not None:
            damage(path)
        argv = ["run", str(path), "--out", str(folder / "runs"), "--quiet"]
        return Case("specs", name, argv, [str(path), *names], folder)

    def replaced(old: str, new: str) -> str:
        assert old in SPEC, old
        return SPEC.replace(old, new, 1)

    values = {
        "lr = nan": ("lr = 0.001", "lr = nan", "lr"), "lr = inf": ("lr = 0.001", "lr = inf", "lr"),
        "lr = -inf": ("lr = 0.001", "lr = -inf", "lr"),
        "fraction = nan": ("edge_case_fraction = 0.2", "edge_case_fraction = nan", "edge_case_fraction"),
        "stage fraction = inf": ("backend = \"process\"", "edge_case_fraction = inf", "edge_case_fraction"),
        "alpha = nan": ("epochs = 3", "alpha = nan", "alpha"),
        "temperature = inf": ("epochs = 3", "temperature = inf", "temperature"),
        "episodes = 2**63 - 1": ("episodes = 2\n", "episodes = 9223372036854775807\n", "episodes"),
        "epochs = 10**12": ("epochs = 3", "epochs = 1000000000000", "epochs"),
        "workers = 10**9": ("backend = \"process\"", "workers = 1000000000", "workers"),
        "seed = -1": ("seed = 1", "seed = -1", "seed"), "seed = 2**40": ("seed = 1", "seed = 1099511627776", "seed"),
        "hidden = \"big\"": ("hidden = [8]", "hidden = \"big\"", "hidden"),
        "hidden = [0]": ("hidden = [8]", "hidden = [0]", "hidden"),
        "hidden = [10**9]": ("hidden = [8]", "hidden = [1000000000]", "hidden"),
        "hidden = []": ("hidden = [8]", "hidden = []", "hidden"),
        "activation unknown": ("hidden = [8]", "hidden = [8], activation = \"relux\"", "activation"),
        "dropout = 2": ("hidden = [8]", "hidden = [8], dropout = 2.0", "dropout"),
        "unknown option": ("hidden = [8]", "hidden = [8], depth = 3", "depth"),
        "gif_edge_case unknown": (None, None, "gif_edge_case"),
        "scenario_type.parameter unknown": (None, None, "scenario_type.parameter"),
        "nested 40 deep": ("seed = 1", "seed = 1\ndeep = " + deep_json(40), "deep"),
        "list of NaN": ("policies = [\"expert\", \"student\"]", "policies = [\"expert\", \"student\"]\nx = [1.0, nan]",
                        "x"),
    }
    for label, (old, new, key) in values.items():
        if label == "gif_edge_case unknown":
            text = SPEC + "gif_edge_case = \"black-ice\"\n"
        elif label == "scenario_type.parameter unknown":
            text = SPEC + "scenario_type = { parameter = \"gravity\", edges = [0.5], labels = [\"low\", \"high\"] }\n"
        else:
            text = replaced(old, new)
        yield case(label, text, [key])
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        yield case("backend = ray without Ray", replaced("backend = \"process\"", "backend = \"ray\""),
                   ["backend", "pip install 'tutelage[ray]'"])
    yield case("binary file", bytes(rng.integers(0, 256, 400, dtype=np.uint8)), ["UTF-8"])
    yield case("UTF-16 file", SPEC.encode("utf-16"), ["UTF-8"])
    yield case("nested 50,000 deep", "a = " + deep_json(50_000), ["nested"])
    yield case("larger than 1 MiB", SPEC + "#" * (1 << 20), ["larger"])
    yield case("invalid TOML", SPEC + "[[stages\n", ["TOML"])
    yield case("empty", "", ["name"])
    for label, damage in FILESYSTEM.items():
        if label not in ("empty", "random bytes"):
            yield case(f"spec file: {label}", SPEC, [], damage)
    for i in range(scale):  # random single-line corruptions of a valid spec (those that stay valid are skipped)
        lines = SPEC.splitlines()
        at = int(rng.integers(len(lines)))
        if "=" not in lines[at]:
            continue
        value = str(rng.choice(["nan", "inf", "-inf", "-1", '""', "[]", "{}", "9223372036854775807", "1e308"]))
        lines[at] = f"{lines[at].split('=')[0].strip()} = {value}"
        text = "\n".join(lines) + "\n"
        if _valid(text):
            continue
        yield case(f"random value #{i}: {lines[at]}", text, [])


def _valid(text: str) -> bool:
    from tutelage.errors import UserError
    from tutelage.plugins import get_host
    from tutelage.runs.spec import parse, validate

    try:
        validate(parse("probe", text), "probe", get_host())
    except UserError:
        return False
    return True


def nan_cases(base: Base, work: Callable[[str], Path], rng: np.random.Generator, scale: int) -> Iterator[Case]:
    """Non-finite arguments and data, and learning rates that may diverge: no NaN model is ever saved."""
    def train(name: str, extra: list[str], names: list[str], data: Path | None = None, may_succeed: bool = False,
              diverges: bool = False) -> Case:
        folder = work(name)
        out = folder / "model.safetensors"
        argv = ["train", "mlp", str(data or base.npz), "--out", str(out), "--epochs", "3", "--quiet", *extra]
        allowed = (out.name + ".last-good.safetensors",) if diverges or may_succeed else ()
        return Case("nan", name, argv, names, folder, allowed=allowed, may_succeed=may_succeed, out=out)

    for value in ("nan", "inf", "-inf", "0"):
        yield train(f"--lr {value}", [f"--lr={value}"], ["--lr"])
    yield train("--validation nan", ["--validation=nan"], ["--validation"])
    for field_name, bad in (("X", np.inf), ("y", np.nan)):
        folder = work(f"data {field_name}")
        X = np.random.default_rng(1).standard_normal((32, 4)).astype(np.float32)
        y = X[:, :1].copy()
        (X if field_name == "X" else y)[5, 0] = bad
        np.savez(folder / "bad.npz", X=X, y=y)
        yield train(f"{bad} in field {field_name}", [], [str(folder / "bad.npz"), repr(field_name)], folder / "bad.npz")
    regression = work("regression data") / "regression.npz"
    X = np.random.default_rng(2).standard_normal((64, 4)).astype(np.float32)
    np.savez(regression, X=X, y=X[:, :2] * 10)
    out_name = "model.safetensors"
    yield train("regression, sgd --lr 1e30", ["--optimizer", "sgd", "--lr", "1e30"],
                [out_name, out_name + ".last-good.safetensors", "not written"], regression, diverges=True)
    for i in range(2 * scale):
        exponent = int(rng.integers(1, 39))
        data = regression if i % 2 else base.npz
        yield train(f"{data.stem}, sgd --lr 1e{exponent}", ["--optimizer", "sgd", "--lr", f"1e{exponent}"],
                    [out_name + ".last-good.safetensors"], data, may_succeed=True)
    for flag, value in (("--lr", "inf"), ("--alpha", "nan"), ("--temperature", "inf"), ("--lr", "nan")):
        folder = work(f"distill {flag}")
        yield Case("nan", f"distill {flag} {value}", bc_argv(base.dataset, folder / "o.safetensors") + [f"{flag}={value}"],
                   [flag], folder)


def markup_cases(base: Base, work: Callable[[str], Path], rng: np.random.Generator, scale: int) -> Iterator[Case]:
    """Paths, keys and messages holding rich markup are printed as they are."""
    for label in ("[/x]", "[bold]", "[[stages]]", "[red]x[/red]"):
        folder = work(f"markup {label}")
        odd = folder / f"m{label}" / f"model{label}.safetensors"
        yield Case("markup", f"missing model path {label}", ["quantize", str(odd)], [str(odd)], folder)
        spec = folder / f"spec{label.replace('/', '')}.toml"
        spec.write_text(SPEC + f'"{label}" = 1\n')
        yield Case("markup", f"spec key {label}", ["run", str(spec), "--out", str(folder / "runs")],
                   [str(spec), label], folder)
        yield Case("markup", f"model option {label}",
                   ["train", "mlp", str(base.npz), "--out", str(folder / "m.safetensors"), "--option", f"{label}=1"],
                   [label], folder)


def json_cases(base: Base, work: Callable[[str], Path], rng: np.random.Generator, scale: int) -> Iterator[Case]:
    """Hostile JSON and files in a run folder (resume) and a registry that is not one."""
    state = {"run_id": "fuzz-1", "status": "failed", "done": {}, "order": []}
    spec = {"source": "fuzz.toml", "name": "fuzz", "description": "", "seed": 1, "world": "tutelage/Driving-v0",
            "plugins": [], "scenarios": {}, "quick": False,
            "stages": [{"name": "demos", "type": "generate", "settings": {"episodes": 2}}]}
    broken = {"not JSON": "{", "a list": "[]", "nested 50,000 deep": deep_json(50_000), "empty object": "{}",
              "not UTF-8": b"\xff\xfe\x00{", "wrong types": json.dumps({**state, "done": [], "order": 3})}
    for file, good in (("state.json", state), ("spec.json", spec)):
        for label, text in broken.items():
            folder = work(f"{file} {label}")
            run_dir = folder / "fuzz-run"
            run_dir.mkdir()
            (run_dir / "state.json").write_text(json.dumps(state))
            (run_dir / "spec.json").write_text(json.dumps(spec))
            target = run_dir / file
            target.write_bytes(text if isinstance(text, bytes) else text.encode())
            yield Case("json", f"{file} {label}", ["run", "--resume", str(run_dir), "--quiet"], [str(target)], folder)
    for label, content in (("random bytes", os.urandom(4096)), ("text", b"not a database\n" * 10)):
        folder = work(f"registry {label}")
        registry = folder / "lineage.db"
        registry.write_bytes(content)
        yield Case("json", f"registry file of {label}", ["models", "--registry", str(registry)], [str(registry)], folder)


GENERATORS = {"models": model_cases, "datasets": dataset_cases, "specs": spec_cases, "nan": nan_cases,
              "markup": markup_cases, "json": json_cases}


# -- running and judging -------------------------------------------------------------------------

@contextlib.contextmanager
def _captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield out, err


def listing(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under ``folder`` (links not followed): size, modification time and mode."""
    entries = {}
    for top, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(top, name)
            st = os.lstat(path)
            entries[os.path.relpath(path, folder)] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return entries


def non_finite_models(folder: Path, written: set[str]) -> list[str]:
    """Models the command wrote under ``folder`` that hold NaN or inf (read with plain safetensors)."""
    from safetensors.numpy import load_file

    bad = []
    for name in sorted(written):
        path = folder / name
        if name.endswith(".safetensors") and path.is_file() and not path.is_symlink():
            try:
                tensors = load_file(str(path))
            except Exception:  # damaged inputs of the case itself
                continue
            if any(t.dtype.kind == "f" and not np.isfinite(t).all() for t in tensors.values()):
                bad.append(name)
    return bad


def run_case(case: Case) -> Outcome:
    from tutelage.cli import main

    before = listing(case.watch)
    try:
        with _captured() as (_, err):
            code = main(case.argv)
    except BaseException:  # noqa: BLE001 - an escaped exception is what this corpus looks for
        return Outcome(case, "traceback", None, traceback.format_exc())
    stderr = err.getvalue()
    after = listing(case.watch)
    written = {p for p in after if before.get(p) != after[p]}
    new = {p for p in written - set(before) if not any(p.endswith(a) for a in case.allowed)}
    changed = written & set(before)
    nan_saved = non_finite_models(case.watch, written)
    if nan_saved:
        return Outcome(case, "nan saved", code, stderr, str(nan_saved))
    if "Traceback" in stderr:
        return Outcome(case, "traceback", code, stderr)
    if code == 0 and case.may_succeed:
        if case.reference and case.out is not None:
            from tutelage import nn

            if nn.load(case.out).info["id"] != case.reference:
                return Outcome(case, "silent", code, stderr, "a different model from damaged data, exit 0")
        return Outcome(case, "accepted", code, stderr)
    if code != 2:
        return Outcome(case, f"exit {code}", code, stderr)
    if len(stderr.strip().splitlines()) != 1 or not stderr.startswith("error: "):
        return Outcome(case, "multi-line", code, stderr)
    missing = [name for name in case.names if name not in stderr]
    if missing:
        return Outcome(case, "unnamed", code, stderr, f"does not name {missing}")
    if new or changed:
        return Outcome(case, "wrote", code, stderr, f"new {sorted(new)}, changed {sorted(changed)}")
    return Outcome(case, "refused", code, stderr)


def run_corpus(root: Path, seed: int = 0, scale: int = 1, categories: tuple[str, ...] = CATEGORIES,
               page_checksums: bool = True) -> list[Outcome]:
    """Build the base inputs under ``root``, generate every category's cases and run them.

    ``page_checksums=False`` keeps the dataset's shards as ``generate`` writes them today (no page checksums).
    """
    base = Base(root / "base", page_checksums)
    rng = np.random.default_rng(seed)
    counter = Counter()

    def work(name: str) -> Path:
        counter["n"] += 1
        folder = root / f"case-{counter['n']:05d}"
        folder.mkdir()
        return folder

    outcomes = []
    for category in categories:
        for case in GENERATORS[category](base, work, rng, scale):
            outcomes.append(run_case(case))
            _restore(case.watch)
    return outcomes


def _restore(folder: Path) -> None:
    """Give unreadable cases their permissions back so the folder can be removed."""
    for top, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(top, name)
            if not os.path.islink(path):
                os.chmod(path, 0o755)


def table(outcomes: list[Outcome]) -> str:
    """Cases and verdicts per category, as Markdown."""
    verdicts = sorted({o.verdict for o in outcomes})
    per = defaultdict(Counter)
    for o in outcomes:
        per[o.case.category][o.verdict] += 1
    lines = ["| category | cases | " + " | ".join(verdicts) + " |", "|---" * (len(verdicts) + 2) + "|"]
    for category in CATEGORIES:
        if per[category]:
            counts = per[category]
            lines.append(f"| {category} | {sum(counts.values())} | " + " | ".join(str(counts[v]) for v in verdicts) + " |")
    total = Counter(o.verdict for o in outcomes)
    lines.append(f"| all | {len(outcomes)} | " + " | ".join(str(total[v]) for v in verdicts) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    import tempfile
    import time

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1, help="multiplies the random cases (truncations, bit flips...)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--categories", nargs="+", default=list(CATEGORIES), choices=CATEGORIES)
    parser.add_argument("--no-page-checksums", action="store_true",
                        help="keep the dataset's shards as generate writes them (no Parquet page checksums)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        results = run_corpus(Path(scratch), options.seed, options.scale, tuple(options.categories),
                             not options.no_page_checksums)
        print(table(results))
        print(f"\n{len(results)} cases in {time.perf_counter() - started:.1f} s (seed {options.seed}, scale {options.scale})")
        for o in results:
            if not o.ok:
                print(f"FAILED [{o.case.category}] {o.case.name}: {o.verdict} {o.detail}\n{o.stderr[-800:]}")
