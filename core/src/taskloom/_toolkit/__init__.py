"""The runner toolkit's implementation: the runner base class and what runner plugins share.

Its public face is `taskloom.task_runners`, which runner plugins import from; these modules sit
low in the core (they import only states, futures, task calls and exceptions), so that the
engine above them can use them too.
"""
