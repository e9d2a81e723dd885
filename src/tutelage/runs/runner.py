"""The runner: validate a spec, make the run folder, run each stage, write the summary and report.

``run_spec`` starts a run; ``resume_run`` continues one from its last finished
stage. Every stage gets a seed fixed by the run's seed and its name, and reads
its inputs from files in the run folder, so a resumed run ends with the same
models as an uninterrupted one.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import rich
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from tutelage import fileio
from tutelage.errors import NumericalError, SpecError
from tutelage.plugins import PluginHost
from tutelage.runs.context import MetricsLog, RunContext
from tutelage.runs.registry import Lineage, default_path
from tutelage.runs.spec import RunSpec, validate
from tutelage.runs.state import SPEC_FILE, RunState
from tutelage.runs.summary import summarize

SUMMARY_FILE = "summary.json"


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C or SIGTERM; ``run_dir`` can be resumed."""

    def __init__(self, run_dir: Path):
        super().__init__(str(run_dir))
        self.run_dir = run_dir


def new_run_dir(out: Path, name: str) -> Path:
    """``<out>/<name>-<UTC time>``, made unique if two runs start in the same second."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(1000):
        candidate = out / (f"{name}-{stamp}" + (f"-{attempt + 1}" if attempt else ""))
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise RuntimeError(f"{out}: could not create a run folder for {name!r}")


def run_spec(spec: RunSpec, host: PluginHost, *, out: str | Path = "runs", registry: str | Path | None = None,
             quiet: bool = False) -> dict[str, Any]:
    """Run a validated spec in a new folder under ``out``; return the summary."""
    lineage = Lineage(registry or default_path(out))  # a bad registry path fails before the run folder exists
    run_dir = new_run_dir(Path(out), spec.name)
    fileio.write_json(run_dir / SPEC_FILE, spec.as_dict())
    state = RunState(run_dir)
    state.save()
    return _execute(spec, run_dir, state, host, lineage, quiet)


def load_resumable(run_dir: str | Path, host: PluginHost) -> RunSpec:
    """The resolved spec recorded in a run folder, validated again against the loaded plugins."""
    path = Path(run_dir) / SPEC_FILE
    try:
        resolved = json.loads(fileio.read_limited(path, 64 << 20).decode("utf-8"))
        raw = {key: resolved[key] for key in ("name", "description", "seed", "world", "plugins", "scenarios")}
        raw["stages"] = [{"name": s["name"], "type": s["type"], **s["settings"]} for s in resolved["stages"]]
    except (OSError, UnicodeDecodeError, ValueError, RecursionError, LookupError, TypeError) as exc:
        raise SpecError(f"{path}: not a resolved run spec ({type(exc).__name__}: {str(exc)[:200]})") from None
    return dataclasses.replace(validate(raw, str(path), host), quick=resolved.get("quick", False) is True)


def resume_run(run_dir: str | Path, host: PluginHost, *, registry: str | Path | None = None,
               quiet: bool = False) -> dict[str, Any]:
    """Continue a run from its last finished stage; return the summary."""
    run_dir = Path(run_dir)
    state = RunState.load(run_dir)  # not a run folder: a clear error before the spec is read
    spec = load_resumable(run_dir, host)
    for stray in run_dir.rglob(".tmp-*"):  # a killed atomic write (a model, a plot, a shard) left these
        stray.unlink(missing_ok=True)
    finished = set(state.done)
    log = MetricsLog(run_dir / "metrics.jsonl")
    kept = [r for r in log.read() if r.get("stage") in finished]
    fileio.write_text(log.path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))
    state.data.pop("failed_stage", None)
    state.set_status("running")
    lineage = Lineage(registry or default_path(run_dir.parent))
    return _execute(spec, run_dir, state, host, lineage, quiet)


def _execute(spec: RunSpec, run_dir: Path, state: RunState, host: PluginHost, lineage: Lineage,
             quiet: bool) -> dict[str, Any]:
    run_id = state.run_id
    lineage.add_run(run_id, spec.name, str(run_dir.resolve()), spec.world, spec.seed)
    host.hook.tutelage_run_start(run_dir=str(run_dir), spec=spec.as_dict())
    started = time.perf_counter()
    try:
        with _stop_on_sigterm(), _progress(quiet) as new_task:
            context = RunContext(run_dir, run_id, spec, host, lineage, new_task, quiet)
            work = {stage.name: stage_work(host, stage) for stage in spec.stages}
            advance_run = new_task(sum(work.values()), f"run {spec.name}: work (episodes and epochs)")
            for stage in spec.stages:
                context.stage = stage
                if stage.name in state.done:
                    context.outputs[stage.name] = state.done[stage.name]["result"]
                    advance_run(work[stage.name])
                    continue
                stage_started = time.perf_counter()
                result = host.registry("stage_types").get(stage.type).run(context, dict(stage.settings))
                result = json.loads(json.dumps(result or {}, default=_plain))  # as a resume will read it back
                context.outputs[stage.name] = result
                seconds = round(time.perf_counter() - stage_started, 3)
                context.log(kind="stage", type=stage.type, seconds=seconds,
                            **{k: v for k, v in result.items() if isinstance(v, (int, float, str, bool))})
                state.finish_stage(stage.name, result, seconds)
                advance_run(work[stage.name])
    except KeyboardInterrupt:
        state.set_status("interrupted")
        lineage.finish_run(run_id, "interrupted")
        raise RunInterrupted(run_dir) from None
    except BaseException as exc:
        if isinstance(exc, NumericalError):  # training diverged: say which stage and why
            state.data["failed_stage"] = {"name": context.stage.name, "reason": str(exc)}
        state.set_status("failed")
        lineage.finish_run(run_id, "failed")
        raise
    summary = summarize(spec, run_dir, state, seconds=time.perf_counter() - started)
    fileio.write_json(run_dir / SUMMARY_FILE, summary)
    from tutelage.runs.report import write_report  # matplotlib is imported only when a run finishes

    write_report(run_dir, summary)
    state.set_status("finished")
    lineage.finish_run(run_id, "finished", {k: summary[k] for k in ("policies", "seconds")})
    host.hook.tutelage_run_end(run_dir=str(run_dir), summary=summary)
    return summary


def stage_work(host: PluginHost, stage: Any) -> int:
    """How much work a stage is, for the run's overall bar: its type's ``work(settings)`` when it has
    one, else the episodes it plays (per policy, with DAgger's rounds) plus the epochs it trains."""
    stage_type = host.registry("stage_types").get(stage.type)
    if callable(getattr(stage_type, "work", None)):
        return max(1, int(stage_type.work(dict(stage.settings))))
    s = stage.settings
    count = lambda key: int(s.get(key) or 0) if isinstance(s.get(key), (int, float)) else 0  # noqa: E731
    policies = len(s["policies"]) if isinstance(s.get("policies"), list) else 1
    episodes = (count("episodes") + count("held_out_episodes")) * policies + count("rounds") * count("episodes_per_round")
    return max(1, episodes + count("epochs") * max(1, count("rounds")))


def _plain(value: Any) -> Any:
    """numpy scalars and arrays in a stage's result become plain numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"stage result holds a {type(value).__name__}, which is not JSON")


@contextlib.contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[int, str], Callable[[int], None]]]:
    """Stage progress bars on stderr (stdout stays clean for ``--json``).

    They draw on rich's global console, so the bars of the functions a stage
    calls (generation, evaluation, DAgger) nest inside this display.
    """
    console = rich.get_console()
    previous = console.stderr
    console.stderr = True
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console, disable=quiet,
    )

    def new_task(total: int, description: str) -> Callable[[int], None]:
        task = progress.add_task(description, total=total)
        return lambda n=1: progress.advance(task, n)

    try:
        with progress:
            yield new_task
    finally:
        console.stderr = previous


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt, so a kill stops the run as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
