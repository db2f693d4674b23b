"""taskloom's Ray task runner: task runs as Ray tasks, on a temporary local Ray or a cluster.

Importing this package does not import Ray; a runner imports it when it starts.
"""

from __future__ import annotations

from taskloom_ray._options import remote_options
from taskloom_ray._runner import RayTaskRunner

__all__ = ["RayTaskRunner", "remote_options"]

__version__ = "0.1.0"
