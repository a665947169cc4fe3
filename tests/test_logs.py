"""cosim.logs: one stderr handler for the "cosim" loggers, at the level asked for."""

import logging

import pytest

from cosim.errors import InputError
from cosim.logs import StderrHandler, configure_logging


@pytest.fixture(autouse=True)
def _restore_cosim_logger():
    logger = logging.getLogger("cosim")
    level, handlers = logger.level, list(logger.handlers)
    yield
    logger.setLevel(level)
    logger.handlers[:] = handlers


def test_level_filters_and_format(capsys):
    configure_logging("info")
    log = logging.getLogger("cosim.sweep.runner")
    log.debug("not shown")
    log.info("running 3 variations")
    assert capsys.readouterr().err == "cosim: INFO: running 3 variations\n"
    configure_logging("warning")
    log.info("hidden now")
    log.warning("a warning")
    assert capsys.readouterr().err == "cosim: WARNING: a warning\n"


def test_idempotent_one_handler(capsys):
    for _ in range(3):
        configure_logging("info")
    assert sum(isinstance(h, StderrHandler) for h in logging.getLogger("cosim").handlers) == 1
    logging.getLogger("cosim.x").info("once")
    assert capsys.readouterr().err.count("once") == 1


def test_results_on_stdout_are_not_touched(capsys):
    configure_logging("error")
    logging.getLogger("cosim.x").warning("quiet")
    print("results: here")
    captured = capsys.readouterr()
    assert captured.out == "results: here\n" and captured.err == ""


def test_unknown_level_is_input_error():
    with pytest.raises(InputError, match="log level 'loud'"):
        configure_logging("loud")
