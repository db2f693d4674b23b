"""The runner toolkit's implementation: the runner base class and what runner plugins share.

Its public face is `taskloom.task_runners`, which runner plugins import from; these modules sit
low in the core (at run time they import only futures, exceptions and the thread helper; task
calls and states appear in their annotations), so that the engine above them can use them too.
"""
