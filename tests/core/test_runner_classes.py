"""`from taskloom.task_runners import X`: installed runner classes by name, an ImportError naming
the package for missing ones, and the base class."""

from __future__ import annotations

import importlib

import pytest

import taskloom.task_runners
from taskloom._toolkit.runner import TaskRunner as BaseTaskRunner
from taskloom.task_runners import TaskRunner


def test_task_runner_is_the_base_class() -> None:
    assert TaskRunner is BaseTaskRunner


def test_installed_runner_class_imports_by_name(fake_runners) -> None:
    from taskloom.task_runners import DaskTaskRunner

    assert DaskTaskRunner is importlib.import_module("fake_runners").DaskTaskRunner


def test_import_of_a_runner_class_needs_its_exact_name(fake_runners) -> None:
    with pytest.raises(ImportError):
        from taskloom.task_runners import Dasktaskrunner  # noqa: F401


@pytest.mark.parametrize(
    ("name", "package"),
    [
        ("SequentialTaskRunner", "taskloom-local"),
        ("ConcurrentTaskRunner", "taskloom-local"),
        ("ProcessPoolTaskRunner", "taskloom-local"),
        ("DaskTaskRunner", "taskloom-dask"),
        ("LocalDaskTaskRunner", "taskloom-dask"),
        ("RayTaskRunner", "taskloom-ray"),
    ],
)
def test_missing_runner_class_import_error_names_the_package(
    installation, name: str, package: str
) -> None:
    with pytest.raises(
        ImportError, match=f"{name} is provided by the {package} package.*pip install {package}"
    ):
        getattr(taskloom.task_runners, name)


def test_missing_runner_class_fails_a_from_import(installation) -> None:
    with pytest.raises(ImportError, match="pip install taskloom-ray"):
        from taskloom.task_runners import RayTaskRunner  # noqa: F401


def test_unknown_attribute_is_an_attribute_error(installation) -> None:
    with pytest.raises(AttributeError):
        taskloom.task_runners.NoSuchThing  # noqa: B018
