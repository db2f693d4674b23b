"""`from taskloom.engine.state import State`, as seed 003 writes it: the states of
`taskloom.states` under their older import path."""

from taskloom.states import *  # noqa: F403
from taskloom.states import __all__ as __all__
