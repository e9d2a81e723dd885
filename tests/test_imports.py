"""The package's import structure: no cycles between modules, no global host below the CLI and the runner."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tutelage

SRC = Path(tutelage.__file__).parent
#: layers that must be handed the plugin host, never look it up
HOST_FREE = ("tutelage.sim", "tutelage.methods", "tutelage.data", "tutelage.train", "tutelage.nn")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Every tutelage module ``path`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != "tutelage":
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in SRC.rglob("*.py")}
    modules = set(files)
    return {name: imports_of(path, modules) - {name} for name, path in files.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(nxt_key := node, set())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[nxt_key] = 2
        return []

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_no_import_cycles():
    assert find_cycle(graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_lower_layers_hold_no_global_host():
    offenders = {name: sorted(deps & {"tutelage.plugins", "tutelage.worlds"})
                 for name, deps in graph().items() if name.startswith(HOST_FREE)}
    assert {name: deps for name, deps in offenders.items() if deps} == {}


def test_import_tutelage_loads_no_plugin_and_no_simulator():
    code = ("import sys, tutelage; heavy = ['pybullet', 'gymnasium', 'scipy', 'tutelage.plugins', 'tutelage_plugins'];"
            "print([m for m in heavy if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_a_fresh_process_makes_a_world_through_the_module_prefix():
    code = ("import gymnasium; env = gymnasium.make('tutelage.worlds:tutelage/Reach-v0');"
            "obs, info = env.reset(seed=1); print(type(info['is_success']).__name__); env.close()")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "bool"
