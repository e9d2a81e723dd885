"""Constitutional training (Bai et al. 2022) for simulated worlds: critique, revise, retrain.

The student drives; a critic holding a constitution (:mod:`tutelage.constitution`)
reviews every step and proposes a revised action for each principle broken;
the steps go into a records dataset (Parquet, one file per episode, written
atomically, so a killed critique resumes where it stopped with identical
records); the student is fine-tuned on its own steps with the revisions as
targets; and the loop repeats for K rounds, so the student's new mistakes are
critiqued in turn (as DAgger does with an expert).

Record columns: ``episode_index``, ``frame_index``, ``time``, ``edge_case``,
``observation``, ``previous_action``, ``action`` (the student's), ``revised_action``
(equal to ``action`` where no principle is broken), ``violation``, ``principle``
(the most severe broken), ``critique`` (the reasons, in words), ``severity``
(summed over broken principles), ``fixed`` (every broken principle kept by
the revision; null without a violation), per broken principle the lists
``principles``, ``principle_fixed``, ``methods``, ``reasons``, ``confidences``,
and ``critic`` and ``constitution`` (its id: name, version and file hash).
"""
from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tutelage import fileio
from tutelage.constitution import Constitution, Step
from tutelage.errors import DataError, SpecError
from tutelage.methods.bc import train_supervised
from tutelage.methods.lineage import Derivation, model_id, parent_id
from tutelage.progress import progress
from tutelage.rollouts.plan import EpisodePlan, EpisodePlanner
from tutelage.rollouts.policy import as_policy, observation_vector, reset_policy
from tutelage.rollouts.rollout import make_env, run_episode

MANIFEST = "critique.json"
EPISODE_META = b"tutelage.episode"


def critic_features(observation: Any, action: Any, previous_action: Any) -> np.ndarray:
    """What a sensor-only critic reads: the observation vector, the action, the previous action (zeros first)."""
    action = np.asarray(action, dtype=np.float32).ravel()
    previous = np.zeros_like(action) if previous_action is None else np.asarray(previous_action, np.float32).ravel()
    return np.concatenate([observation_vector(observation), action, previous])


def _schema() -> Any:
    import pyarrow as pa

    floats, texts = pa.list_(pa.float32()), pa.list_(pa.string())
    return pa.schema([
        ("episode_index", pa.int64()), ("frame_index", pa.int32()), ("time", pa.float64()), ("edge_case", pa.string()),
        ("observation", floats), ("previous_action", floats), ("action", floats), ("revised_action", floats),
        ("violation", pa.bool_()), ("principle", pa.string()), ("critique", pa.string()), ("severity", pa.float64()),
        ("fixed", pa.bool_()), ("principles", texts), ("principle_fixed", pa.list_(pa.bool_())), ("methods", texts),
        ("reasons", texts), ("confidences", floats), ("critic", pa.string()), ("constitution", pa.string()),
    ])


def critique_episode(env: Any, act: Callable[[Any, dict], Any], critic: Any, constitution: Constitution,
                     plan: EpisodePlan, *, critic_name: str = "") -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """Play ``plan`` with ``act`` while ``critic`` reviews every step; return ``(columns, episode meta)``."""
    rows: dict[str, list[Any]] = {name: [] for name in _schema().names}
    previous: list[np.ndarray | None] = [None]
    scenario = plan.scenario or {}

    def on_step(observation: Any, info: dict, action: Any) -> None:
        step = Step(observation, info, previous[0], scenario)
        taken = np.asarray(action, dtype=np.float64).ravel()
        critiques = sorted(critic.review(step, taken), key=lambda c: -c.severity)
        revised = np.asarray(critiques[0].revision, dtype=np.float64) if critiques else taken
        values = {
            "episode_index": plan.index, "frame_index": len(rows["frame_index"]), "time": step.time,
            "edge_case": plan.edge_case, "observation": observation_vector(observation),
            "previous_action": previous[0], "action": taken, "revised_action": revised,
            "violation": bool(critiques), "principle": critiques[0].principle if critiques else "",
            "critique": "; ".join(c.reason for c in critiques), "severity": float(sum(c.severity for c in critiques)),
            "fixed": all(c.fixed for c in critiques) if critiques else None,
            "principles": [c.principle for c in critiques], "principle_fixed": [bool(c.fixed) for c in critiques],
            "methods": [c.method for c in critiques], "reasons": [c.reason for c in critiques],
            "confidences": [float(getattr(c, "confidence", 1.0)) for c in critiques],
            "critic": critic_name or getattr(critic, "name", type(critic).__name__), "constitution": constitution.id,
        }
        for name, value in values.items():
            rows[name].append(value)
        previous[0] = taken

    meta = run_episode(env, act, plan, on_step=on_step).meta
    return rows, meta


