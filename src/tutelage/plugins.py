"""The plugin manager: built-ins, installed packages and local modules.

Built-in plugins and third-party ones register the same way, through the
``tutelage`` entry-point group; local modules are named with ``--plugin``
(a dotted module name or a path to a ``.py`` file). A plugin that fails to
import, or whose hook raises, or that contributes a name another plugin
already took, is recorded with its error and the others keep working.
"""
from __future__ import annotations

import importlib
import importlib.metadata as metadata
import importlib.util
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from tutelage import hookspecs
from tutelage.errors import UnknownNameError, UserError

ENTRY_POINT_GROUP = "tutelage"
from tutelage import hookimpl  # noqa: E402,F401  (re-exported for plugin authors)

#: registry kind -> (contribution hook, singular noun used in messages)
KINDS: dict[str, tuple[str, str]] = {
    "model_types": ("tutelage_model_types", "model type"),
    "teachers": ("tutelage_teachers", "teacher"),
    "critics": ("tutelage_critics", "critic"),
    "judges": ("tutelage_judges", "judge"),
    "worlds": ("tutelage_worlds", "world"),
    "stage_types": ("tutelage_stage_types", "stage type"),
}


@dataclass
class PluginInfo:
    """One plugin as ``tutelage plugins`` shows it."""

    name: str
    version: str
    source: str  # "builtin", "entrypoint" or "local"
    distribution: str = ""
    error: str | None = None
    contributions: dict[str, list[str]] = field(default_factory=lambda: {kind: [] for kind in KINDS})

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "source": self.source, **self.contributions, "error": self.error}

    def add_error(self, message: str) -> None:
        self.error = message if self.error is None else f"{self.error}; {message}"


class Registry(Mapping[str, Any]):
    """Contributions of one kind by name; ``get`` failures list what exists."""

    def __init__(self, kind: str, noun: str):
        self.kind, self.noun = kind, noun
        self._items: dict[str, Any] = {}
        self.owner: dict[str, str] = {}

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def get(self, name: str, *, where: str = "") -> Any:  # type: ignore[override]
        """The contribution called ``name``; unknown names raise :class:`UnknownNameError` (never a default)."""
        if name in self._items:
            return self._items[name]
        raise UnknownNameError(self.noun, name, self._items, where)

    def __contains__(self, name: object) -> bool:  # UnknownNameError is no KeyError, so Mapping's would raise
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)


class PluginHost:
    """A loaded plugin manager with its registries and the status of every plugin."""

    def __init__(self, local: Iterable[str] = ()):
        self.pm = pluggy.PluginManager("tutelage")
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.registries = {kind: Registry(kind, noun) for kind, (_, noun) in KINDS.items()}
        self._load_entry_points()
        for target in local:
            self._load_local(target)
        self._collect()

    @property
    def hook(self) -> Any:
        """Call lifecycle hooks: ``host.hook.tutelage_run_start(run_dir=..., spec=...)``."""
        return self.pm.hook

    def registry(self, kind: str) -> Registry:
        """The registry of one kind (``"model_types"``, ``"worlds"``, ...)."""
        if kind not in self.registries:
            raise UnknownNameError("registry", kind, self.registries)
        return self.registries[kind]

    def plugins(self) -> list[PluginInfo]:
        return list(self.infos.values())

    # -- loading ------------------------------------------------------------

    def _register(self, module: ModuleType, info: PluginInfo) -> None:
        self.infos[info.name] = info
        try:
            self.pm.register(module, name=info.name)
        except Exception as exc:  # a pluggy validation error names the bad hook
            info.add_error(f"{type(exc).__name__}: {exc}")

    def _load_entry_points(self) -> None:
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist else ""
            version = ep.dist.version if ep.dist else ""
            source = "builtin" if dist == "tutelage" else "entrypoint"
            info = PluginInfo(ep.name, version, source, distribution=dist)
            if ep.name in self.infos:
                info.add_error(f"plugin name {ep.name!r} already used by {self.infos[ep.name].distribution or 'another plugin'}")
                self.infos[f"{ep.name} ({dist})"] = info
                continue
            try:
                module = ep.load()
            except Exception as exc:
                info.add_error(f"failed to import {ep.value!r} from distribution {dist!r}: {type(exc).__name__}: {exc}")
                self.infos[ep.name] = info
                continue
            self._register(module, info)

    def _load_local(self, target: str) -> None:
        path = Path(target)
        name = path.stem if path.suffix == ".py" else target
        info = PluginInfo(name, "", "local", distribution=str(target))
        try:
            if path.suffix == ".py":
                if not path.is_file():
                    raise UserError(f"{target}: plugin file not found")
                spec = importlib.util.spec_from_file_location(f"tutelage_local_{path.stem}", path)
                assert spec and spec.loader
                module = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = module
                spec.loader.exec_module(module)
            else:
                module = importlib.import_module(target)
        except Exception as exc:
            info.add_error(f"failed to import local plugin {target!r}: {type(exc).__name__}: {exc}")
            self.infos[name] = info
            return
        info.version = str(getattr(module, "__version__", ""))
        self._register(module, info)

    def _collect(self) -> None:
        for kind, (hook_name, noun) in KINDS.items():
            registry = self.registries[kind]
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():  # registration order
                info = self.infos[impl.plugin_name]
                try:
                    contributed = dict(impl.function() or {})
                except Exception as exc:
                    info.add_error(f"hook {hook_name} raised {type(exc).__name__}: {exc}")
                    continue
                for name, obj in contributed.items():
                    if name in registry._items:
                        owner = self.infos[registry.owner[name]]
                        info.add_error(
                            f"{noun} {name!r} is already provided by plugin {owner.name!r}"
                            f" ({owner.distribution or owner.source}); ignored"
                        )
                        continue
                    registry._items[name] = obj
                    registry.owner[name] = impl.plugin_name
                    info.contributions[kind].append(name)


_HOSTS: dict[tuple[str, ...], PluginHost] = {}


def get_host(local: Iterable[str] = ()) -> PluginHost:
    """The plugin host for this process (one per set of local plugins), loaded once."""
    key = tuple(local)
    if key not in _HOSTS:
        _HOSTS[key] = PluginHost(key)
    return _HOSTS[key]


def registry(kind: str, local: Iterable[str] = ()) -> Registry:
    """Shortcut for ``get_host(local).registry(kind)``."""
    return get_host(local).registry(kind)
