"""The plugin manager: the core's default hooks plus every plugin in the `taskloom` group."""

from __future__ import annotations

import threading
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pluggy

ENTRY_POINT_GROUP = "taskloom"

_manager: pluggy.PluginManager | None = None
_lock = threading.Lock()


def get_plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager, with entry-point plugins loaded on first use."""
    if _manager is None:
        with _lock:
            if _manager is None:
                _load()
    assert _manager is not None
    return _manager


def _load() -> None:
    global _manager
    import pluggy

    from taskloom import _default_hooks, _progress, hookspecs

    manager = pluggy.PluginManager("taskloom")
    manager.add_hookspecs(hookspecs)
    manager.register(_default_hooks, name="taskloom.default_hooks")
    if _progress.progress_setting():
        manager.register(_progress.ProgressDisplay(), name="taskloom.progress")
    load_entry_point_plugins(manager)
    _manager = manager


def load_entry_point_plugins(manager: pluggy.PluginManager) -> None:
    """Register each plugin of the entry-point group; report and skip the broken ones."""
    from importlib.metadata import entry_points

    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if manager.has_plugin(entry_point.name):
            continue
        try:
            plugin = entry_point.load()
            manager.register(plugin, name=entry_point.name)
        except Exception as exc:
            _skip(entry_point, exc)
            continue
        try:
            manager.check_pending()
        except Exception as exc:
            manager.unregister(name=entry_point.name)
            _skip(entry_point, exc)


def _skip(entry_point: object, exc: Exception) -> None:
    dist = getattr(getattr(entry_point, "dist", None), "name", "an unknown package")
    warnings.warn(
        f"taskloom plugin {getattr(entry_point, 'name', entry_point)!r} from {dist} was skipped: "
        f"{type(exc).__name__}: {exc}",
        RuntimeWarning,
        stacklevel=3,
    )
