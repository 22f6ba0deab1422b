"""What every source reader yields: a readable configuration (`Entry`) or a rejection with its reason."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from pymatgen.core import Structure

# What parsers raise on truncated, malformed or incomplete files (XML errors are SyntaxErrors;
# gzip and file errors OSErrors): such a file is quarantined with the message, anything else propagates.
READ_ERRORS = (
    SyntaxError,
    ValueError,
    KeyError,
    IndexError,
    AttributeError,
    TypeError,
    ZeroDivisionError,
    OSError,
    EOFError,
    StopIteration,
    RuntimeError,
    zlib.error,
)


@dataclass
class Entry:
    """One configuration as read from its source, before checks."""

    id: str
    source_file: str
    structure: Structure
    band_gap: float | None
    gap_direct: bool | None = None
    energy_per_atom: float | None = None
    extra: dict = field(default_factory=dict)  # SLME, which run gave which value, extra numeric keys


@dataclass
class Rejected:
    id: str
    source_file: str
    reason: str


def as_float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def short_message(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split())
    return text[:limit] or type(exc).__name__
