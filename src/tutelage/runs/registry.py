"""The lineage registry: one SQLite file indexing runs, datasets and models with their parents.

Several runs may write to one registry at once: the database is in WAL mode,
every connection waits (busy timeout) instead of failing on a lock, and every
write is one ``BEGIN IMMEDIATE`` transaction. The default file is
``<runs folder>/lineage.db``; ``--registry`` or ``TUTELAGE_REGISTRY`` choose another.

Dataset and model rows are keyed by (content id, run): two runs that make the
same artifact (same seed, same content) each keep their row, and reads give
one entry per artifact listing every run that made it (``runs``).
"""
from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tutelage.errors import UnknownNameError, UserError

ENV_VAR = "TUTELAGE_REGISTRY"
DEFAULT_NAME = "lineage.db"
BUSY_TIMEOUT_MS = 60_000
KEYS = {"runs": ("id",), "datasets": ("id", "run_id"), "models": ("id", "run_id")}

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, run_dir TEXT NOT NULL, world TEXT, seed INTEGER,
    status TEXT NOT NULL, started REAL NOT NULL, finished REAL, summary TEXT
);
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT NOT NULL, run_id TEXT NOT NULL DEFAULT '', path TEXT NOT NULL, world TEXT, policy TEXT,
    parent_model TEXT, episodes INTEGER, synthetic_share REAL, created REAL NOT NULL, PRIMARY KEY (id, run_id)
);
CREATE TABLE IF NOT EXISTS models (
    id TEXT NOT NULL, run_id TEXT NOT NULL DEFAULT '', path TEXT NOT NULL, model_type TEXT, method TEXT,
    parent TEXT, dataset TEXT, teacher TEXT, n_params INTEGER, size_bytes INTEGER,
    metrics TEXT, created REAL NOT NULL, PRIMARY KEY (id, run_id)
);
CREATE INDEX IF NOT EXISTS models_parent ON models(parent);
"""
#: provenance columns added after the first schema (issue 15), added to older registries on open
ADDED_COLUMNS = {"datasets": {"synthetic_depth": "INTEGER", "synthetic_depth_rows": "TEXT"}, "models": {"data_depth": "INTEGER", "collapse_guard": "TEXT"}}

def _add_columns(db: sqlite3.Connection) -> None:
    for table, columns in ADDED_COLUMNS.items():
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        for column, kind in columns.items():
            if column not in present:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def default_path(runs_folder: str | os.PathLike | None = None) -> Path:
    """``$TUTELAGE_REGISTRY``, else ``<runs folder>/lineage.db`` (``runs/`` by default)."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return Path(runs_folder or "runs") / DEFAULT_NAME


