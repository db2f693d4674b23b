"""The README's runner is the example package's, which CI runs through the whole kit."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _section(title: str) -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_runner_is_the_example_package_runner_verbatim() -> None:
    blocks = re.findall(r"```python\n(.*?)```", _section("Writing a runner"), re.DOTALL)
    runner = ROOT / "examples" / "limited-threads" / "src" / "limited_threads" / "runner.py"
    assert blocks[0] == runner.read_text()


def test_the_readme_kit_test_is_the_example_package_test_class() -> None:
    blocks = re.findall(r"```python\n(.*?)```", _section("Writing a runner"), re.DOTALL)
    tests = ROOT / "examples" / "limited-threads" / "tests" / "test_limited_threads.py"
    kit_class = blocks[1].split("\n\n\n", 1)[1].split("  #", 1)[0]
    assert kit_class in tests.read_text()
