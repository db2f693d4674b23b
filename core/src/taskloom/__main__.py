"""`taskloom` on the command line: run a flow, see what is installed and which runner a string
resolves to."""

from __future__ import annotations

import argparse
import sys


class _Versions(argparse.Action):
    """`--version`: the core's version and every installed plugin's."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        from taskloom._registry import installed_versions

        for name, version in installed_versions():
            print(f"{name} {version}")
        parser.exit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="taskloom", description=__doc__)
    parser.add_argument(
        "--version", nargs=0, action=_Versions, help="show the core's and each plugin's version"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "runners", help="list the installed task runners, their distributions and versions"
    )
    resolve = commands.add_parser("resolve", help="show the runner a task_runner= string means")
    resolve.add_argument("spec", help="a runner name, class name, import path or address")
    from taskloom._cli_run import add_run_command, run_command

    add_run_command(commands)
    args = parser.parse_args(argv)
    if args.command == "run":
        return run_command(args)
    if args.command == "runners":
        return _list_runners()

    from taskloom._registry import resolve_task_runner
    from taskloom.exceptions import UnknownTaskRunnerError

    try:
        runner = resolve_task_runner(args.spec)
    except (UnknownTaskRunnerError, ImportError, TypeError) as exc:
        print(f"taskloom: {exc}", file=sys.stderr)
        return 1
    print(repr(runner))
    return 0


def _list_runners() -> int:
    """One line per runner; a runner whose plugin cannot be imported says why, and the exit
    status is then 1 (the others still list)."""
    from taskloom._registry import describe_installed_runners

    broken = False
    for name, target, origin, error in describe_installed_runners():
        print(f"{name:<16} {target:<48} {origin}")
        if error is not None:
            broken = True
            print(f"{'':<16} cannot be used: {error}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
