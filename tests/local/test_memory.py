"""A flow run mapping 100,000 tasks on the concurrent runner stays within a loose memory bound.

A sanity bound only: the 300 MB target is checked by the benchmarks.
"""

from __future__ import annotations


def test_100000_mapped_tasks_stay_under_600_mb(run_script) -> None:
    done = run_script(
        """
        import resource
        from taskloom import flow, task
        from taskloom_local import ConcurrentTaskRunner

        @task
        def inc(x):
            return x + 1

        @flow(task_runner=ConcurrentTaskRunner())
        def many():
            return sum(future.result() for future in inc.map(range(100_000)))

        if __name__ == "__main__":
            import sys

            total = many()
            sys.stderr.flush()
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
            print(total, peak_mb, file=sys.__stdout__)
        """
    )
    assert done.returncode == 0, done.stderr[-2000:]
    total, peak_mb = map(int, done.stdout.split())
    assert total == sum(range(1, 100_001))
    assert peak_mb < 600