class Lineage:
    """Read and write the lineage registry at ``path``."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            _use_wal(db)
            with self._write(db):
                _key_rows_per_run(db)
                for statement in SCHEMA.strip().split(";"):
                    if statement.strip():
                        db.execute(statement)
                _add_columns(db)

    # -- connections --------------------------------------------------------

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise UserError(f"{self.path}: cannot open the lineage registry: {exc}") from None
        try:
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            db.row_factory = sqlite3.Row
            yield db
        except sqlite3.DatabaseError as exc:
            raise UserError(f"{self.path}: lineage registry error: {exc}") from None
        finally:
            db.close()

    @staticmethod
    @contextlib.contextmanager
    def _write(db: sqlite3.Connection) -> Iterator[None]:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _upsert(self, table: str, row: dict[str, Any]) -> None:
        """Insert ``row``, or update the row with its key (a resumed run) keeping when it was first created."""
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        updates = ", ".join(f"{c} = excluded.{c}" for c in row if c not in KEYS[table] and c != "created")
        with self._connect() as db, self._write(db):
            db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks}) "
                       f"ON CONFLICT ({', '.join(KEYS[table])}) DO UPDATE SET {updates}", tuple(row.values()))

    # -- writes ---------------------------------------------------------------

    def add_run(self, run_id: str, name: str, run_dir: str, world: str, seed: int) -> None:
        self._upsert("runs", {"id": run_id, "name": name, "run_dir": run_dir, "world": world, "seed": seed,
                              "status": "running", "started": time.time()})

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any] | None = None) -> None:
        with self._connect() as db, self._write(db):
            db.execute("UPDATE runs SET status = ?, finished = ?, summary = ? WHERE id = ?",
                       (status, time.time(), json.dumps(summary) if summary is not None else None, run_id))

    def add_dataset(self, dataset_id: str, *, run_id: str, path: str, world: str, policy: str,
                    parent_model: str | None = None, episodes: int = 0, synthetic_share: float = 0.0,
                    synthetic_depth: int | None = None, synthetic_depth_rows: dict[str, int] | None = None) -> None:
        self._upsert("datasets", {"id": dataset_id, "run_id": run_id, "path": path, "world": world, "policy": policy,
                                  "parent_model": parent_model, "episodes": episodes,
                                  "synthetic_share": synthetic_share, "synthetic_depth": synthetic_depth,
                                  "synthetic_depth_rows": json.dumps(synthetic_depth_rows) if synthetic_depth_rows else None,
                                  "created": time.time()})

    def add_model(self, model_id: str, *, run_id: str, path: str, model_type: str, method: str,
                  parent: str | None = None, dataset: str | None = None, teacher: str | None = None,
                  n_params: int = 0, size_bytes: int = 0, data_depth: int | None = None,
                  collapse_guard: dict[str, Any] | None = None) -> None:
        self._upsert("models", {"id": model_id, "run_id": run_id, "path": path, "model_type": model_type,
                                "method": method, "parent": parent, "dataset": dataset, "teacher": teacher,
                                "n_params": n_params, "size_bytes": size_bytes, "metrics": None,
                                "data_depth": data_depth,
                                "collapse_guard": json.dumps(collapse_guard) if collapse_guard else None,
                                "created": time.time()})

    def set_model_metrics(self, model_id: str, metrics: dict[str, Any]) -> None:
        with self._connect() as db, self._write(db):
            db.execute("UPDATE models SET metrics = ? WHERE id = ?", (json.dumps(metrics, sort_keys=True), model_id))

    # -- reads ----------------------------------------------------------------

    def runs(self) -> list[dict[str, Any]]:
        with self._connect() as db:
            return [dict(r) for r in db.execute("SELECT * FROM runs ORDER BY started")]

    def datasets(self) -> list[dict[str, Any]]:
        """One entry per dataset (its first row), with ``runs``: every run that made it."""
        with self._connect() as db:
            return _per_artifact(_dataset_row(r) for r in db.execute("SELECT * FROM datasets ORDER BY created, id, run_id"))

    def models(self) -> list[dict[str, Any]]:
        """One entry per model (its first row), with ``runs``: every run that made it."""
        with self._connect() as db:
            return _per_artifact(_model_row(r) for r in db.execute("SELECT * FROM models ORDER BY created, id, run_id"))

    def find_model(self, ref: str) -> dict[str, Any]:
        """The model ``ref`` names: an id, a model file, a name (the file's stem, e.g. a run's stage name
        ``bc-student``; the newest such model) or a unique id prefix."""
        models = self.models()
        by_id = {m["id"]: m for m in models}
        if ref in by_id:
            return by_id[ref]
        if Path(ref).is_file():
            resolved = str(Path(ref).resolve())
            for m in reversed(models):
                if m["path"] == resolved:
                    return m
        named = [m for m in models if Path(m["path"]).name in (ref, f"{ref}.safetensors")]
        if named:
            return max(named, key=lambda m: m["created"])
        try:
            return self.model(ref)
        except UnknownNameError:
            names = sorted({Path(m["path"]).name.removesuffix(".safetensors") for m in models})
            raise UnknownNameError("model (a name, file, id or id prefix)", ref, names, str(self.path)) from None

    def model(self, model_id: str) -> dict[str, Any]:
        """The model whose id is ``model_id`` or starts with it (unique prefix)."""
        with self._connect() as db:
            rows = _per_artifact(_model_row(r) for r in db.execute(
                "SELECT * FROM models WHERE id LIKE ? ORDER BY id, created, run_id", (model_id.replace("%", "") + "%",)))
        exact = [r for r in rows if r["id"] == model_id]
        if exact:
            return exact[0]
        if len(rows) == 1:
            return rows[0]
        if len(rows) > 1:
            raise UserError(f"{self.path}: model id prefix {model_id!r} is ambiguous: {', '.join(r['id'] for r in rows[:8])}")
        raise UnknownNameError("model id", model_id, [r["id"] for r in self.models()], str(self.path))

    def children(self, model_id: str) -> list[dict[str, Any]]:
        with self._connect() as db:
            return _per_artifact(_model_row(r) for r in db.execute(
                "SELECT * FROM models WHERE parent = ? ORDER BY created, id, run_id", (model_id,)))


def record_model_file(path: str | os.PathLike, registry: str | os.PathLike | None = None, run_id: str = "") -> Path:
    """Enter the model file ``path`` (what it records: type, method, parent, dataset, teacher) in the
    registry at ``registry`` (default :func:`default_path`); return the registry's path."""
    from tutelage import nn

    file = Path(path)
    model = nn.load(file)
    info = model.info
    lineage = info.get("lineage") or {}
    target = Path(registry) if registry else default_path()
    Lineage(target).add_model(
        str(info["id"]), run_id=run_id, path=str(file.resolve()), model_type=model_type_of(info),
        method=lineage.get("method") or "supervised", parent=lineage.get("parent"), dataset=lineage.get("dataset"),
        teacher=lineage.get("teacher"), n_params=int(model.n_params), size_bytes=file.stat().st_size,
        data_depth=lineage.get("data_depth"), collapse_guard=lineage.get("collapse_guard"))
    return target


