"""The fault corpus passes: 0 tracebacks, 0 silent wrong results, 0 writes on refused input, no NaN saved."""
from __future__ import annotations

import subprocess
import sys

import pytest

from fuzz_corpus import CATEGORIES, run_corpus, table


def _failures(outcomes) -> str:
    return "\n".join(f"[{o.case.category}] {o.case.name}: {o.verdict} {o.detail}\n{o.stderr[-600:]}"
                     for o in outcomes if not o.ok)


def test_corpus_passes(tmp_path):
    outcomes = run_corpus(tmp_path, seed=0, scale=1)
    assert {o.case.category for o in outcomes} == set(CATEGORIES)
    assert len(outcomes) >= 120
    assert all(o.ok for o in outcomes), _failures(outcomes) + "\n" + table(outcomes)
    refused = [o for o in outcomes if o.verdict == "refused"]
    assert len(refused) >= 0.9 * len(outcomes)  # the cases that may succeed are few


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_corpus_passes_at_scale(tmp_path, seed):
    outcomes = run_corpus(tmp_path, seed=seed, scale=30)
    assert len(outcomes) >= 500
    assert all(o.ok for o in outcomes), _failures(outcomes) + "\n" + table(outcomes)


@pytest.mark.parametrize("argv, names", [
    (["quantize", "missing[/x].safetensors"], ["missing[/x].safetensors", "no such model file"]),
    (["run", "absent[[stages]].toml"], ["absent[[stages]].toml", "not found"]),
])
def test_a_real_process_prints_one_plain_line(argv, names, tmp_path):
    """Out of process too: exit 2, one line, the markup-like text verbatim, no traceback."""
    result = subprocess.run([sys.executable, "-m", "tutelage.cli", *argv], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if not line.startswith("pybullet build time")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr
    assert all(name in lines[0] for name in names)
    assert list(tmp_path.iterdir()) == []
