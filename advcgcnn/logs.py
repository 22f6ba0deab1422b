"""Per-rule logging: everything a stage reports goes to its Snakemake log file."""

from __future__ import annotations

import logging
import sys


def setup(log_path: str | None = None, name: str = "advcgcnn") -> logging.Logger:
    """Log to `log_path` (a rule's `log:`) and stderr; route warnings there too."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.captureWarnings(True)
    return logging.getLogger(name)
