"""The runner toolkit's `keep_main_out_of_spawned_workers`: spawned workers skip the script."""

from __future__ import annotations

import sys
import types

import pytest

from taskloom.task_runners import keep_main_out_of_spawned_workers


@pytest.fixture
def script_main(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A `__main__` as a script has it: a file, no spec."""
    main = types.ModuleType("__main__")
    main.__file__ = "/somewhere/script.py"
    main.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", main)
    return main


def spawn_imports(main: types.ModuleType) -> str | None:
    """What a spawned worker imports in place of `__main__`: the spec's name, or None for the
    file (multiprocessing.spawn.get_preparation_data reads the same two attributes)."""
    spec = getattr(main, "__spec__", None)
    return None if spec is None else spec.name


def test_spawned_workers_import_an_empty_module_while_it_is_in_force(script_main) -> None:
    restore = keep_main_out_of_spawned_workers()
    assert spawn_imports(script_main) == "taskloom._toolkit.empty_main"
    restore()
    assert spawn_imports(script_main) is None


def test_the_script_comes_back_only_when_the_last_of_overlapping_users_is_done(
    script_main,
) -> None:
    first = keep_main_out_of_spawned_workers()
    second = keep_main_out_of_spawned_workers()
    first()
    assert spawn_imports(script_main) == "taskloom._toolkit.empty_main"
    second()
    assert spawn_imports(script_main) is None


def test_each_restore_acts_once(script_main) -> None:
    first = keep_main_out_of_spawned_workers()
    second = keep_main_out_of_spawned_workers()
    first()
    first()
    assert spawn_imports(script_main) == "taskloom._toolkit.empty_main"
    second()


def test_a_module_run_with_dash_m_keeps_its_own_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    main = types.ModuleType("__main__")
    spec = types.SimpleNamespace(name="package.module")
    main.__spec__ = spec  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, "__main__", main)
    restore = keep_main_out_of_spawned_workers()
    assert main.__spec__ is spec
    restore()
    assert main.__spec__ is spec
