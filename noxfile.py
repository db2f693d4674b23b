"""The repository's sessions: `./nox` runs the default ones, `./nox -s NAME` one of them.

- `lint`, `types`, `imports`: ruff and mypy (strict) over the repository / the packages, and
  import-linter's contracts (pyproject.toml: the core's layers, no plugin on another).
- `tests`: the whole suite with all four packages installed together (editable).
- `isolated-core`, `isolated-local`, `isolated-dask`, `isolated-ray`: one package built and
  installed as users get it (with the in-repo packages it depends on, nothing else), its engine
  absent where it is not one of its dependencies, and its own test folder run against it.
- `example-runner`: the example third-party runner (examples/limited-threads) installed beside
  the core alone, through the whole runner kit.
- `stress`: the stress harness on every runner; plain, the short pass `./nox` runs.
- `cluster`: the same flows on multi-host Dask and Ray clusters, hosts being network namespaces
  (tests/cluster; needs root and `ip netns`, skips elsewhere).
- `example`: the seeds' flow (a sequential flow with a Dask subflow).
- `benchmarks`: per-task overhead of each runner beside its raw engine.
- `build`: wheels of the four packages in `dist/`, a wheelhouse for `pip install --find-links dist`.

Every session has a virtual environment of its own under `.nox/`, reused on later runs (`-R`
skips the installs too). Arguments after `--` go to pytest (or to the benchmark scripts).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import nox

nox.needs_version = ">=2026.10.20"
nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
# Never skip a session quietly for want of Python 3.11, and never download one.
nox.options.error_on_missing_interpreters = True
nox.options.download_python = "never"
nox.options.error_on_external_run = True
# What `./nox` runs. `tests` proves the packages work together; the isolated sessions prove each
# one installs and works alone.
nox.options.sessions = [
    "lint",
    "types",
    "imports",
    "tests",
    "isolated-core",
    "isolated-local",
    "isolated-dask",
    "isolated-ray",
    "example-runner",
    "stress",
    "cluster",
]

PYTHON = "3.11"
ROOT = Path(__file__).parent

CORE = "core"
LOCAL = "plugins/local-runners"
DASK = "plugins/dask-runner"
RAY = "plugins/ray-runner"
PACKAGES = (CORE, LOCAL, DASK, RAY)
#: The third-party runner package docs/writing-a-runner.md builds.
EXAMPLE_RUNNER = "examples/limited-threads"

# The same releases as the development environment, so every session tests what was developed.
IMPORT_LINTER = "import-linter==2.17"
PYTEST = ("pytest==9.2.0", "pytest-xdist==3.8.0", "pytest-timeout==2.4.0")
# The local, Dask and Ray tests watch processes (children left behind, memory) with psutil; the
# TLS tests make their certificates with trustme.
TEST_TOOLS = (*PYTEST, "psutil==7.2.2", "trio==0.35.*", "trustme==1.2.1")
# `python -m` puts the repository root on `sys.path`, and so on that of the processes the tests
# start: worker processes (the process pool's) import a test module's tasks by its name,
# `tests.<folder>.<file>`.
PYTEST_RUN = ("python", "-m", "pytest", "-n", "auto")
RUFF = "ruff==0.17.6"
MYPY = "mypy==2.4.1"


def editable(*packages: str) -> list[str]:
    return [arg for package in packages for arg in ("-e", package)]


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: lint rules and formatting, whole repository."""
    session.install(RUFF)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def types(session: nox.Session) -> None:
    """mypy --strict over the four packages, with their engines installed for their types, and
    over tests/typing, the checks of what users' code is inferred to be."""
    # pytest: the core's runner test kit (`taskloom.testing`) is a pytest test class.
    session.install(MYPY, *PYTEST, *editable(*PACKAGES, EXAMPLE_RUNNER))
    session.run("mypy", *(f"{package}/src" for package in (*PACKAGES, EXAMPLE_RUNNER)))
    # What a user's type checker infers from the public API (`assert_type` and rejected calls).
    session.run("mypy", "tests/typing")


@nox.session(python=PYTHON)
def imports(session: nox.Session) -> None:
    """import-linter: the import contracts in pyproject.toml (layers, no plugin on another)."""
    session.install(IMPORT_LINTER, *editable(*PACKAGES))
    session.run("lint-imports", "--no-cache")


