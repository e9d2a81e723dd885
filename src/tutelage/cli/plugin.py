"""``tutelage plugin new NAME``: write a pip-installable plugin package with tests, one module per kind."""
from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from tutelage.errors import UserError

NAME = "plugin"
HELP = "write a new plugin package (tutelage plugin new NAME)"

#: kind -> (module and test file stem, hook, what the README says it contributes)
KINDS: dict[str, tuple[str, str, str]] = {
    "model": ("models", "tutelage_model_types",
              "model type `{name}-normed`: dense layers with LayerNorm (options hidden, activation, squash)"),
    "teacher": ("teachers", "tutelage_teachers",
                "teacher `{name}-noisy-reach`: the Reach expert plus Gaussian noise (option `sigma`, seeded by `reset(seed)`)"),
    "critic": ("critics", "tutelage_critics", "critic `{name}-length`: keeps outputs within \"at most N words\""),
    "judge": ("judges", "tutelage_judges", "judge `{name}-shorter`: the shorter output wins"),
    "world": ("world", "tutelage_worlds",
              "world `{name}/Ball-v0` (PyBullet: push a ball to a target; metrics, edge cases) and its expert `{name}-ball-expert`"),
    "stage": ("stages", "tutelage_stage_types", "stage type `{name}-random`: a random-action baseline in the run's world"),
}
#: registry names each kind's module contributes
CONTRIBUTES = {"model": ["{name}-normed"], "teacher": ["{name}-noisy-reach"], "critic": ["{name}-length"],
               "judge": ["{name}-shorter"], "world": ["{name}/Ball-v0", "{name}-ball-expert"], "stage": ["{name}-random"]}
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    new = sub.add_parser("new", help="write a plugin package NAME into --out", description="write a plugin package")
    new.add_argument("name", metavar="NAME", help="distribution name: lower-case letters, digits, '-' or '_'")
    new.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated kinds to include (default: {','.join(KINDS)})")
    new.add_argument("--out", default=".", help="folder to write the package folder NAME into (default: .)")


def run(args: argparse.Namespace) -> int:
    target = render(args.name, parse_kinds(args.kinds), Path(args.out))
    print(f"wrote {target}  (next: pip install -e \"{target}[test]\" && python -m pytest {target})")
    return 0


def parse_kinds(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise UserError(f"--kinds: unknown kind {unknown[0]!r} (choose from {', '.join(KINDS)})" if unknown
                        else "--kinds: name at least one kind")
    return [k for k in KINDS if k in kinds]


def render(name: str, kinds: list[str], out: Path) -> Path:
    """Write the package ``out/name`` (all at once: nothing is left behind on an error); return its folder."""
    if not _NAME.match(name):
        raise UserError(f"plugin name {name!r}: use lower-case letters and digits, words joined by '-' or '_'")
    target = out / name
    if target.exists():
        raise UserError(f"{target}: already exists; choose another NAME or --out")
    if not out.is_dir():
        raise UserError(f"--out {out}: no such folder")
    module = name.replace("-", "_")
    if importlib.util.find_spec(module) is not None:
        raise UserError(f"plugin name {name!r}: a module {module!r} is already importable; choose another NAME")
    names = sorted(n.format(name=name) for kind in kinds for n in CONTRIBUTES[kind])
    imports = "".join(f"from {module}.{KINDS[k][0]} import {KINDS[k][1]}  # noqa: F401\n" for k in kinds)
    if "world" in kinds:
        imports += f"from {module}.world import world_experts  # noqa: F401\n"
    values = {
        "name": name, "module": module, "kinds": ", ".join(kinds), "world_id": f"{name}/Ball-v0", "imports": imports,
        "names": repr(names), "contents": "\n".join(f"- {KINDS[k][2].format(name=name)}" for k in kinds),
    }
    wanted = {"README.md", "pyproject.toml", "__init__.py", "test_plugin.py"}
    wanted |= {f"{KINDS[k][0]}.py" for k in kinds} | {f"test_{KINDS[k][0]}.py" for k in kinds}
    templates = resources.files("tutelage") / "templates" / "plugin"
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=out))
    try:
        for source, relative in _walk(templates, Path()):
            if relative.name.removesuffix(".tmpl") not in wanted:
                continue
            path = staging / Path(str(relative).replace("__module__", module)).with_suffix("")
            path.parent.mkdir(parents=True, exist_ok=True)
            text = source.read_text(encoding="utf-8")
            for key, value in values.items():
                text = text.replace("{{" + key + "}}", value)
            path.write_text(text, encoding="utf-8")
        staging.chmod(0o755)  # mkdtemp makes it private
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _walk(folder, relative: Path):
    """(template file, path relative to the template root) for every ``.tmpl`` file under ``folder``."""
    for entry in folder.iterdir():
        if entry.is_dir():
            yield from _walk(entry, relative / entry.name)
        elif entry.name.endswith(".tmpl"):
            yield entry, relative / entry.name
