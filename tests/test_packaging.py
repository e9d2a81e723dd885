"""Every package on disk is listed in pyproject.toml, so a wheel ships all of it."""
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def packages_on_disk() -> set[str]:
    found = set()
    for base, prefix in ((ROOT / "src" / "tutelage", "tutelage"), (ROOT / "plugins", "tutelage_plugins")):
        for init in base.rglob("__init__.py"):
            parts = init.parent.relative_to(base).parts
            found.add(".".join((prefix, *parts)))
    return found


def test_all_packages_listed():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    assert packages_on_disk() == listed
