"""The runner toolkit's captured log records: a run's lines carried back with its outcome."""

from __future__ import annotations

import logging
import pickle
from typing import Any

from taskloom.task_runners import captured_log_records, logger, replay_log_records


def test_a_record_logged_while_capturing_is_kept_not_written(taskloom_log: Any) -> None:
    with captured_log_records() as records:
        logger.info("kept %s", "here")
    assert taskloom_log.messages == []
    assert [record["msg"] for record in records] == ["kept here"]


def test_records_outside_the_capture_are_written_as_ever(taskloom_log: Any) -> None:
    with captured_log_records():
        pass
    logger.info("written")
    assert taskloom_log.messages == ["written"]


def test_replayed_records_keep_their_level_text_time_and_traceback(taskloom_log: Any) -> None:
    with captured_log_records() as records:
        try:
            raise ValueError("inside")
        except ValueError:
            logger.exception("went %s", "wrong")
    created = records[0]["created"]
    # They travel pickled, whatever the arguments were.
    replay_log_records(pickle.loads(pickle.dumps(records)))
    [record] = taskloom_log.records
    assert (record.levelno, record.getMessage(), record.created) == (
        logging.ERROR,
        "went wrong",
        created,
    )
    assert record.exc_text is not None and "ValueError: inside" in record.exc_text


def test_an_extra_value_that_cannot_pickle_travels_as_its_text() -> None:
    class Unpicklable:
        def __reduce__(self) -> Any:
            raise TypeError("no")

        def __repr__(self) -> str:
            return "<unpicklable>"

    with captured_log_records() as records:
        logger.info("with extra", extra={"thing": Unpicklable()})
    assert pickle.loads(pickle.dumps(records))[0]["thing"] == "<unpicklable>"
