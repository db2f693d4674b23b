"""Names: flows, flow runs (adjective-noun) and task runs (`<task>-<8 hex>-<n>`)."""

from __future__ import annotations

import re

from taskloom import flow, task
from taskloom.testing import InlineTaskRunner

INLINE = InlineTaskRunner()


@task
def first() -> None:
    pass


@task
def second() -> None:
    pass


def test_flow_name_defaults_to_the_function_name_with_dashes() -> None:
    @flow(task_runner=INLINE)
    def my_flow() -> None:
        pass

    assert my_flow.name == "my-flow"


def test_flow_name_can_be_given() -> None:
    @flow(name="Nightly ETL", task_runner=INLINE)
    def my_flow() -> None:
        pass

    assert my_flow.name == "Nightly ETL"


def test_task_run_name_is_task_name_eight_hex_digits_and_a_count() -> None:
    @flow(task_runner=INLINE)
    def names() -> str:
        return first.submit().task_run_name

    assert re.fullmatch(r"first-[0-9a-f]{8}-0", names())


def test_task_run_count_goes_up_with_each_run_of_the_task() -> None:
    @flow(task_runner=INLINE)
    def names() -> list[str]:
        return [first.submit().task_run_name.rsplit("-", 1)[1] for _ in range(3)]

    assert names() == ["0", "1", "2"]


def test_task_run_count_is_per_task() -> None:
    @flow(task_runner=INLINE)
    def names() -> list[str]:
        runs = [first.submit(), second.submit(), first.submit(), second.submit()]
        return [future.task_run_name.rsplit("-", 1)[1] for future in runs]

    assert names() == ["0", "0", "1", "1"]


def test_task_run_count_starts_again_in_each_flow_run() -> None:
    @flow(task_runner=INLINE)
    def names() -> str:
        first.submit()
        return first.submit().task_run_name

    assert names().endswith("-1")
    assert names().endswith("-1")


def test_task_run_digits_stay_the_same_for_a_task_across_flow_runs() -> None:
    @flow(task_runner=INLINE)
    def digits() -> str:
        return first.submit().task_run_name.split("-")[1]

    assert digits() == digits()


def test_task_run_digits_differ_between_tasks() -> None:
    @flow(task_runner=INLINE)
    def digits() -> tuple[str, str]:
        return first.submit().task_run_name, second.submit().task_run_name

    one, other = digits()
    assert one.split("-")[1] != other.split("-")[1]


def test_task_run_name_uses_a_given_task_name() -> None:
    renamed = first.with_options(name="renamed")

    @flow(task_runner=INLINE)
    def names() -> str:
        return renamed.submit().task_run_name

    assert names().startswith("renamed-")


def test_mapped_runs_are_counted_like_submissions() -> None:
    @task
    def one(x: int) -> int:
        return x

    @flow(task_runner=INLINE)
    def names() -> list[str]:
        return [f.task_run_name.rsplit("-", 1)[1] for f in one.map([1, 2, 3])]

    assert names() == ["0", "1", "2"]


def test_flow_run_names_are_random_adjective_noun_pairs(taskloom_log) -> None:
    @flow(task_runner=INLINE)
    def named() -> None:
        pass

    for _ in range(20):
        named()
    pattern = r"Beginning flow run '(.*)' for flow 'named'\.\.\."
    matches = (re.fullmatch(pattern, line) for line in taskloom_log.messages)
    names = [match[1] for match in matches if match]
    assert len(names) == 20
    assert all(re.fullmatch(r"[a-z]+-[a-z]+", name) for name in names)
    assert len(set(names)) > 1
