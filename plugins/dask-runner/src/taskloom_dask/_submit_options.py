"""What a submission asks of the Dask scheduler: `dask.annotate(...)` and resource tags.

The flow's code writes `with dask.annotate(priority=10): t.submit()`; dask keeps annotations in
a context local to the flow's thread, so they are read at submit time, in that thread, and given
to `Client.submit` explicitly. Task tags `dask-resource:KEY=NUM` add worker resources.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dask.base import get_annotations

RESOURCE_TAG = "dask-resource:"

#: annotations `Client.submit` takes as arguments; others stay annotations (dask reads them).
_SUBMIT_ARGUMENTS = ("priority", "resources", "retries", "workers", "allow_other_workers")


def resources_from_tags(tags: Iterable[str]) -> dict[str, float]:
    """`{"GPU": 1.0}` for the tag `dask-resource:GPU=1`; tags of other forms are ignored."""
    resources: dict[str, float] = {}
    for tag in tags:
        if not tag.startswith(RESOURCE_TAG):
            continue
        key, sep, amount = tag[len(RESOURCE_TAG) :].partition("=")
        try:
            if not key or not sep:
                raise ValueError
            resources[key] = float(amount)
        except ValueError:
            raise ValueError(
                f"Task tag {tag!r} is not of the form 'dask-resource:KEY=NUMBER'"
            ) from None
    return resources


def submit_options(tags: frozenset[str]) -> dict[str, Any]:
    """The keyword arguments for `Client.submit` from the current annotations and `tags`."""
    annotations = get_annotations()
    options = {name: annotations[name] for name in _SUBMIT_ARGUMENTS if name in annotations}
    if tags:
        tagged = resources_from_tags(tags)
        if tagged:
            options["resources"] = {**(options.get("resources") or {}), **tagged}
    return options
