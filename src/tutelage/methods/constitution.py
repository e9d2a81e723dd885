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


def critic_features(step: Step, action: Any, conditions: Sequence[str] = (), history: bool = True) -> np.ndarray:
    """What a sensor-only critic reads of ``step``: the observation and the action; with ``history``
    the previous action and the change of the observation since the step before (zeros first); then
    the scenario's ``conditions`` (say ``light`` and ``friction``: what a light sensor and a
    road-condition sensor report; 0 where the scenario lacks one)."""
    action = np.asarray(action, dtype=np.float32).ravel()
    observation = observation_vector(step.observation)
    known = np.array([float(step.scenario.get(key, 0.0)) for key in conditions], dtype=np.float32)
    if not history:
        return np.concatenate([observation, action, known])
    previous = np.zeros_like(action) if step.previous_action is None else np.asarray(step.previous_action, np.float32).ravel()
    change = (np.zeros_like(observation) if step.previous_observation is None
              else observation - observation_vector(step.previous_observation))
    return np.concatenate([observation, action, previous, change, known])


def _schema() -> Any:
    import pyarrow as pa

    floats, texts = pa.list_(pa.float32()), pa.list_(pa.string())
    return pa.schema([
        ("episode_index", pa.int64()), ("frame_index", pa.int32()), ("time", pa.float64()), ("edge_case", pa.string()),
        ("observation", floats), ("previous_action", floats), ("action", floats), ("revised_action", floats),
        ("violation", pa.bool_()), ("principle", pa.string()), ("critique", pa.string()), ("severity", pa.float64()),
        ("fixed", pa.bool_()), ("principles", texts), ("principle_fixed", pa.list_(pa.bool_())), ("methods", texts),
        ("reasons", texts), ("confidences", floats), ("critic", pa.string()), ("constitution", pa.string()),
        ("anchor_action", floats), ("anchor_revised", floats), ("anchor_fixed", pa.bool_()),
        ("anchor_principles", texts),
    ])


def critique_episode(env: Any, act: Callable[[Any, dict], Any], critic: Any, constitution: Constitution,
                     plan: EpisodePlan, *, critic_name: str = "", anchor: Callable[[Any, dict], Any] | None = None
                     ) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """Play ``plan`` with ``act`` while ``critic`` reviews every step; return ``(columns, episode meta)``.
    With ``anchor`` (another policy, say the student before fine-tuning) the critic also reviews what
    the anchor would have done at each step: ``anchor_action``, ``anchor_revised``, ``anchor_fixed`` and
    ``anchor_principles`` (the principles the anchor's action breaks)."""
    rows: dict[str, list[Any]] = {name: [] for name in _schema().names}
    previous: list[Any] = [None, None]  # the action and the observation before
    scenario = plan.scenario or {}

    def on_step(observation: Any, info: dict, action: Any) -> None:
        step = Step(observation, info, previous[0], scenario, previous[1])
        taken = np.asarray(action, dtype=np.float64).ravel()
        critiques = sorted(critic.review(step, taken), key=lambda c: -c.severity)
        revised = np.asarray(critiques[0].revision, dtype=np.float64) if critiques else taken
        anchored = _anchor_columns(critic, step, anchor(observation, info)) if anchor is not None else {}
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
            "anchor_action": None, "anchor_revised": None, "anchor_fixed": None, "anchor_principles": None, **anchored,
        }
        for name, value in values.items():
            rows[name].append(value)
        previous[0], previous[1] = taken, observation

    meta = run_episode(env, act, plan, on_step=on_step).meta
    return rows, meta


