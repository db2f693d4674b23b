"""Hook plugins from the `taskloom` entry-point group: loaded once, broken ones reported and
skipped without stopping the others."""

from __future__ import annotations

import sys
import warnings

import pluggy
import pytest

import taskloom
from taskloom._plugins import get_plugin_manager
from taskloom._registry import resolve_task_runner

GOOD_PLUGIN = """
    from taskloom import hookimpl
    from taskloom.testing import InlineTaskRunner

    LOADS = []
    LOADS.append(1)

    @hookimpl
    def taskloom_resolve_task_runner(spec):
        return InlineTaskRunner() if spec == "good://127.0.0.1" else None
"""


@pytest.fixture
def good_plugin(installation):
    installation.add(
        "taskloom-good", {"taskloom": {"good": "good_plugin"}}, {"good_plugin": GOOD_PLUGIN}
    )
    return installation


def test_hookimpl_marks_implementations_for_the_taskloom_project() -> None:
    assert isinstance(taskloom.hookimpl, pluggy.HookimplMarker)
    assert taskloom.hookimpl.project_name == "taskloom"


def test_entry_point_plugin_is_registered_under_its_name(good_plugin) -> None:
    assert get_plugin_manager().has_plugin("good")


def test_entry_point_plugin_hooks_are_called(good_plugin) -> None:
    assert type(resolve_task_runner("good://127.0.0.1")).__name__ == "InlineTaskRunner"


def test_entry_point_plugins_are_loaded_once(good_plugin) -> None:
    manager = get_plugin_manager()
    assert get_plugin_manager() is manager
    assert sys.modules["good_plugin"].LOADS == [1]


def test_broken_plugin_warns_naming_it_its_package_and_error(good_plugin) -> None:
    good_plugin.add(
        "taskloom-broken",
        {"taskloom": {"broken": "broken_plugin"}},
        {"broken_plugin": "raise RuntimeError('plugin exploded')\n"},
    )
    with pytest.warns(RuntimeWarning) as caught:
        get_plugin_manager()
    assert [str(w.message) for w in caught] == [
        ("taskloom plugin 'broken' from taskloom-broken was skipped: RuntimeError: plugin exploded")
    ]


def test_broken_plugin_is_skipped_and_the_others_load(good_plugin) -> None:
    good_plugin.add(
        "taskloom-broken",
        {"taskloom": {"broken": "broken_plugin"}},
        {"broken_plugin": "import no_such_module_anywhere\n"},
    )
    with pytest.warns(RuntimeWarning, match="no_such_module_anywhere"):
        manager = get_plugin_manager()
    assert not manager.has_plugin("broken")
    assert manager.has_plugin("good")
    assert type(resolve_task_runner("good://127.0.0.1")).__name__ == "InlineTaskRunner"


MISSPELLED_PLUGIN = """
    from taskloom import hookimpl

    @hookimpl
    def taskloom_resolve_taskrunner(spec):
        return None
"""


def test_misspelled_hookimpl_is_reported(good_plugin) -> None:
    good_plugin.add(
        "taskloom-typo", {"taskloom": {"typo": "typo_plugin"}}, {"typo_plugin": MISSPELLED_PLUGIN}
    )
    with pytest.warns(
        RuntimeWarning, match="'typo' from taskloom-typo.*taskloom_resolve_taskrunner"
    ):
        get_plugin_manager()


def test_misspelled_hookimpl_plugin_is_skipped_and_the_others_load(good_plugin) -> None:
    good_plugin.add(
        "taskloom-typo", {"taskloom": {"typo": "typo_plugin"}}, {"typo_plugin": MISSPELLED_PLUGIN}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        manager = get_plugin_manager()
    assert not manager.has_plugin("typo")
    assert manager.has_plugin("good")


def test_no_warning_when_every_plugin_loads(good_plugin) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_plugin_manager()
