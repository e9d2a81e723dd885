"""Lifecycle hooks: a logger plugin hears tutelage_run_start and tutelage_run_end with the run's spec and summary."""
from __future__ import annotations

import json

from runs_helpers import PLUGIN, TINY, cli, only_run_dir, summary_of
from tutelage import hookimpl
from tutelage.plugins import get_host


class Recorder:
    def __init__(self):
        self.calls = []

    @hookimpl
    def tutelage_run_start(self, run_dir, spec):
        self.calls.append(("start", run_dir, dict(spec)))

    @hookimpl
    def tutelage_run_end(self, run_dir, summary):
        self.calls.append(("end", run_dir, dict(summary)))


def test_run_start_and_end_hooks_are_called(tmp_path, capsys):
    recorder = Recorder()
    pm = get_host([PLUGIN]).pm
    pm.register(recorder, name="recorder")
    try:
        assert cli("run", str(TINY), "--out", str(tmp_path), "--quiet", "--json") == 0
    finally:
        pm.unregister(name="recorder")
    run_dir = only_run_dir(tmp_path)
    printed = json.loads(capsys.readouterr().out)
    (start, end) = recorder.calls
    assert start[0] == "start" and start[1] == str(run_dir) and start[2]["name"] == "tiny"
    assert [s["name"] for s in start[2]["stages"]] == ["data", "student", "int8", "eval"]
    assert end[0] == "end" and end[2] == printed == summary_of(run_dir)