def _anchor_columns(critic: Any, step: Step, action: Any) -> dict[str, Any]:
    """The anchor's action, what the critic would teach instead (``critic.target``) and the principles
    the anchor's action breaks (a learned critic's counterfactual examples, see :func:`critic_dataset`)."""
    action = np.asarray(action, dtype=np.float64).ravel()
    revised, fixed = critic.target(step, action)
    return {"anchor_action": action, "anchor_revised": np.asarray(revised, dtype=np.float64), "anchor_fixed": bool(fixed),
            "anchor_principles": [c.principle for c in critic.review(step, action)]}


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
                      quiet: bool = True, anchor: Any = None, anchor_id: str = "") -> "Records":
    """Critique ``policy`` on every plan into ``out_dir`` (one Parquet file per episode, written
    atomically); episodes already written are kept, so a killed run resumes with identical records.
    ``anchor``: a second policy whose action the critic also reviews at every step (see
    :func:`critique_episode`)."""
    out = Path(out_dir)
    critic_name = critic_name or getattr(critic, "name", type(critic).__name__)
    manifest = {"world": world, "policy": policy_id, "critic": critic_name, "constitution": constitution.id,
                "episodes": [p.index for p in plans]}
    if anchor is not None:
        manifest["anchor"] = anchor_id or model_id(anchor) or "anchor"
    if (out / MANIFEST).exists():
        earlier = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        if earlier != manifest:
            changed = sorted(k for k in manifest if earlier.get(k) != manifest[k])
            raise SpecError(f"{out}: holds another critique (different {', '.join(changed)}); use a new folder")
    else:
        fileio.write_json(out / MANIFEST, manifest)
    todo = [p for p in plans if not episode_path(out, p.index).exists()]
    if todo:
        act, anchor_act = as_policy(policy), as_policy(anchor) if anchor is not None else None
        with contextlib.closing(make_env(world, max_steps=max_steps)) as env, \
                progress("critique", len(todo), quiet, unit="episode") as advance:
            for plan in todo:
                reset_policy(policy, plan.seeds.policy)
                if anchor is not None:
                    reset_policy(anchor, plan.seeds.policy)
                rows, meta = critique_episode(env, act, critic, constitution, plan, critic_name=critic_name,
                                              anchor=anchor_act)
                _write_episode(episode_path(out, plan.index), rows, meta)
                advance(1)
    return Records.read(out, constitution)


def _concat(tables: Sequence[Any]) -> Any:
    """One table of record tables; a column that older records lack (``anchor_principles``) reads as null."""
    import pyarrow as pa

    return pa.concat_tables(tables, promote_options="default")


class Records:
    """A critique's records: the steps (a pyarrow Table) and each episode's meta."""

    def __init__(self, table: Any, episodes: list[dict[str, Any]], constitution: Constitution):
        self.table, self.episodes, self.constitution = table, episodes, constitution

    @classmethod
    def read(cls, out_dir: str | Path, constitution: Constitution) -> "Records":
        """Every episode file under ``out_dir/records`` (several folders: :meth:`concat`)."""
        from tutelage.data.parquet import read_table

        files = sorted((Path(out_dir) / "records").glob("episode-*.parquet"))
        if not files:
            raise DataError(f"{out_dir}: no critique records (records/episode-*.parquet)")
        tables = [read_table(f) for f in files]
        episodes = [json.loads(t.schema.metadata[EPISODE_META]) for t in tables]
        return cls(_concat([t.replace_schema_metadata(None) for t in tables]), episodes, constitution)

    @classmethod
    def concat(cls, parts: Sequence["Records"]) -> "Records":
        return cls(_concat([p.table for p in parts]), [e for p in parts for e in p.episodes], parts[0].constitution)

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


