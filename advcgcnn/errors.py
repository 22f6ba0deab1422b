"""Failures a user fixes by changing an input or a config key, not by reading a traceback."""

from __future__ import annotations


class PipelineError(Exception):
    """An expected failure: its message names the file or config key to change.

    The rule's log gets the message as one line (see `logs.setup`); anything else
    that escapes a stage is logged with its traceback.
    """


class ConfigError(PipelineError, ValueError):
    """A config section that cannot work; the message names the key."""


class IngestError(PipelineError, RuntimeError):
    """Ingestion cannot produce a dataset (wrong source, nothing usable)."""


class DatasetError(PipelineError, ValueError):
    """The labelled dataset cannot support the requested analysis (e.g. too few per class)."""