#: Tests that bring up clusters of several hosts (network namespaces): the `cluster` session's.
CLUSTER_TESTS = "tests/cluster"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite, all four packages installed together (but the multi-host cluster
    tests, which are the `cluster` session's)."""
    session.install(*TEST_TOOLS, *editable(*PACKAGES))
    session.run(*PYTEST_RUN, f"--ignore={CLUSTER_TESTS}", *session.posargs)


@nox.session(python=PYTHON)
def cluster(session: nox.Session) -> None:
    """The same flows on Dask and Ray clusters of several hosts, each host a network namespace
    on this machine (tests/cluster): hosts lost, a cable pulled, TLS and token authentication.

    Needs root and `ip netns` (the tests skip, saying so, elsewhere). Two modules at a time,
    each whole on one xdist worker (`--dist=loadfile`): a module's clusters are its own, started
    once for all its tests, and their hosts' names carry the worker's process id. Most of the
    time is clusters starting and tasks sleeping, so two at a time halve it even on 2 cores.
    """
    session.install(*TEST_TOOLS, *editable(*PACKAGES))
    run = ("python", "-m", "pytest", "-n", "2", "--dist=loadfile")
    session.run(*run, CLUSTER_TESTS, *session.posargs)


@dataclass(frozen=True)
class Isolated:
    """One package alone: what to install, which tests are its own, what must stay out."""

    packages: tuple[str, ...]
    tests: str
    absent: tuple[str, ...]


ISOLATED = {
    "core": Isolated(
        packages=(CORE,),
        tests="tests/core",
        absent=(
            "taskloom_local",
            "taskloom_dask",
            "taskloom_ray",
            "cloudpickle",
            "dask",
            "distributed",
            "ray",
        ),
    ),
    "local": Isolated(
        packages=(CORE, LOCAL),
        tests="tests/local",
        absent=("taskloom_dask", "taskloom_ray", "dask", "distributed", "ray"),
    ),
    "dask": Isolated(
        packages=(CORE, DASK),
        tests="tests/dask",
        absent=("taskloom_local", "taskloom_ray", "ray"),
    ),
    "ray": Isolated(
        packages=(CORE, RAY),
        tests="tests/ray",
        absent=("taskloom_local", "taskloom_dask", "dask", "distributed"),
    ),
    "example-runner": Isolated(
        packages=(CORE, EXAMPLE_RUNNER),
        tests=f"{EXAMPLE_RUNNER}/tests",
        absent=("taskloom_local", "taskloom_dask", "taskloom_ray", "dask", "distributed", "ray"),
    ),
}

# Fails naming every module in argv that could be imported.
ABSENCE_CHECK = """
import importlib.util, sys
present = [name for name in sys.argv[1:] if importlib.util.find_spec(name) is not None]
sys.exit(f"installed, but must not be: {', '.join(present)}" if present else None)
"""


def run_isolated(session: nox.Session, isolated: Isolated) -> None:
    for package in isolated.packages:
        # setuptools builds in `<package>/build/` and keeps what it finds there, so a module
        # deleted from the sources would still ship; every build starts from an empty one.
        shutil.rmtree(ROOT / package / "build", ignore_errors=True)
    # Not editable: the wheels users would get. pip resolves each package's declared
    # dependencies; the in-repo ones are satisfied by the paths given here.
    session.install(*TEST_TOOLS, *(f"./{package}" for package in isolated.packages))
    session.run("python", "-c", ABSENCE_CHECK, *isolated.absent)
    session.run(*PYTEST_RUN, isolated.tests, *session.posargs)


@nox.session(python=PYTHON, name="isolated-core")
def isolated_core(session: nox.Session) -> None:
    """taskloom alone (no runner package, no cloudpickle): tests/core."""
    run_isolated(session, ISOLATED["core"])


@nox.session(python=PYTHON, name="isolated-local")
def isolated_local(session: nox.Session) -> None:
    """taskloom-local (and taskloom), no Dask or Ray: tests/local."""
    run_isolated(session, ISOLATED["local"])


@nox.session(python=PYTHON, name="isolated-dask")
def isolated_dask(session: nox.Session) -> None:
    """taskloom-dask (and taskloom, taskloom-local), no Ray: tests/dask."""
    run_isolated(session, ISOLATED["dask"])


@nox.session(python=PYTHON, name="isolated-ray")
def isolated_ray(session: nox.Session) -> None:
    """taskloom-ray (and taskloom, taskloom-local), no Dask: tests/ray."""
    run_isolated(session, ISOLATED["ray"])


@nox.session(python=PYTHON, name="example-runner")
def example_runner(session: nox.Session) -> None:
    """The example third-party runner (examples/limited-threads) beside the core alone: the
    whole runner kit."""
    run_isolated(session, ISOLATED["example-runner"])


#: The runners the stress harness runs on (`tests/stress/runners.py`), with the runs of each
#: scenario in the short pass `./nox` runs on every submission (a few hundred runs in all:
#: flow runs on worker processes, clusters and Ray take seconds each), and their options.
STRESS = {
    "sequential": (10, ()),
    "concurrent": (10, ()),
    "processes": (3, ()),
    "local_dask_threads": (10, ()),
    "local_dask_processes": (3, ()),
    "local_dask_synchronous": (10, ()),
    "dask": (2, ()),
    # One Ray per batch process, which the runs join: a local Ray takes seconds to start.
    "ray": (2, ("--setup", "tests.stress.runners:shared_ray")),
    # The example third-party runner, by the entry-point name its package registers.
    "limited_threads": (10, ()),
}


@nox.session(python=PYTHON)
def stress(session: nox.Session) -> None:
    """The stress harness (`python -m taskloom.testing.stress`) on every runner.

    Plain, the short pass; `-- --runs 1000` the full one. Runner names first (`-- concurrent
    dask --runs 200`) pick runners; other arguments go to the harness. Each runner's tallies
    are written to `.nox/stress/<runner>.json`.
    """
    session.install(*editable(*PACKAGES, EXAMPLE_RUNNER))
    args = list(session.posargs)
    names = []
    while args and args[0] in STRESS:
        names.append(args.pop(0))
    results = ROOT / ".nox" / "stress"
    results.mkdir(parents=True, exist_ok=True)
    for name in names or list(STRESS):
        runs, options = STRESS[name]
        short = () if "--runs" in args else ("--runs", str(runs))
        session.run(
            "python",
            "-m",
            "taskloom.testing.stress",
            "--runner",
            f"tests.stress.runners:{name}",
            # Two batches at a time: much of a batch is waiting for processes to start.
            "--jobs",
            "2",
            *short,
            *options,
            "--json",
            str(results / f"{name}.json"),
            *args,
        )


@nox.session(python=PYTHON)
def example(session: nox.Session) -> None:
    """The seeds' flow: a sequential flow with a Dask subflow (examples/seeds_flow.py)."""
    session.install(*editable(CORE, LOCAL, DASK))
    session.run("python", "examples/seeds_flow.py")


@nox.session(python=PYTHON)
def build(session: nox.Session) -> None:
    """Wheels of the four packages in dist/: a wheelhouse from which
    `pip install --find-links dist taskloom-dask` finds a plugin and the core it requires,
    neither of them published yet."""
    # pip's own wheel command: no build tool to pin, and --no-deps keeps dask and ray out.
    dist = ROOT / "dist"
    for package in PACKAGES:
        # As for the isolated sessions: no module deleted from the sources ships from build/.
        shutil.rmtree(ROOT / package / "build", ignore_errors=True)
        # A path, not a bare folder name, or pip reads `core` as a package to download.
        wheel = ("wheel", "--no-deps", "--wheel-dir", str(dist), str(ROOT / package))
        session.run("python", "-m", "pip", *wheel)


BENCHMARKS = ("local", "dask", "ray", "async", "across_runners", "scaling")


@nox.session(python=PYTHON)
def benchmarks(session: nox.Session) -> None:
    """Per-task overhead of each runner beside its raw engine (benchmarks/bench_*.py).

    `-- dask --tasks 500` runs one benchmark with its options; `-- --rounds 1` runs all
    with options they share.
    """
    session.install("psutil==7.2.2", *editable(*PACKAGES))
    args = list(session.posargs)
    names = [args.pop(0)] if args and args[0] in BENCHMARKS else list(BENCHMARKS)
    for name in names:
        session.run("python", f"benchmarks/bench_{name}.py", *args)