def revision_targets(records: Records, *, include_unfixed: bool = False, violation_weight: int = 1,
                     targets: str = "own") -> tuple[np.ndarray, np.ndarray]:
    """``(X, Y)`` for fine-tuning on ``records``.

    ``targets="own"``: every step's observation with the revised action as target (the student's
    own action where nothing was broken). ``targets="anchor"``: the critic's revision of the
    anchor's action at every step (the anchor's own where it broke nothing; the records need the
    anchor columns). Steps whose revision did not fix the violation are left out unless
    ``include_unfixed``; revised steps repeat ``violation_weight`` times.
    """
    if targets not in ("own", "anchor"):
        raise SpecError(f"targets must be 'own' or 'anchor', got {targets!r}")
    X = records.matrix("observation")
    if targets == "own":
        Y = records.matrix("revised_action")
        revised = np.array(records.column("violation"), dtype=bool)
        fixed = np.array([f is not False for f in records.column("fixed")], dtype=bool)
    else:
        if records.table.column("anchor_revised").null_count:
            raise DataError("targets='anchor' needs records critiqued with an anchor (anchor_revised is empty)")
        Y = records.matrix("anchor_revised")
        revised = np.any(Y != records.matrix("anchor_action"), axis=1)
        fixed = np.array(records.column("anchor_fixed"), dtype=bool)
    keep = fixed | include_unfixed
    repeat = np.where(revised, max(int(violation_weight), 1), 1) * keep
    return np.repeat(X, repeat, axis=0), np.repeat(Y, repeat, axis=0)


def finetune(student: Any, records: Records, *, epochs: int = 20, batch_size: int = 64, lr: float = 5e-4,
             seed: int = 0, violation_weight: int = 2, include_unfixed: bool = False, targets: str = "own",
             callbacks: Any = (), standardize: bool = False) -> Any:
    """Fine-tune ``student`` (warm start) on the revisions in ``records``; return the fit History.
    ``standardize``: train on standardized inputs folded into the student (see
    :mod:`tutelage.methods.standardize`), so inputs on small scales (a light sensor beside a lidar in
    metres) are as easy to use as the rest."""
    X, Y = revision_targets(records, include_unfixed=include_unfixed, violation_weight=violation_weight,
                            targets=targets)
    if len(X) == 0:
        raise DataError("no steps to fine-tune on")
    return train_supervised(student, X, Y, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, warm_start=True,
                            callbacks=callbacks, standardize=standardize)


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
    targets: str = "anchor",
    standardize: bool = False,
    quiet: bool = True,
    callbacks: Any = (),
    on_round: Callable[[int, Any, dict[str, Any]], None] | None = None,
    drive_with: Callable[[Any], Any] | None = None,
) -> tuple[Any, Derivation]:
    """K rounds of critique → revise → fine-tune; return ``(student, derivation)``.

    Round ``k`` critiques the current student on training episodes
    ``k·n .. (k+1)·n - 1`` into ``out_dir/round-k`` (resumable), adds them to
    the earlier rounds' records (and ``start``, an earlier critique of the
    same student), and fine-tunes on all of them. The derivation's parent is
    the student's id; its dataset names the constitution (with its hash).

    ``targets="anchor"`` keeps a frozen copy of the student as it came (the
    anchor) and fine-tunes on the critic's revisions of the *anchor's* action
    at the states the current student visits (see :func:`revision_targets`):
    the targets stay consistent from step to step and round to round, so the
    student changes where the constitution asks and nowhere else.

    ``drive_with(student)`` is the policy that drives in the rounds, say the student behind a
    :class:`tutelage.rollouts.lowpass.LowPassPolicy` as it will be deployed; the model is still what
    is fine-tuned (with anchored targets, on what the critic teaches at the states that policy visits).
    """
    if rounds < 1 or episodes_per_round < 1:
        raise SpecError(f"rounds and episodes_per_round must be at least 1, got {rounds} and {episodes_per_round}")
    if drive_with is not None and targets != "anchor":
        raise SpecError("drive_with: the driving policy's actions are not the model's; use it with targets='anchor'")
    if targets == "anchor" and start is not None:
        raise SpecError("start: an earlier critique has no anchor columns; use it with targets='own'")
    critic_name = getattr(critic, "name", type(critic).__name__)
    derivation = Derivation("constitution", parent=parent_id(student), teacher=f"critic:{critic_name}",
                            dataset=f"constitution:{constitution.id}:{world}:seed={seed}:{rounds}x{episodes_per_round}:targets={targets}")
    planner = EpisodePlanner(sampler, edge_case_fraction=edge_case_fraction)
    parts = [start] if start is not None else []
    anchor = student.copy() if targets == "anchor" else None
    for round_num in range(rounds):
        plans = planner.plans(seed, episodes_per_round, start=round_num * episodes_per_round)
        driver = student if drive_with is None else drive_with(student)
        records = critique_episodes(world, driver, critic, constitution, plans, Path(out_dir) / f"round-{round_num}",
                                    policy_id=f"{model_id(student) or 'student'}:round-{round_num}",
                                    critic_name=critic_name, max_steps=max_steps, quiet=quiet, anchor=anchor,
                                    anchor_id=f"{model_id(student) or 'student'}:anchor")
        parts.append(records)
        history = finetune(student, Records.concat(parts), epochs=epochs, batch_size=batch_size, lr=lr,
                           seed=seed + round_num, violation_weight=violation_weight, include_unfixed=include_unfixed,
                           targets=targets, callbacks=callbacks, standardize=standardize)
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


