"""Every hook is documented and tested (a hook added without either fails here)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from taskloom import hookspecs

HOOKS = sorted(
    name
    for name, value in vars(hookspecs).items()
    if inspect.isfunction(value) and hasattr(value, "taskloom_spec")
)
TESTS = Path(__file__).parents[1]


def test_hookspecs_are_found() -> None:
    assert len(HOOKS) >= 9


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docstring(hook: str) -> None:
    assert (getattr(hookspecs, hook).__doc__ or "").strip()


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_names_the_project(hook: str) -> None:
    assert hook.startswith("taskloom_")


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_exercised_by_a_test(hook: str) -> None:
    tests = [path for path in TESTS.rglob("test_*.py") if path != Path(__file__)]
    assert any(f"def {hook}(" in path.read_text() for path in tests), f"no test implements {hook}"
