"""Finding task runners: by instance, class, name, class name, import path or address."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

from taskloom.exceptions import TaskRunnerImportError, UnknownTaskRunnerError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from taskloom._toolkit.runner import TaskRunner

ENTRY_POINT_GROUP = "taskloom.task_runners"
ENVIRONMENT_VARIABLE = "TASKLOOM_TASK_RUNNER"
DEFAULT = "concurrent"

#: Runners this project publishes, so a missing one can be named with its package.
KNOWN_RUNNERS = {
    "sequential": ("SequentialTaskRunner", "taskloom-local"),
    "concurrent": ("ConcurrentTaskRunner", "taskloom-local"),
    "processes": ("ProcessPoolTaskRunner", "taskloom-local"),
    "dask": ("DaskTaskRunner", "taskloom-dask"),
    "local-dask": ("LocalDaskTaskRunner", "taskloom-dask"),
    "ray": ("RayTaskRunner", "taskloom-ray"),
}
KNOWN_ADDRESSES = {"tcp://": "taskloom-dask", "dask://": "taskloom-dask", "ray://": "taskloom-ray"}


@functools.cache
def _entry_points() -> dict[str, EntryPoint]:
    from importlib.metadata import entry_points

    found: dict[str, EntryPoint] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry_point.name.lower(), entry_point)
    return found


def _class_name(entry_point: EntryPoint) -> str:
    return entry_point.value.rpartition(":")[2].rpartition(".")[2]


def available_task_runners() -> dict[str, str]:
    """The installed runners: name → `module:Class`, without importing any of them."""
    return {name: ep.value for name, ep in sorted(_entry_points().items())}


def describe_installed_runners() -> list[tuple[str, str, str, str | None]]:
    """Each installed runner as `(name, module:Class, "distribution version", error)`, where
    `error` says why its class cannot be imported (None when it can). Imports every runner."""
    described = []
    for name, entry_point in sorted(_entry_points().items()):
        dist = entry_point.dist
        origin = f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"
        error = None
        try:
            load_task_runner_class(name)
        except (TaskRunnerImportError, TypeError) as exc:
            error = str(exc)
        described.append((name, entry_point.value, origin, error))
    return described


def installed_versions() -> list[tuple[str, str]]:
    """`(distribution, version)` of the core and of every distribution that plugs into it."""
    from importlib.metadata import distributions, version

    found = {"taskloom": version("taskloom")}
    for dist in distributions():
        groups = {ep.group for ep in dist.entry_points}
        if groups & {ENTRY_POINT_GROUP, "taskloom"}:
            found.setdefault(dist.name, dist.version)
    return sorted(found.items(), key=lambda item: (item[0] != "taskloom", item[0]))


def _find_entry_point(name: str) -> EntryPoint | None:
    key = name.lower()
    entry_points = _entry_points()
    if key in entry_points:
        return entry_points[key]
    for entry_point in entry_points.values():
        if _class_name(entry_point).lower() == key:
            return entry_point
    return None


def load_task_runner_class(name: str) -> type[TaskRunner] | None:
    """The runner class registered as `name` (a runner name or class name), or None."""
    entry_point = _find_entry_point(name)
    if entry_point is None:
        return None
    try:
        cls = entry_point.load()
    except Exception as exc:
        dist = entry_point.dist.name if entry_point.dist is not None else "its package"
        raise TaskRunnerImportError(
            f"The task runner {entry_point.name!r} ({entry_point.value}) from {dist} could not "
            f"be imported: {type(exc).__name__}: {exc}"
        ) from exc
    return _check_runner_class(cls, entry_point.value)


#: Where each package we publish lives in a clone of the repository.
PACKAGE_FOLDERS = {
    "taskloom-local": "plugins/local-runners",
    "taskloom-dask": "plugins/dask-runner",
    "taskloom-ray": "plugins/ray-runner",
}


def install_hint(package: str) -> str:
    """How to install `package`: by its name once published, from a clone until then (with
    the core beside it, which is not published either)."""
    folder = PACKAGE_FOLDERS.get(package)
    if folder is None:
        return f"pip install {package}"
    return (
        f"pip install {package} (published packages), or from a clone of taskloom: "
        f"pip install ./core ./{folder} (or a wheelhouse: nox -s build, then "
        f"pip install --find-links dist {package})"
    )


def missing_package(name: str) -> str | None:
    """The package to install for a runner name, class name or address we know of."""
    key = name.lower()
    for runner_name, (class_name, package) in KNOWN_RUNNERS.items():
        if key in (runner_name, class_name.lower()):
            return package
    for prefix, package in KNOWN_ADDRESSES.items():
        if key.startswith(prefix):
            return package
    return None


def resolve_task_runner(spec: Any) -> TaskRunner:
    """The runner instance that `task_runner=spec` means (see the contract for the forms)."""
    from taskloom._toolkit.runner import TaskRunner

    if spec is None:
        from_environment = os.environ.get(ENVIRONMENT_VARIABLE)
        if not from_environment:
            spec = DEFAULT
        else:
            try:
                return _resolve_string(from_environment.strip())
            except Exception as exc:
                # Say where the bad value came from: nothing in the user's code names it.
                exc.args = (f"{ENVIRONMENT_VARIABLE}={from_environment!r}: {exc}", *exc.args[1:])
                raise
    if isinstance(spec, TaskRunner):
        return spec
    if isinstance(spec, type) and issubclass(spec, TaskRunner):
        return spec()
    if isinstance(spec, str):
        return _resolve_string(spec.strip())
    raise TypeError(
        "task_runner must be a TaskRunner instance, a TaskRunner subclass, a runner name or an "
        f"address; got {spec!r} of type {type(spec).__name__}"
    )


def _resolve_string(spec: str) -> TaskRunner:
    cls = load_task_runner_class(spec)
    if cls is not None:
        return cls()
    if ":" in spec and "://" not in spec and not spec.rpartition(":")[2].isdigit():
        return _from_import_path(spec)()  # `module:Class`; `host:8786` is an address
    from taskloom._plugins import get_plugin_manager

    claimed = get_plugin_manager().hook.taskloom_resolve_task_runner(spec=spec)
    if claimed is not None:
        return claimed  # type: ignore[no-any-return]
    raise UnknownTaskRunnerError(unknown_runner_message(spec))


def unknown_runner_message(spec: str) -> str:
    installed = ", ".join(available_task_runners()) or "none"
    message = f"Unknown task runner {spec!r}. Installed task runners: {installed}."
    scheme, sep, rest = spec.partition("://")
    if sep:
        message += " " + _unclaimed_address(scheme, rest.rstrip("/"))
    package = missing_package(spec)
    if package is not None:
        message += f" {spec!r} is provided by the {package} package: {install_hint(package)}"
    return message


def _unclaimed_address(scheme: str, rest: str) -> str:
    """What to say of an address whose scheme no installed runner takes."""
    from taskloom._plugins import get_plugin_manager

    lists = [s for s in get_plugin_manager().hook.taskloom_address_schemes() if s]
    if not lists:
        return f"No installed runner takes addresses (such as {scheme}://...)."
    accepted = ", ".join(s for schemes in lists for s in schemes)
    meant = " or ".join(repr(schemes[0] + rest) for schemes in lists)
    return (
        f"No installed runner takes {scheme}:// addresses; the accepted schemes are {accepted}. "
        f"Did you mean {meant}?"
    )


def _from_import_path(path: str) -> type[TaskRunner]:
    import importlib

    module_name, _, attribute = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise UnknownTaskRunnerError(
            f"Task runner import path {path!r} could not be loaded: {type(exc).__name__}: {exc}"
        ) from exc
    return _check_runner_class(target, path)


def _check_runner_class(cls: Any, where: str) -> type[TaskRunner]:
    from taskloom._toolkit.runner import TaskRunner

    if not (isinstance(cls, type) and issubclass(cls, TaskRunner)):
        raise TypeError(f"{where} is {cls!r}, not a TaskRunner subclass")
    return cls
