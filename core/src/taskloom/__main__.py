"""`taskloom` on the command line: what is installed, and which runner a string resolves to."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="taskloom", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("runners", help="list the installed task runners")
    resolve = commands.add_parser("resolve", help="show the runner a task_runner= string means")
    resolve.add_argument("spec", help="a runner name, class name, import path or address")
    args = parser.parse_args(argv)

    from taskloom._registry import available_task_runners, resolve_task_runner
    from taskloom.exceptions import UnknownTaskRunnerError

    if args.command == "runners":
        for name, target in available_task_runners().items():
            print(f"{name:<12} {target}")
        return 0
    try:
        runner = resolve_task_runner(args.spec)
    except (UnknownTaskRunnerError, ImportError) as exc:
        print(f"taskloom: {exc}", file=sys.stderr)
        return 1
    print(repr(runner))
    return 0


if __name__ == "__main__":
    sys.exit(main())