def _write_episode(path: Path, rows: dict[str, list[Any]], meta: dict[str, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _schema().with_metadata({EPISODE_META: json.dumps(meta, sort_keys=True, default=_plain).encode()})
    table = pa.Table.from_pydict({name: rows[name] for name in schema.names}, schema=schema)
    with fileio.atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value.tolist() if isinstance(value, np.ndarray) else str(value)


def episode_path(out_dir: Path, index: int) -> Path:
    return Path(out_dir) / "records" / f"episode-{index:06d}.parquet"


def critique_episodes(world: str, policy: Any, critic: Any, constitution: Constitution, plans: Sequence[EpisodePlan],
                      out_dir: str | Path, *, policy_id: str = "", critic_name: str = "", max_steps: int | None = None,
                      quiet: bool = True) -> "Records":
    """Critique ``policy`` on every plan into ``out_dir`` (one Parquet file per episode, written
    atomically); episodes already written are kept, so a killed run resumes with identical records."""
    out = Path(out_dir)
    critic_name = critic_name or getattr(critic, "name", type(critic).__name__)
    manifest = {"world": world, "policy": policy_id, "critic": critic_name, "constitution": constitution.id,
                "episodes": [p.index for p in plans]}
    if (out / MANIFEST).exists():
        earlier = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        if earlier != manifest:
            changed = sorted(k for k in manifest if earlier.get(k) != manifest[k])
            raise SpecError(f"{out}: holds another critique (different {', '.join(changed)}); use a new folder")
    else:
        fileio.write_json(out / MANIFEST, manifest)
    todo = [p for p in plans if not episode_path(out, p.index).exists()]
    if todo:
        act = as_policy(policy)
        with contextlib.closing(make_env(world, max_steps=max_steps)) as env, \
                progress("critique", len(todo), quiet, unit="episode") as advance:
            for plan in todo:
                reset_policy(policy, plan.seeds.policy)
                rows, meta = critique_episode(env, act, critic, constitution, plan, critic_name=critic_name)
                _write_episode(episode_path(out, plan.index), rows, meta)
                advance(1)
    return Records.read(out, constitution)


class Records:
    """A critique's records: the steps (a pyarrow Table) and each episode's meta."""

    def __init__(self, table: Any, episodes: list[dict[str, Any]], constitution: Constitution):
        self.table, self.episodes, self.constitution = table, episodes, constitution

    @classmethod
    def read(cls, out_dir: str | Path, constitution: Constitution) -> "Records":
        """Every episode file under ``out_dir/records`` (several folders: :meth:`concat`)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        files = sorted((Path(out_dir) / "records").glob("episode-*.parquet"))
        if not files:
            raise DataError(f"{out_dir}: no critique records (records/episode-*.parquet)")
        tables = [pq.read_table(f) for f in files]
        episodes = [json.loads(t.schema.metadata[EPISODE_META]) for t in tables]
        return cls(pa.concat_tables([t.replace_schema_metadata(None) for t in tables]), episodes, constitution)

    @classmethod
    def concat(cls, parts: Sequence["Records"]) -> "Records":
        import pyarrow as pa

        return cls(pa.concat_tables([p.table for p in parts]), [e for p in parts for e in p.episodes], parts[0].constitution)

    def column(self, name: str) -> list[Any]:
        return self.table.column(name).to_pylist()

    def matrix(self, name: str) -> np.ndarray:
        return np.array(self.column(name), dtype=np.float32)

    def summary(self, examples: int = 3) -> dict[str, Any]:
        """Violations per principle (steps, onsets, onsets per km or per 1,000 steps, share fixed), the
        severity-weighted rate, task success and a few critique sentences."""
        return summarize_records(self, examples)


def summarize_records(records: Records, examples: int = 3) -> dict[str, Any]:
    constitution = records.constitution
    episodes = records.episodes
    steps = sum(int(e["length"]) for e in episodes)
    km = sum(float(e.get("distance_m") or 0.0) for e in episodes) / 1000.0
    unit, amount = ("km", km) if km > 0 else ("1000 steps", steps / 1000.0)
    stats = {p.id: {"steps": 0, "onsets": 0, "fixed": 0} for p in constitution.principles}
    previous: set[str] = set()
    last_episode = None
    sentences: dict[str, list[str]] = defaultdict(list)
    for episode, names, fixed, reasons in zip(records.column("episode_index"), records.column("principles"),
                                              records.column("principle_fixed"), records.column("reasons")):
        if episode != last_episode:
            previous, last_episode = set(), episode
        for name, ok, reason in zip(names, fixed, reasons):
            entry = stats.setdefault(name, {"steps": 0, "onsets": 0, "fixed": 0})
            entry["steps"] += 1
            entry["fixed"] += int(bool(ok))
            if name not in previous:
                entry["onsets"] += 1
                if len(sentences[name]) < examples:
                    sentences[name].append(reason)
        previous = set(names)
    severity = constitution.severity()
    principles = {}
    for name, entry in stats.items():
        principles[name] = {
            **entry, "per_unit": entry["onsets"] / amount if amount else 0.0,
            "fixed_share": entry["fixed"] / entry["steps"] if entry["steps"] else None,
            "examples": sentences.get(name, []),
        }
    weighted = sum(severity.get(n, 1.0) * e["onsets"] for n, e in stats.items())
    successes = [bool(e.get("success")) for e in episodes]
    return {
        "episodes": len(episodes), "steps": steps, "km": km, "unit": unit,
        "success_rate": float(np.mean(successes)) if successes else None,
        "violations": sum(e["onsets"] for e in stats.values()),
        "violations_per_unit": sum(e["onsets"] for e in stats.values()) / amount if amount else 0.0,
        "weighted_per_unit": weighted / amount if amount else 0.0,
        "violating_steps": int(sum(records.column("violation"))),
        "principles": principles, "constitution": constitution.id,
    }


def revision_targets(records: Records, *, include_unfixed: bool = False, violation_weight: int = 1
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``(X, Y)`` for fine-tuning: every step's observation with the revised action as target (the
    student's own action where nothing was broken). Steps whose revision did not fix the violation
    are left out unless ``include_unfixed``; violating steps repeat ``violation_weight`` times."""
    X, Y = records.matrix("observation"), records.matrix("revised_action")
    violation = np.array(records.column("violation"), dtype=bool)
    fixed = np.array([f is not False for f in records.column("fixed")], dtype=bool)
    keep = fixed | include_unfixed
    repeat = np.where(violation, max(int(violation_weight), 1), 1) * keep
    return np.repeat(X, repeat, axis=0), np.repeat(Y, repeat, axis=0)


def finetune(student: Any, records: Records, *, epochs: int = 20, batch_size: int = 64, lr: float = 5e-4,
             seed: int = 0, violation_weight: int = 2, include_unfixed: bool = False, callbacks: Any = ()) -> Any:
    """Fine-tune ``student`` (warm start) on the revisions in ``records``; return the fit History."""
    X, Y = revision_targets(records, include_unfixed=include_unfixed, violation_weight=violation_weight)
    if len(X) == 0:
        raise DataError("no steps to fine-tune on")
    return train_supervised(student, X, Y, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, warm_start=True,
                            callbacks=callbacks)


def constitutional_training(
    world: str,
    student: Any,
    critic: Any,
    constitution: Constitution,
    out_dir: str | Path,
    *,
    rounds: int = 3,
    episodes_per_round: int = 10,
    seed: int = 0,
    edge_case_fraction: float = 0.25,
    sampler: Any = None,
    start: Records | None = None,
    max_steps: int | None = None,
    epochs: int = 20,
    batch_size: int = 64,
    lr: float = 5e-4,
    violation_weight: int = 2,
    include_unfixed: bool = False,
    quiet: bool = True,
    callbacks: Any = (),
    on_round: Callable[[int, Any, dict[str, Any]], None] | None = None,
) -> tuple[Any, Derivation]:
    """K rounds of critique → revise → fine-tune; return ``(student, derivation)``.

    Round ``k`` critiques the current student on training episodes
    ``k·n .. (k+1)·n - 1`` into ``out_dir/round-k`` (resumable), adds them to
    the earlier rounds' records (and ``start``, an earlier critique of the
    same student), and fine-tunes on all of them. The derivation's parent is
    the student's id; its dataset names the constitution (with its hash).
    """
    if rounds < 1 or episodes_per_round < 1:
        raise SpecError(f"rounds and episodes_per_round must be at least 1, got {rounds} and {episodes_per_round}")
    critic_name = getattr(critic, "name", type(critic).__name__)
    derivation = Derivation("constitution", parent=parent_id(student), teacher=f"critic:{critic_name}",
                            dataset=f"constitution:{constitution.id}:{world}:seed={seed}:{rounds}x{episodes_per_round}")
    planner = EpisodePlanner(sampler, edge_case_fraction=edge_case_fraction)
    parts = [start] if start is not None else []
    for round_num in range(rounds):
        plans = planner.plans(seed, episodes_per_round, start=round_num * episodes_per_round)
        records = critique_episodes(world, student, critic, constitution, plans, Path(out_dir) / f"round-{round_num}",
                                    policy_id=f"{model_id(student) or 'student'}:round-{round_num}",
                                    critic_name=critic_name, max_steps=max_steps, quiet=quiet)
        parts.append(records)
        history = finetune(student, Records.concat(parts), epochs=epochs, batch_size=batch_size, lr=lr,
                           seed=seed + round_num, violation_weight=violation_weight, include_unfixed=include_unfixed,
                           callbacks=callbacks)
        summary = records.summary(examples=0)
        record = {"round": round_num, "episodes": summary["episodes"], "violations": summary["violations"],
                  "violations_per_unit": summary["violations_per_unit"], "unit": summary["unit"],
                  "weighted_per_unit": summary["weighted_per_unit"], "success_rate": summary["success_rate"],
                  "violating_share": summary["violating_steps"] / max(summary["steps"], 1),
                  "loss": float(history.loss[-1]) if history.epochs else None}
        derivation.history.append(record)
        if on_round is not None:
            on_round(round_num, student, record)
    derivation.metrics["samples"] = sum(p.table.num_rows for p in parts)
    return student, derivation


# -- the learned critic's data ---------------------------------------------------------------


def critic_dataset(records: Records) -> tuple[np.ndarray, np.ndarray]:
    """``(features, targets)`` to train a sensor-only critic on a rules critic's records: targets are one
    0/1 column per principle (broken or not) followed by the revision's change of the action."""
    ids = records.constitution.ids
    observations, actions = records.matrix("observation"), records.matrix("action")
    previous = [np.zeros(actions.shape[1], np.float32) if p is None else p for p in records.column("previous_action")]
    X = np.concatenate([observations, actions, np.array(previous, dtype=np.float32)], axis=1)
    broken = np.zeros((len(X), len(ids)), dtype=np.float32)
    for row, names in enumerate(records.column("principles")):
        for name in names:
            broken[row, ids.index(name)] = 1.0
    return X, np.concatenate([broken, records.matrix("revised_action") - actions], axis=1)


def train_critic_model(model: Any, records: Records, *, epochs: int = 40, batch_size: int = 128, lr: float = 1e-3,
                       seed: int = 0, balance: bool = True, callbacks: Any = ()) -> Any:
    """Fit ``model`` (inputs: :func:`critic_features`; outputs: a score per principle, then the change
    of the action) to a rules critic's ``records``; return the fit History. With ``balance`` the
    violating steps repeat until they weigh about as much as the others (violations are rare)."""
    X, Y = critic_dataset(records)
    violating = Y[:, : len(records.constitution.ids)].max(axis=1) > 0
    if balance and 0 < violating.sum() < len(Y) / 2:
        repeat = np.where(violating, int(round((len(Y) - violating.sum()) / violating.sum())), 1)
        X, Y = np.repeat(X, repeat, axis=0), np.repeat(Y, repeat, axis=0)
    return train_supervised(model, X, Y, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, standardize=True,
                            callbacks=callbacks)


def agreement(critic: Any, rules: Records) -> dict[str, Any]:
    """How far ``critic`` (reading only what :class:`Step` gives without ``info``) agrees with a rules
    critic's ``records`` on the same steps: precision, recall and F1 of 'some principle is broken'
    (the rules critic is the reference), overall and per principle."""
    def f1(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
        tp = float(np.sum(predicted & truth))
        precision = tp / max(float(predicted.sum()), 1.0)
        recall = tp / max(float(truth.sum()), 1.0)
        return {"precision": precision, "recall": recall,
                "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
                "positives": int(truth.sum()), "steps": int(len(truth))}

    ours = [{c.principle for c in critic.review(Step(obs, None, None if prev is None else np.asarray(prev)), action)}
            for obs, prev, action in zip(rules.matrix("observation"), rules.column("previous_action"),
                                         rules.matrix("action"))]
    theirs = [set(x) for x in rules.column("principles")]
    out: dict[str, Any] = f1(np.array([bool(x) for x in ours]), np.array([bool(x) for x in theirs]))
    out["principles"] = {pid: f1(np.array([pid in x for x in ours]), np.array([pid in x for x in theirs]))
                         for pid in rules.constitution.ids}
    return out
