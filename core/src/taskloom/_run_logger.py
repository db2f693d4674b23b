"""`get_run_logger()`: the logger of the run the calling code is part of."""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskloom._context import current_run
from taskloom.exceptions import MissingContextError

if TYPE_CHECKING:
    from taskloom._logging import RunLogger


def get_run_logger() -> RunLogger:
    """The logger of the flow run or task run this code is part of.

    Its lines name the run: `Task run 'add-9b1c2d3e-0' - message`.
    """
    run = current_run.get()
    if run is None:
        raise MissingContextError("get_run_logger() was called outside of a flow run or task run.")
    return run.run_logger()