def record_dataset_dir(root: str | os.PathLike, registry: str | os.PathLike | None = None, run_id: str = "") -> Path:
    """Enter the dataset directory ``root`` (its ``meta/info.json``) in the registry; return the registry's path."""
    from tutelage.data import read_info

    info = read_info(root)
    policy = info.get("policy") or {}
    target = Path(registry) if registry else default_path()
    Lineage(target).add_dataset(
        str(info.get("id") or Path(root).name), run_id=run_id, path=str(Path(root).resolve()), world=str(info.get("world")),
        policy=str(policy.get("teacher") or policy.get("name") or ""), parent_model=policy.get("model_id") or None,
        episodes=int(info.get("total_episodes") or 0), synthetic_share=float(info.get("synthetic_share") or 0.0),
        synthetic_depth=info.get("synthetic_depth"), synthetic_depth_rows=info.get("synthetic_depth_rows"))
    return target


def model_type_of(info: dict[str, Any]) -> str:
    """The type shown for a model file: its model type, with ``-int8`` for an int8 copy (as runs record it)."""
    base = str(info.get("model_type") or "")
    method = (info.get("lineage") or {}).get("method")
    return f"{base}-int8" if method == "int8" and not base.endswith("-int8") else base


def _use_wal(db: sqlite3.Connection) -> None:
    """Put the file in WAL mode (a lasting property of the file).

    SQLite does not run the busy handler for this switch, so while another
    process holds the file, wait here, within the same busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _key_rows_per_run(db: sqlite3.Connection) -> None:
    """Re-key a registry written when rows were keyed by content id alone (inside the caller's transaction)."""
    for table in ("datasets", "models"):
        keys = [r[1] for r in db.execute(f"PRAGMA table_info({table})") if r[5]]
        if keys != ["id"]:
            continue
        db.execute(f"ALTER TABLE {table} RENAME TO {table}_by_id")
        create = next(part for part in SCHEMA.split(";") if f"EXISTS {table} (" in part)
        db.execute(create)
        columns = [r[1] for r in db.execute(f"PRAGMA table_info({table}_by_id)")]
        picked = ", ".join("COALESCE(run_id, '')" if c == "run_id" else c for c in columns)
        db.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {picked} FROM {table}_by_id")
        db.execute(f"DROP TABLE {table}_by_id")


def _per_artifact(rows: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows merged by id, in first-seen order: the first row's fields plus ``runs`` (every run id, in order)."""
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = merged.setdefault(row["id"], {**row, "runs": []})
        entry["runs"].append(row["run_id"])
    return list(merged.values())


def _dataset_row(row: sqlite3.Row) -> dict[str, Any]:
    dataset = dict(row)
    rows = dataset.get("synthetic_depth_rows")
    dataset["synthetic_depth_rows"] = json.loads(rows) if rows else None
    return dataset


def _model_row(row: sqlite3.Row) -> dict[str, Any]:
    model = dict(row)
    model["metrics"] = json.loads(model["metrics"]) if model["metrics"] else {}
    model["collapse_guard"] = json.loads(model["collapse_guard"]) if model.get("collapse_guard") else None
    return model


def forest(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The family tree: teachers at the roots, each model under its parent (or its teacher).

    Returns nodes ``{"teacher": name, "children": [...]}`` and
    ``{"model": row, "children": [...]}``; a model whose parent is not in the
    registry hangs under its teacher, or is a root itself.
    """
    nodes = {m["id"]: {"model": m, "children": []} for m in models}
    teachers: dict[str, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    for m in models:
        node = nodes[m["id"]]
        if m["parent"] in nodes:
            nodes[m["parent"]]["children"].append(node)
        elif m["teacher"]:
            if m["teacher"] not in teachers:
                teachers[m["teacher"]] = {"teacher": m["teacher"], "children": []}
                roots.append(teachers[m["teacher"]])
            teachers[m["teacher"]]["children"].append(node)
        else:
            roots.append(node)
    return roots
