"""Core fixtures: a threaded test runner, an installation made of throwaway distributions, and
plugins registered for one test.

The core ships no runner, so these tests use `InlineTaskRunner` and the small `ThreadTaskRunner`
below, never `taskloom_local`.
"""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from taskloom import _plugins, _registry
from taskloom._plugins import get_plugin_manager
from taskloom.futures import TaskloomFuture
from taskloom.states import State
from taskloom.task_runners import TaskCall, TaskRunner


class ThreadFuture(TaskloomFuture):
    __slots__ = ("_event", "_state")

    def __init__(self, call: TaskCall) -> None:
        super().__init__(call)
        self._event = threading.Event()
        self._state: State | None = None

    def _wait(self, timeout: float | None) -> State | None:
        return self._state if self._event.wait(timeout) else None

    def done(self) -> bool:
        return self._event.is_set()


class ThreadTaskRunner(TaskRunner):
    """Runs every task run on a thread of its own: runs overlap and futures can be pending."""

    def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
        future = ThreadFuture(call)

        def work() -> None:
            future._state = call.run([f.wait() for f in upstream])  # type: ignore[misc]
            future._event.set()

        threading.Thread(target=work, daemon=True).start()
        return future


@pytest.fixture
def thread_runner() -> ThreadTaskRunner:
    return ThreadTaskRunner()


class FakeInstallation:
    """The installed distributions, as far as taskloom can tell: only those made here.

    Each distribution is a `*.dist-info` folder (METADATA, entry_points.txt) beside the modules
    it names, in a folder on `sys.path`.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def add(
        self,
        name: str,
        entry_points: dict[str, dict[str, str]],
        modules: dict[str, str] | None = None,
    ) -> None:
        dist_info = self.root / f"{name.replace('-', '_')}-1.0.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        (dist_info / "entry_points.txt").write_text(
            "".join(
                f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in points.items())
                for group, points in entry_points.items()
            )
        )
        for module, source in (modules or {}).items():
            (self.root / f"{module}.py").write_text(textwrap.dedent(source))
        _reset_discovery()

    def entry_points(self, **params: Any) -> importlib.metadata.EntryPoints:
        found = [
            entry_point
            for dist in importlib.metadata.distributions(path=[str(self.root)])
            for entry_point in dist.entry_points
        ]
        return importlib.metadata.EntryPoints(found).select(**params)


def _reset_discovery() -> None:
    _registry._entry_points.cache_clear()
    _plugins._manager = None


@pytest.fixture
def installation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeInstallation]:
    """An installation holding only the fake distributions a test adds (no runner at all)."""
    root = tmp_path / "site"
    root.mkdir()
    fake = FakeInstallation(root)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(importlib.metadata, "entry_points", fake.entry_points)
    monkeypatch.setattr(_plugins, "_manager", None)
    monkeypatch.delenv("TASKLOOM_TASK_RUNNER", raising=False)
    _registry._entry_points.cache_clear()
    try:
        yield fake
    finally:
        _registry._entry_points.cache_clear()
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", None) or "").startswith(str(root)):
                del sys.modules[name]


#: A module of runner classes for fake distributions; the classes are named as the real ones.
RUNNERS_MODULE = """
    from taskloom.testing import InlineTaskRunner

    class SequentialTaskRunner(InlineTaskRunner):
        pass

    class ConcurrentTaskRunner(InlineTaskRunner):
        pass

    class DaskTaskRunner(InlineTaskRunner):
        pass

    class LocalDaskTaskRunner(InlineTaskRunner):
        pass
"""


@pytest.fixture
def fake_runners(installation: FakeInstallation) -> FakeInstallation:
    """An installation with `sequential`, `concurrent`, `dask` and `local-dask` runners from the
    `fake-runners` distribution (module `fake_runners`)."""
    installation.add(
        "fake-runners",
        {
            "taskloom.task_runners": {
                "sequential": "fake_runners:SequentialTaskRunner",
                "concurrent": "fake_runners:ConcurrentTaskRunner",
                "dask": "fake_runners:DaskTaskRunner",
                "local-dask": "fake_runners:LocalDaskTaskRunner",
            }
        },
        {"fake_runners": RUNNERS_MODULE},
    )
    return installation


@pytest.fixture
def register_plugin() -> Iterator[Callable[[object], object]]:
    """Register plugins on the process's plugin manager for one test."""
    registered: list[tuple[Any, object]] = []

    def register(plugin: object) -> object:
        manager = get_plugin_manager()
        manager.register(plugin)
        registered.append((manager, plugin))
        return plugin

    try:
        yield register
    finally:
        for manager, plugin in registered:
            manager.unregister(plugin)
