import logging

import faust
import pytest

from streams.cli_worker import faust_worker


@pytest.mark.parametrize("level", ["warning", "info"])
def test_root_logger_keeps_the_chosen_level(level: str) -> None:
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        worker = faust_worker(faust.App("test-cli-worker", autodiscover=False), level)
        worker._setup_logging()
        assert root.level == getattr(logging, level.upper())
        assert not logging.getLogger("aiokafka.conn").isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
