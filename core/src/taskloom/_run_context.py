"""`taskloom.context`: what code running in a flow or task run can learn about that run."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from taskloom._context import current_run, starting_run

#: The image the flow run's process runs from, as its deployment tells it (seed 003's
#: "a cluster from the same image as the flow run").
IMAGE_VARIABLE = "TASKLOOM_IMAGE"


class RunContext(Mapping[str, Any]):
    """The current run, read as attributes or as a mapping: `context.flow_name`,
    `context["task_run_name"]`, `context.get("image")`.

    Inside a flow run it holds `flow_name`, `flow_run_name`, `flow_run_id` and, where set,
    `image` (from `TASKLOOM_IMAGE`); inside a task run also `task_name`, `task_run_name` and
    `map_index` (None for a run of no map). While the flow's runner starts (a `cluster_class`
    function, say) it holds the flow run's. Outside any run it is empty, and its attributes
    raise `AttributeError`. Read-only: every read looks at the run current in that thread.
    """

    __slots__ = ()

    def _values(self) -> dict[str, Any]:
        run: Any = current_run.get()
        if run is None:
            run = starting_run.get()
            if run is None:
                return {}
        flow_run = run.flow_run
        values: dict[str, Any] = {
            "flow_name": flow_run.flow_name,
            "flow_run_name": flow_run.name,
            "flow_run_id": flow_run.id,
        }
        task_run_name = getattr(run, "task_run_name", None)
        if task_run_name is not None:
            values["task_name"] = run.task.name
            values["task_run_name"] = task_run_name
            values["map_index"] = run.map_index
        image = os.environ.get(IMAGE_VARIABLE)
        if image:
            values["image"] = image
        return values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values()[name]
        except KeyError:
            where = "outside any run" if not self._values() else "in this run"
            raise AttributeError(f"taskloom.context has no {name!r} {where}") from None

    def __getitem__(self, key: str) -> Any:
        return self._values()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values())

    def __len__(self) -> int:
        return len(self._values())

    def __repr__(self) -> str:
        return f"taskloom.context({self._values()!r})"


context = RunContext()