def record_steps(records: Records) -> list[Step]:
    """Each record row as the sensor-only critic saw it: a :class:`Step` without ``info``, with the
    previous action and observation (None first in an episode) and the episode's scenario."""
    scenarios = {e["episode_index"]: e.get("scenario") or {} for e in records.episodes}
    steps: list[Step] = []
    last = None
    for episode, observation, previous in zip(records.column("episode_index"), records.matrix("observation"),
                                              records.column("previous_action")):
        before = steps[-1].observation if steps and last == episode else None
        steps.append(Step(observation, None, None if previous is None else np.asarray(previous, np.float32),
                          scenarios.get(episode, {}), before))
        last = episode
    return steps


def critic_dataset(records: Records, conditions: Sequence[str] = (), counterfactual: bool = True,
                   history: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(features, targets)`` to train a sensor-only critic on a rules critic's records: features are
    :func:`critic_features`; targets are one 0/1 column per principle (broken or not) followed by the
    change of the action the critic teaches: its ``target`` where the records hold it (the anchor's
    action: every revision applied, so an action near a limit is pulled inside it), else its
    revision (0 where nothing is broken).

    With ``counterfactual`` and records critiqued with an anchor, each step where the anchor would have
    acted otherwise adds a row for the anchor's action with its own verdict: the critic learns to judge
    actions the driving policy did not take (as fine-tuning asks of it once the student has changed),
    not only to recognise where that policy's own mistakes happen."""
    ids = records.constitution.ids
    steps, actions = record_steps(records), records.matrix("action")
    anchors = (zip(*(records.column(name) for name in ("anchor_action", "anchor_revised", "anchor_principles")))
               if "anchor_principles" in records.table.column_names else [(None, None, None)] * len(actions))
    cases, others = [], []
    for step, action, revised, names, (anchor, taught, anchor_names) in zip(
            steps, actions, records.matrix("revised_action"), records.column("principles"), anchors):
        if anchor_names is None:  # no anchor, or records from before its verdict was kept
            cases.append((step, action, revised, names))
        elif np.array_equal(np.asarray(anchor, np.float32), action):
            cases.append((step, action, np.asarray(taught, np.float32), names))
        else:
            cases.append((step, action, revised, names))
            others.append((step, np.asarray(anchor, np.float32), np.asarray(taught, np.float32), anchor_names))
    cases += others if counterfactual else []
    X = np.array([critic_features(step, action, conditions, history) for step, action, _, _ in cases], dtype=np.float32)
    Y = np.zeros((len(cases), len(ids) + actions.shape[1]), dtype=np.float32)
    for row, (_, action, revised, names) in enumerate(cases):
        Y[row, [ids.index(name) for name in names]] = 1.0
        Y[row, len(ids):] = revised - action
    return X, Y


def train_critic_model(model: Any, records: Records, *, conditions: Sequence[str] = (), history: bool = True,
                       epochs: int = 40, batch_size: int = 128, lr: float = 1e-3, seed: int = 0, balance: bool = True,
                       callbacks: Any = ()) -> Any:
    """Fit ``model`` (inputs: :func:`critic_features`; outputs: a score per principle, then the change
    of the action) to a rules critic's ``records``; return the fit History. With ``balance`` each
    principle's violating steps repeat until they weigh about a tenth of the others' (violations
    are rare, some principles very rare)."""
    X, Y = critic_dataset(records, conditions, history=history)
    broken = Y[:, : len(records.constitution.ids)] > 0
    if balance:
        counts = broken.sum(axis=0)
        share = np.where(counts > 0, len(Y) / (10.0 * np.maximum(counts, 1)), 1.0)
        repeat = np.clip(np.max(np.where(broken, share, 1.0), axis=1), 1, 50).round().astype(int)
        X, Y = np.repeat(X, repeat, axis=0), np.repeat(Y, repeat, axis=0)
    return train_supervised(model, X, Y, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, standardize=True,
                            callbacks=callbacks)


def choose_thresholds(model: Any, records: Records, conditions: Sequence[str] = (), history: bool = True,
                      grid: Sequence[float] = tuple(np.round(np.arange(0.1, 0.95, 0.05), 2))) -> list[float]:
    """Per principle, the score threshold with the best F1 against the rules critic on ``records``
    (validation episodes, not the ones the model was trained on); 0.5 where a principle is never broken."""
    X, Y = critic_dataset(records, conditions, history=history)
    scores = np.asarray(model(X), dtype=np.float64)[:, : len(records.constitution.ids)]
    chosen = []
    for j in range(scores.shape[1]):
        truth = Y[:, j] > 0
        if not truth.any():
            chosen.append(0.5)
            continue
        chosen.append(float(max(grid, key=lambda t: _f1(scores[:, j] >= t, truth)["f1"])))
    return chosen


def _f1(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    tp = float(np.sum(predicted & truth))
    precision = tp / max(float(predicted.sum()), 1.0)
    recall = tp / max(float(truth.sum()), 1.0)
    return {"precision": precision, "recall": recall,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
            "positives": int(truth.sum()), "steps": int(len(truth))}


def agreement(critic: Any, rules: Records, *, bootstrap: int = 0, seed: int = 0) -> dict[str, Any]:
    """How far ``critic`` (reading only what :class:`Step` gives without ``info``) agrees with a rules
    critic's ``records`` on the same steps: precision, recall and F1 of 'some principle is broken'
    (the rules critic is the reference), overall and per principle. With ``bootstrap`` resamples,
    ``f1_interval`` is the overall F1's 95 % interval over episodes (steps of one episode move together)."""
    ours = [{c.principle for c in critic.review(step, action)}
            for step, action in zip(record_steps(rules), rules.matrix("action"))]
    theirs = [set(x) for x in rules.column("principles")]
    predicted, truth = np.array([bool(x) for x in ours]), np.array([bool(x) for x in theirs])
    out: dict[str, Any] = _f1(predicted, truth)
    out["principles"] = {pid: _f1(np.array([pid in x for x in ours]), np.array([pid in x for x in theirs]))
                         for pid in rules.constitution.ids}
    if bootstrap:
        out["f1_interval"] = _episode_f1_interval(predicted, truth, np.array(rules.column("episode_index")), bootstrap, seed)
    return out


def _episode_f1_interval(predicted: np.ndarray, truth: np.ndarray, episode: np.ndarray, resamples: int,
                         seed: int) -> list[float]:
    """The 2.5 and 97.5 percentiles of F1 over bootstrap resamples of whole episodes."""
    _, index = np.unique(episode, return_inverse=True)
    counts = np.stack([np.bincount(index, weights=w.astype(float)) for w in (predicted & truth, predicted, truth)])
    draws = np.random.default_rng(seed).integers(0, counts.shape[1], (resamples, counts.shape[1]))
    tp, said, real = counts[:, draws].sum(axis=2)
    f1 = np.divide(2 * tp, said + real, out=np.zeros_like(tp), where=said + real > 0)
    return [float(np.percentile(f1, 2.5)), float(np.percentile(f1, 97.5))]
