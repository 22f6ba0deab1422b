"""Per-rule logging: everything a stage reports, its failure included, goes to its Snakemake log file."""

from __future__ import annotations

import atexit
import logging
import sys

from .errors import PipelineError

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RepeatedWarnings(logging.Filter):
    """Lets each distinct warning through once; counts the repeats for one summary line at exit."""

    def __init__(self) -> None:
        super().__init__()
        self.repeats: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        key = record.getMessage()
        if key in self.repeats:
            self.repeats[key] += 1
            return False
        self.repeats[key] = 0
        return True

    def summary(self) -> list[str]:
        return [
            f"the warning above was repeated {count} more times: {key.splitlines()[0][:200]}"
            for key, count in self.repeats.items()
            if count
        ]


def setup(log_path: str | None = None, *, name: str = "advcgcnn") -> logging.Logger:
    """Log to `log_path` (a rule's `log:`) and stderr, warnings included, each distinct one once.

    An exception that ends the job is written to the log too: a `PipelineError` (the user's
    input or config) as its one-line message, anything else with its traceback.
    """
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    # One filter per handler: a record reaches each handler once, and each must show it once.
    filters = [RepeatedWarnings() for _ in handlers]
    for handler, repeat_filter in zip(handlers, filters, strict=True):
        handler.addFilter(repeat_filter)
    logging.basicConfig(level=logging.INFO, format=FORMAT, handlers=handlers, force=True)
    logging.captureWarnings(True)
    logger = logging.getLogger(name)

    def report_repeats() -> None:
        for line in filters[0].summary():
            logger.info(line)

    def log_exception(kind, exc, tb) -> None:
        if issubclass(kind, PipelineError):
            logger.error("%s", exc)
        elif issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
        else:
            logger.critical("stopped by an unexpected error", exc_info=(kind, exc, tb))

    atexit.register(report_repeats)
    sys.excepthook = log_exception
    return logger
