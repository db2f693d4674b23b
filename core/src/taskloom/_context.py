"""The run a piece of code is part of, carried in a context variable."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from taskloom._flow_run import FlowRun
    from taskloom._submitter import RemoteFlowRun
    from taskloom._task_call import TaskCall

    Run: TypeAlias = FlowRun | RemoteFlowRun | TaskCall

# One variable for flow and task runs alike: every task call reads it, so one lookup is the cost.
current_run: ContextVar[Run | None] = ContextVar("taskloom_current_run", default=None)

#: The flow run whose task runner is starting (what `taskloom.context` shows while it does).
starting_run: ContextVar[FlowRun | None] = ContextVar("taskloom_starting_run", default=None)
