"""The plugin manager: built-ins, installed packages and local modules.

Built-in plugins and third-party ones register the same way, through the
``tutelage`` entry-point group; local modules are named with ``--plugin``
(a dotted module name or a path to a ``.py`` file). Every contribution is
checked against its protocol when the host loads; a plugin that fails to
import, whose hook raises or returns the wrong thing, that contributes a name
another plugin already took (built-ins always keep theirs), or that
implements a misspelled hook, is recorded with its error, naming its
distribution, and the others keep working. Lifecycle hooks are called through
:meth:`PluginHost.notify`: one that raises is a warning, never a stop.

The host is handed down explicitly (like pytest's ``config``): the CLI and the
runner build one with :func:`get_host` and pass it to what needs lookups.
"""
from __future__ import annotations

import importlib
import importlib.metadata as metadata
import importlib.util
import sys
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from tutelage import hookimpl, hookspecs  # noqa: F401  (hookimpl re-exported for plugin authors)
from tutelage.errors import UnknownNameError, UserError, closest
from tutelage.protocols import WorldSpec

ENTRY_POINT_GROUP = "tutelage"
HOOK_PREFIX = "tutelage_"

#: registry kind -> (contribution hook, singular noun used in messages)
KINDS: dict[str, tuple[str, str]] = {
    "model_types": ("tutelage_model_types", "model type"),
    "teachers": ("tutelage_teachers", "teacher"),
    "critics": ("tutelage_critics", "critic"),
    "judges": ("tutelage_judges", "judge"),
    "worlds": ("tutelage_worlds", "world"),
    "stage_types": ("tutelage_stage_types", "stage type"),
    "layer_kinds": ("tutelage_layer_kinds", "layer kind"),
}


def _has_methods(obj: Any, *names: str) -> str | None:
    missing = [name for name in names if not callable(getattr(obj, name, None))]
    return f"has no method {', '.join(missing)}()" if missing else None


def _check_factory(obj: Any) -> str | None:
    return None if callable(obj) else f"must be a factory (a class or function), got {type(obj).__name__}"


def _check_world(obj: Any) -> str | None:
    if not isinstance(obj, WorldSpec):
        return f"must be a tutelage.protocols.WorldSpec, got {type(obj).__name__}"
    module, _, attribute = obj.entry_point.partition(":") if isinstance(obj.entry_point, str) else ("", "", "")
    if not module or not attribute:
        return f"entry_point must be 'module:Class', got {obj.entry_point!r}"
    return None


def _check_layer_kind(name: str, obj: Any) -> str | None:
    from tutelage.nn.layers import layer_kind_problem  # the core loads only when a plugin contributes a layer

    return layer_kind_problem(name, obj)


