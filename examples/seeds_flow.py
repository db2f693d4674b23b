"""The seeds' example: a sequential flow whose subflow runs its task on a temporary Dask cluster.

python examples/seeds_flow.py
"""

from taskloom import flow, task
from taskloom.task_runners import DaskTaskRunner, SequentialTaskRunner


@task
def hello_local():
    print("Hello!")


@task
def hello_dask():
    print("Hello from Dask!")


@flow(task_runner=SequentialTaskRunner())
def sequential_flow():
    hello_local()
    dask_subflow()
    hello_local()


@flow(task_runner=DaskTaskRunner())
def dask_subflow():
    hello_dask()


if __name__ == "__main__":
    sequential_flow()
