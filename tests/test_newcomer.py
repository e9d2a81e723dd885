"""A newcomer's first hour: the documented commands in order, typos in them, and what the terminal shows."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from test_docs import ALL, shell_code

ROOT = Path(__file__).resolve().parents[1]
TUTELAGE = str(Path(sys.executable).parent / "tutelage")


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{out.get('PATH', '')}"
    out.pop("TUTELAGE_REGISTRY", None)
    out["COLUMNS"] = "80"
    return out


def tutelage(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([TUTELAGE, *args], cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout)


def documented_commands() -> list[list[str]]:
    """Every ``tutelage ...`` command line of the README's and the docs' runnable shell snippets, in order."""
    commands = []
    for snippet in ALL:
        if snippet.language not in ("bash", "sh", "console") or snippet.mark == "skip":
            continue
        for line in shell_code(snippet).replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("tutelage ") and "$(" not in line and ">" not in line:
                commands.append(shlex.split(line)[1:])
    return commands


def typo(word: str) -> str:
    """``word`` with two letters swapped (or a letter doubled), as a hurried hand types it."""
    for i in range(len(word) - 1):
        if word[i] != word[i + 1] and word[i].isalpha() and word[i + 1].isalpha():
            return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word + word[-1:]


@pytest.mark.slow
def test_the_documented_session_runs_in_order(tmp_path):
    """The README's and the docs' runnable snippets, in reading order, in one fresh folder."""
    for snippet in ALL:
        if snippet.language not in ("bash", "sh", "console", "python") or snippet.mark == "skip":
            continue
        command = ([sys.executable, "-c", snippet.code] if snippet.language == "python"
                   else ["bash", "-e", "-o", "pipefail", "-c", shell_code(snippet)])
        result = subprocess.run(command, cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=1800)
        assert result.returncode == 0, f"{snippet.id}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        assert "Traceback" not in result.stderr, snippet.id
        if snippet.language != "python":  # (a plugin author's own `import pybullet` prints pybullet's banner)
            assert "pybullet build time" not in result.stdout + result.stderr, snippet.id


def test_the_documented_commands_cover_every_command():
    named = {command[0] for command in documented_commands()}
    assert {"examples", "distill", "quantize", "models", "evaluate", "generate", "train", "show"} <= named


#: one typo per command (in a world, a policy, a file, a choice or a flag), each a clean exit 2
TYPOS = [
    ["evaluate", "expert", "--world", "tutelage/Reach-v9"],
    ["evaluate", "expret", "--world", "tutelage/Reach-v0"],
    ["evaluate", "expert", "--world", "tutelage/Reach-v0", "--edge-case", "cluterred"],
    ["evaluate", "teacher.safetensros", "--world", "tutelage/Reach-v0"],
    ["examples", "digtis"],
    ["train", "mpl", "digits.npz", "--out", "m.safetensors"],
    ["train", "mlp", "digits.npz", "--out", "m.safetensors", "--epcohs", "2"],
    ["train", "mlp", "dgits.npz", "--out", "m.safetensors"],
    ["distill", "--method", "kb", "--data", "digits.npz", "--out", "s.safetensors"],
    ["distill", "--method", "kd", "--teacher", "teahcer.safetensors", "--data", "digits.npz", "--out", "s.safetensors"],
    ["quantize", "tecaher.safetensors"],
    ["show", "tecaher"],
    ["models", "tecaher"],
    ["generate", "tutelage/Reach-v0", "--policy", "exprt", "--episodes", "2", "--out", "d"],
    ["failures", "tutelage/Reach-v0", "--policy", "exprt", "--out", "f.json"],
    ["run", "reahc"],
    ["sims", "--show", "reahc"],
]


def test_a_typo_in_any_command_is_one_clean_error(tmp_path):
    assert tutelage("examples", "digits", "--out", ".", "--epochs", "1", "--quiet", cwd=tmp_path).returncode == 0
    for argv in TYPOS:
        result = tutelage(*argv, cwd=tmp_path, timeout=120)
        assert result.returncode == 2, (argv, result.stdout[-500:], result.stderr[-1500:])
        assert "Traceback" not in result.stderr + result.stdout, argv
        assert result.stderr.strip(), argv


@pytest.mark.slow
def test_no_documented_command_with_a_typo_prints_a_traceback(tmp_path):
    """Each documented command with a typo in one of its first words at a time: the command, its subject and
    the first option (later words are mostly output names and counts, where a typo is still a valid command)."""
    assert tutelage("examples", "digits", "--out", ".", "--epochs", "1", "--quiet", cwd=tmp_path).returncode == 0
    for command in documented_commands():
        for i in range(min(len(command), 4)):
            argv = [*command[:i], typo(command[i]), *command[i + 1:]]
            result = tutelage(*argv, cwd=tmp_path, timeout=900)
            assert "Traceback" not in result.stderr + result.stdout, (argv, result.stderr[-2000:])


def test_evaluate_prints_one_table_with_intervals_and_no_banner(tmp_path):
    result = tutelage("evaluate", "expert", "random", "--world", "tutelage/Reach-v0", "--episodes", "4",
                      "--max-steps", "30", "--workers", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "pybullet build time" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    rows = {line.split("│")[1].strip(): line for line in lines if line.startswith("│")}
    assert set(rows) == {"expert", "random"}
    assert re.search(r"\d+\.\d % \(\d+–\d+\)", rows["expert"])  # the rate and its 95 % interval


def test_every_commands_help_prints(capsys):
    from tutelage.cli import commands, main

    for name in commands():
        with pytest.raises(SystemExit) as stop:
            main([name, "--help"])
        assert stop.value.code == 0, name
        assert f"usage: tutelage {name}" in capsys.readouterr().out