#: what each kind's contributions must be; a check returns None or what is wrong
CHECKS: dict[str, Any] = {
    "model_types": lambda obj: _has_methods(obj, "build"),
    "teachers": _check_factory,
    "critics": _check_factory,
    "judges": _check_factory,
    "worlds": _check_world,
    "stage_types": lambda obj: _has_methods(obj, "run"),
}
#: kinds whose check also needs the contribution's name
NAMED_CHECKS: dict[str, Any] = {"layer_kinds": _check_layer_kind}


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
        return {"name": self.name, "version": self.version, "source": self.source, "distribution": self.distribution,
                **self.contributions, "error": self.error}

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
        self.local = tuple(str(Path(t).resolve()) if t.endswith(".py") else t for t in local)
        self._load_entry_points()
        for target in local:
            self._load_local(target)
        self._check_pending()
        self._collect()

    @property
    def hook(self) -> Any:
        """Call lifecycle hooks: ``host.hook.tutelage_run_start(run_dir=..., spec=...)`` is
        ``host.notify("tutelage_run_start", ...)`` (an implementation that raises is a warning)."""
        return _Notifier(self)

    def registry(self, kind: str) -> Registry:
        """The registry of one kind (``"model_types"``, ``"worlds"``, ...)."""
        if kind not in self.registries:
            raise UnknownNameError("registry", kind, self.registries)
        return self.registries[kind]

    def plugins(self) -> list[PluginInfo]:
        return list(self.infos.values())

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call every implementation of a lifecycle hook; one that raises becomes a warning naming
        its plugin, and the others are still called."""
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            try:
                impl.function(**{name: kwargs[name] for name in impl.argnames})
            except Exception as exc:
                warnings.warn(f"plugin {impl.plugin_name!r}: {hook_name} raised {type(exc).__name__}: {exc}",
                              RuntimeWarning, stacklevel=2)

    def notifier(self, hook_name: str) -> Any:
        """``notify`` bound to one hook: a callback to hand to code that knows no host."""
        if not getattr(self.pm.hook, hook_name).get_hookimpls():
            return None
        return lambda **kwargs: self.notify(hook_name, **kwargs)

    def callbacks(self) -> list[Any]:
        """Training callbacks (``f(model, epoch, logs)`` for :func:`tutelage.train.fit`) that fire
        ``tutelage_epoch_end``; empty when no plugin implements it."""
        notify = self.notifier("tutelage_epoch_end")
        return [] if notify is None else [lambda model, epoch, logs: notify(model=model, epoch=epoch, logs=logs)]

    def register_worlds(self) -> list[str]:
        """Register this host's worlds with Gymnasium (lazily: nothing is imported); return their ids."""
        import gymnasium

        for world_id, spec in self.registry("worlds").items():
            if world_id not in gymnasium.registry:
                gymnasium.register(id=world_id, entry_point=spec.entry_point,
                                   max_episode_steps=spec.max_episode_steps, kwargs=dict(spec.kwargs))
        return list(self.registry("worlds"))

    def register_layer_kinds(self) -> list[str]:
        """Make this host's plugin layer kinds known to every model built or loaded in this process (the
        built-ins need nothing, so without a third-party kind the core is not even imported); return them."""
        kinds = self.registry("layer_kinds")
        names = [name for name in kinds if self.infos[kinds.owner[name]].source != "builtin"]
        if names:
            from tutelage.nn.layers import register_layer_kinds

            register_layer_kinds({name: kinds.get(name) for name in names})
        return names

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
        if self.pm.is_registered(module):  # an installed plugin named again with --plugin: loaded once
            return
        info.version = str(getattr(module, "__version__", ""))
        self._register(module, info)

    def _check_pending(self) -> None:
        """Report hook implementations that match no hook (a misspelled name) on their plugin."""
        known = {name for name in dir(hookspecs) if name.startswith(HOOK_PREFIX)}
        for name in dir(self.pm.hook):
            if not name.startswith(HOOK_PREFIX) or name in known:
                continue
            for impl in getattr(self.pm.hook, name).get_hookimpls():
                suggestion = closest(name, known)
                hint = f"; did you mean {suggestion!r}?" if suggestion else ""
                self.infos[impl.plugin_name].add_error(f"implements unknown hook {name!r}{hint}")
                self.pm.unregister(name=impl.plugin_name)

    def _implementations(self, hook_name: str) -> list[Any]:
        """A hook's implementations, built-ins first, then the others in registration order."""
        impls = getattr(self.pm.hook, hook_name).get_hookimpls()
        return sorted(impls, key=lambda impl: self.infos[impl.plugin_name].source != "builtin")

    def _collect(self) -> None:
        for kind, (hook_name, noun) in KINDS.items():
            registry = self.registries[kind]
            for impl in self._implementations(hook_name):
                info = self.infos[impl.plugin_name]
                where = f"hook {hook_name}"
                try:
                    contributed = impl.function()
                except Exception as exc:
                    info.add_error(f"{where} raised {type(exc).__name__}: {exc}")
                    continue
                if not isinstance(contributed, Mapping):
                    info.add_error(f"{where} must return a mapping of name to {noun}, got {type(contributed).__name__}")
                    continue
                for name, obj in contributed.items():
                    if not (isinstance(name, str) and name):
                        problem = "has no name (keys must be strings)"
                    else:
                        problem = NAMED_CHECKS[kind](name, obj) if kind in NAMED_CHECKS else CHECKS[kind](obj)
                    if problem:
                        info.add_error(f"{where}: {noun} {name!r} {problem}; ignored")
                    elif name in registry._items:
                        owner = self.infos[registry.owner[name]]
                        info.add_error(f"{where}: {noun} {name!r} is already provided by plugin {owner.name!r}"
                                       f" ({owner.distribution or owner.source}); ignored")
                    else:
                        registry._items[name] = obj
                        registry.owner[name] = impl.plugin_name
                        info.contributions[kind].append(name)


class _Notifier:
    """``host.hook``: each attribute is :meth:`PluginHost.notify` bound to that lifecycle hook."""

    def __init__(self, host: PluginHost):
        self._host = host

    def __getattr__(self, hook_name: str) -> Any:
        getattr(self._host.pm.hook, hook_name)  # an unknown hook is an AttributeError
        return lambda **kwargs: self._host.notify(hook_name, **kwargs)


_HOSTS: dict[tuple[str, ...], PluginHost] = {}


def get_host(local: Iterable[str] = ()) -> PluginHost:
    """The plugin host for this process and set of local plugins, loaded once; its worlds are
    registered with Gymnasium and its plugin layer kinds with the core. Entry points for the CLI, the
    runner and worker processes."""
    key = tuple(local)
    if key not in _HOSTS:
        host = PluginHost(key)
        host.register_worlds()
        host.register_layer_kinds()
        _HOSTS[key] = host
    return _HOSTS[key]


def registry(kind: str, local: Iterable[str] = ()) -> Registry:
    """Shortcut for ``get_host(local).registry(kind)`` (for interactive use and plugin authors)."""
    return get_host(local).registry(kind)
