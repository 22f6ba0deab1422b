"""File helpers shared by every stage: atomic writes and structure files."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def plain_mode(*, directory: bool = False) -> int:
    """The mode `open` (or `mkdir`) would give a new file (folder) under the current umask."""
    return (0o777 if directory else 0o666) & ~current_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only on success.

    An interrupted job then never leaves a half-written file under the final name. The file
    gets the mode a plain `open` would give it (mkstemp makes it owner-only), so the project
    group can read results on shared storage as the umask allows.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, plain_mode())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, *, mode: str = "w") -> Iterator:
    """Open a file for writing atomically; `.gz` paths are gzip-compressed."""
    with atomic_path(path) as tmp:
        if str(path).endswith(".gz"):
            # mtime=0 and no file name (the temporary one would be stored) keep the bytes identical across runs.
            with open(tmp, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
                if "b" in mode:
                    yield gz
                else:
                    with io.TextIOWrapper(gz, encoding="utf-8") as fh:
                        yield fh
        else:
            with open(tmp, mode) as fh:
                yield fh


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_json(path: str | os.PathLike, data) -> None:
    with atomic_open(path) as fh:
        json.dump(data, fh, indent=2, sort_keys=True, default=_json_default)
        fh.write("\n")


def read_json(path: str | os.PathLike):
    with open(path) as fh:
        return json.load(fh)


def write_csv(path: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame atomically, without the index."""
    with atomic_open(path) as fh:
        frame.to_csv(fh, index=False, float_format="%.10g", lineterminator="\n")


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 120) -> None:
    """Save a matplotlib figure atomically, in the format its extension names, and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=str(path).rsplit(".", 1)[-1], dpi=dpi)
    plt.close(fig)


def read_extxyz(path: str | os.PathLike) -> list:
    """All frames of an extended-XYZ file (plain or .gz) as ASE Atoms."""
    from ase.io import read

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as fh:
        return read(fh, index=":", format="extxyz")


def write_extxyz(path: str | os.PathLike, frames: list) -> None:
    from ase.io import write

    with atomic_open(path) as fh:
        write(fh, frames, format="extxyz")
