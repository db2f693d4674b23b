"""`taskloom run -p FILE.py` / `-m module`: run a flow defined in a file or module.

The file runs under a module name of its own, not `__main__`, so its `if __name__ ==
"__main__":` block (which may run the flow itself) stays out of the way.
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
from typing import Any

from taskloom._flows import Flow
from taskloom.states import State

#: The module name a file given with `-p` runs under.
RUN_NAME = "__taskloom_run__"


def add_run_command(commands: Any) -> None:
    run = commands.add_parser(
        "run",
        help="run a flow from a file or module",
        description="Run a flow of a file or module and print its final state; the exit "
        "status is 0 only when the run completed.",
    )
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("-p", "--path", help="a Python file that defines the flow")
    source.add_argument("-m", "--module", help="an importable module that defines the flow")
    run.add_argument("--name", help="the flow to run, when the source defines more than one")
    run.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter of the run (VALUE is read as JSON, else taken as a string)",
    )
    runner = run.add_mutually_exclusive_group()
    runner.add_argument(
        "--task-runner", help="the runner for this run: a name, class, import path or address"
    )
    runner.add_argument("--executor", help="the same, in the older vocabulary")


def run_command(args: argparse.Namespace) -> int:
    try:
        namespace = _load(args.path, args.module)
        flow = _choose(_flows_in(namespace), args.name, args.path or args.module)
        parameters = dict(_parameter(text) for text in args.param)
    except (FlowNotFound, ValueError) as exc:
        print(f"taskloom run: {exc}", file=sys.stderr)
        return 2
    runner = args.task_runner or args.executor
    try:
        state = _run(flow, parameters, runner, older_words=args.executor is not None)
    except (TypeError, ValueError, LookupError, ImportError) as exc:
        print(f"taskloom run: {exc}", file=sys.stderr)
        return 2
    print(repr(state))
    return 0 if state.is_completed() else 1


class FlowNotFound(Exception):
    pass


def _load(path: str | None, module: str | None) -> dict[str, Any]:
    import importlib
    import os

    if path is not None and not os.path.isfile(path):
        raise FlowNotFound(f"no such file: {path}")
    try:
        if path is not None:
            return runpy.run_path(path, run_name=RUN_NAME)
        assert module is not None
        return vars(importlib.import_module(module))
    except ModuleNotFoundError as exc:
        if module is not None and exc.name == module:
            raise FlowNotFound(f"no module named {module!r}") from exc
        raise FlowNotFound(f"{path or module} failed to load: {_describe(exc)}") from exc
    except Exception as exc:
        raise FlowNotFound(f"{path or module} failed to load: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _flows_in(namespace: dict[str, Any]) -> dict[str, Flow[..., Any]]:
    """The flows a source defines, by their variable names (each flow once)."""
    flows: dict[str, Flow[..., Any]] = {}
    seen: set[int] = set()
    for variable, value in namespace.items():
        if isinstance(value, Flow) and id(value) not in seen:
            seen.add(id(value))
            flows[variable] = value
    return flows


def _choose(flows: dict[str, Flow[..., Any]], name: str | None, source: str) -> Flow[..., Any]:
    if not flows:
        raise FlowNotFound(f"{source} defines no flow (`@flow` function or `with Flow(...)`)")
    if name is None:
        if len(flows) == 1:
            return next(iter(flows.values()))
        raise FlowNotFound(
            f"{source} defines {len(flows)} flows; pick one with --name: {_names(flows)}"
        )
    for variable, flow in flows.items():
        if name in (variable, flow.name):
            return flow
    raise FlowNotFound(f"{source} defines no flow named {name!r}; it defines: {_names(flows)}")


def _names(flows: dict[str, Flow[..., Any]]) -> str:
    return ", ".join(sorted(repr(flow.name) for flow in flows.values()))


def _parameter(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--param takes KEY=VALUE; got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _run(
    flow: Flow[..., Any], parameters: dict[str, Any], runner: str | None, older_words: bool
) -> State:
    if flow.graph is not None:
        if older_words:
            return flow.run(parameters, executor=runner)
        return flow.run(parameters, task_runner=runner)
    if runner is not None:
        flow = flow.with_options(task_runner=runner)
        if older_words:
            flow.executor = flow.task_runner
    if flow.is_async:
        import asyncio

        return asyncio.run(flow(**parameters, return_state=True))  # type: ignore[no-any-return]
    return flow(**parameters, return_state=True)  # type: ignore[no-any-return]
