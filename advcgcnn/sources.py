"""Where labelled configurations come from: one reader per source kind, each readable in chunks.

Every reader yields, for configurations `start` to `stop` of its source (in a fixed
order), either an `Entry` or a `Rejected` with a plain reason, so a chunk job reads
only its share and nothing is lost. `count_configurations` sizes the chunks before
any job runs and never raises on a broken file (the chunk job reports it).

Kinds: `vasp` (a project tree, see `advcgcnn.vasp`), `cgcnn` (id_prop.csv + CIFs),
`extxyz` (one file, streamed frame by frame), `ase` (an ASE database, or files any
ASE reader understands: Quantum ESPRESSO, FHI-aims, GPAW, VASP ...).
"""

from __future__ import annotations

import gzip
import io
import itertools
import logging
import sqlite3
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from ase.db import connect
from ase.io import read
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from . import vasp
from .bandgap import band_edges
from .entries import READ_ERRORS, Entry, Rejected, as_float, short_message
from .errors import IngestError

log = logging.getLogger(__name__)

SOURCE_KINDS = ("vasp", "cgcnn", "extxyz", "ase")
STORED_GAP = "stored"  # gap_method of a gap read as a number from the source


def open_text(path: str | Path):
    """A text handle on a plain or gzip-compressed file."""
    return gzip.open(path, "rt") if str(path).endswith(".gz") else open(path)


# --- extxyz, streamed -------------------------------------------------------


def extxyz_frames(path: str | Path, *, keep_text: bool = True) -> Iterator[tuple[int, str | None, str | None]]:
    """(index, frame text, problem) for each frame; memory bounded by one frame.

    A frame whose atom-count line is not a number, or that the file ends inside, is
    yielded with its problem and ends the stream (nothing after it can be located).
    """
    index = 0
    with open_text(path) as fh:
        line_no = 0
        for header in fh:
            line_no += 1
            if not header.strip():
                continue
            try:
                n_atoms = int(header.split()[0])
            except ValueError:
                yield index, None, f"line {line_no}: expected the atom count of a frame, found {header.strip()[:40]!r}"
                return
            lines = [header] if keep_text else None
            for _ in range(n_atoms + 1):
                line = fh.readline()
                line_no += 1
                if not line:
                    yield index, None, f"file ends inside frame {index} (truncated: {n_atoms} atoms announced)"
                    return
                if keep_text:
                    lines.append(line)
            yield index, "".join(lines) if keep_text else None, None
            index += 1


def iter_extxyz(
    path: Path,
    *,
    gap_key: str,
    direct_key: str,
    energy_key: str,
    extra_keys: list[str],
    start: int = 0,
    stop: int | None = None,
) -> Iterator[Entry | Rejected]:
    """Frames `start` to `stop` of one extxyz file; labels come from each frame's `info`."""
    if not path.exists():
        raise IngestError(f"{path}: extxyz source file not found (check source.path and source.kind)")
    frames = extxyz_frames(path)
    try:
        for index, text, problem in itertools.islice(frames, start, stop):
            where = f"{path}#{index}"
            if problem is not None:
                yield Rejected(f"frame{index:06d}", where, f"unreadable extxyz frame ({problem})")
                continue
            try:
                atoms = read(io.StringIO(text), format="extxyz")
            except READ_ERRORS as exc:
                yield Rejected(f"frame{index:06d}", where, f"unreadable extxyz frame ({short_message(exc)})")
                continue
            cid = str(atoms.info.get("id", f"frame{index:06d}"))
            if not atoms.pbc.all():
                yield Rejected(cid, where, "frame is not periodic in all three directions")
                continue
            direct = atoms.info.get(direct_key)
            yield Entry(
                cid,
                where,
                AseAtomsAdaptor.get_structure(atoms),
                as_float(atoms.info.get(gap_key)),
                None if direct is None else bool(direct),
                as_float(atoms.info.get(energy_key)),
                {key: as_float(atoms.info.get(key)) for key in extra_keys} | {"gap_method": STORED_GAP},
            )
    except (OSError, EOFError, zlib.error) as exc:  # a corrupt gzip stream
        raise IngestError(f"{path}: not a readable extxyz file ({short_message(exc)})") from exc


# --- CGCNN folder -----------------------------------------------------------


def cgcnn_table(root: Path, *, columns: list[str], gap_key: str) -> pd.DataFrame:
    table = root / "id_prop.csv"
    if not table.exists():
        raise IngestError(f"{table}: missing (a CGCNN source needs id_prop.csv beside the CIFs)")
    if "id" not in columns or gap_key not in columns:
        raise IngestError(f"source.cgcnn_columns {columns} must name 'id' and the gap column '{gap_key}'")
    frame = pd.read_csv(table, header=None, dtype={0: str})
    if frame.shape[1] != len(columns):
        raise IngestError(f"{table}: {frame.shape[1]} columns, but source.cgcnn_columns names {len(columns)}")
    frame.columns = columns
    return frame


def iter_cgcnn(
    root: Path,
    *,
    columns: list[str],
    gap_key: str,
    energy_key: str,
    extra_keys: list[str],
    start: int = 0,
    stop: int | None = None,
) -> Iterator[Entry | Rejected]:
    """CGCNN folder: header-less id_prop.csv (columns from config) plus <id>.cif."""
    frame = cgcnn_table(root, columns=columns, gap_key=gap_key).iloc[start:stop]
    for row in frame.to_dict("records"):
        cid = str(row["id"])
        cif = root / f"{cid}.cif"
        if not cif.exists():
            yield Rejected(cid, str(cif), "CIF file missing")
            continue
        try:
            structure = Structure.from_file(cif)
        except READ_ERRORS as exc:
            yield Rejected(cid, str(cif), f"unparsable CIF ({short_message(exc)})")
            continue
        yield Entry(
            cid,
            str(cif),
            structure,
            as_float(row.get(gap_key)),
            None,
            as_float(row.get(energy_key)),
            {key: as_float(row.get(key)) for key in extra_keys} | {"gap_method": STORED_GAP},
        )


# --- ASE: databases and DFT outputs -------------------------------------------


def ase_files(root: Path, *, pattern: str | None) -> list[Path]:
    if not root.is_dir():
        raise IngestError(f"{root}: an ase source is an ASE database (.db) or a folder searched with source.pattern")
    if not pattern:
        raise IngestError(f"{root}: set source.pattern, the glob of the DFT output files to read (e.g. '*/pw.out')")
    return sorted(p for p in root.glob(pattern) if p.is_file())


def atoms_gap(atoms) -> tuple[float | None, bool | None, str | None]:
    """(gap, direct, method) from the calculator's eigenvalues; Nones when it has none."""
    calc = atoms.calc
    if calc is None:
        return None, None, None
    try:
        n_spins = calc.get_number_of_spins()
        n_k = len(calc.get_ibz_k_points())
        eigenvalues = np.array([[calc.get_eigenvalues(kpt=k, spin=s) for k in range(n_k)] for s in range(n_spins)])
    except (NotImplementedError, *READ_ERRORS):
        return None, None, None
    try:
        occupations = np.array([[calc.get_occupation_numbers(kpt=k, spin=s) for k in range(n_k)] for s in range(n_spins)])
        # ASE holds 2 electrons per state when spin is not resolved, 1 per spin channel otherwise.
        full = 2.0 if n_spins == 1 and occupations.max() > 1.0 + 1e-6 else 1.0
        if occupations.shape != eigenvalues.shape or not occupations.any():
            raise ValueError("no occupations")
        edges = band_edges(
            eigenvalues=eigenvalues, occupations=occupations, full_occupation=full, kpoints=calc.get_ibz_k_points()
        )
    except (NotImplementedError, *READ_ERRORS):
        edges = band_edges(eigenvalues=eigenvalues, fermi_level=calc.get_fermi_level(), kpoints=calc.get_ibz_k_points())
    return edges.gap, edges.direct, edges.method


def _atoms_entry(
    atoms, *, cid: str, where: str, gap_key: str, energy_key: str, extra_keys: list[str], info: Mapping
) -> Entry | Rejected:
    if not atoms.pbc.all():
        return Rejected(cid, where, "not periodic in all three directions")
    gap, direct, method = atoms_gap(atoms)
    if gap_key in info:  # a stored gap wins over one recomputed from eigenvalues
        gap, direct, method = as_float(info[gap_key]), info.get("band_gap_direct"), STORED_GAP
    energy = as_float(info.get(energy_key))
    if energy is None and atoms.calc is not None:
        try:
            energy = float(atoms.get_potential_energy()) / len(atoms)
        except (NotImplementedError, *READ_ERRORS):
            energy = None
    extra = {key: as_float(info.get(key)) for key in extra_keys}
    extra["gap_method"] = method
    return Entry(cid, where, AseAtomsAdaptor.get_structure(atoms), gap, direct, energy, extra)


def iter_ase(
    path: Path,
    *,
    pattern: str | None,
    ase_format: str | None,
    id_key: str,
    gap_key: str,
    energy_key: str,
    extra_keys: list[str],
    start: int = 0,
    stop: int | None = None,
) -> Iterator[Entry | Rejected]:
    """Rows of an ASE database, or the last image of each file below `path` matching `pattern`."""
    common = {"gap_key": gap_key, "energy_key": energy_key, "extra_keys": extra_keys}
    if path.suffix == ".db":
        if not path.exists():
            raise IngestError(f"{path}: ASE database not found (check source.path)")
        db = connect(str(path))
        limit = None if stop is None else max(0, stop - start)
        for row in db.select(sort="id", offset=start, limit=limit):
            cid = str(row.key_value_pairs.get(id_key, f"row{row.id:06d}"))
            info = {**row.key_value_pairs, **row.data}
            if "energy" in row and energy_key not in info:
                info[energy_key] = row.energy / row.natoms
            yield _atoms_entry(row.toatoms(), cid=cid, where=f"{path}#id={row.id}", info=info, **common)
        return
    root_files = ase_files(path, pattern=pattern)
    for file in root_files[start:stop]:
        cid = file.parent.relative_to(path).as_posix() if file.parent != path else file.stem
        try:
            atoms = read(file, index=-1, format=ase_format)
        except READ_ERRORS as exc:
            yield Rejected(cid, str(file), f"unreadable by ASE ({type(exc).__name__}: {short_message(exc)})")
            continue
        yield _atoms_entry(atoms, cid=cid, where=str(file), info=atoms.info, **common)


# --- any source -------------------------------------------------------------


def read_source(source: Mapping, *, start: int = 0, stop: int | None = None) -> Iterator[Entry | Rejected]:
    """Configurations `start` to `stop` of the configured source."""
    kind, path = source["kind"], Path(source["path"])
    if kind == "vasp":
        levels = vasp.folder_levels(source)
        converged = source.get("require_converged", True)
        return vasp.iter_configurations(path, levels=levels, require_converged=converged, start=start, stop=stop)
    keys = {
        "gap_key": source["gap_key"],
        "energy_key": source["energy_key"],
        "extra_keys": list(source.get("extra_keys", [])),
        "start": start,
        "stop": stop,
    }
    if kind == "cgcnn":
        if not path.is_dir():
            raise IngestError(f"{path}: a cgcnn source must be a folder")
        return iter_cgcnn(path, columns=source["cgcnn_columns"], **keys)
    if kind == "extxyz":
        return iter_extxyz(path, direct_key=source["direct_key"], **keys)
    if kind == "ase":
        return iter_ase(
            path, pattern=source.get("pattern"), ase_format=source.get("ase_format"), id_key=source.get("id_key", "name"), **keys
        )
    raise IngestError(f"unknown source kind {kind!r}; choose from {SOURCE_KINDS}")


def count_configurations(source: Mapping) -> int:
    """How many configurations the source offers, cheaply, before any job runs (sizes chunks and shards).

    Returns 0 when the source is missing, and counts a broken extxyz frame as one
    configuration: ingestion then reports the problem with the file's name.
    """
    kind, path = source["kind"], Path(source["path"])
    try:
        if kind == "vasp":
            return len(vasp.configuration_folders(path, levels=vasp.folder_levels(source))) if path.is_dir() else 0
        if kind == "cgcnn":
            table = path / "id_prop.csv"
            if not table.exists():
                return 0
            with open(table) as fh:
                return sum(1 for line in fh if line.strip())
        if kind == "ase":
            if path.suffix == ".db":
                if not path.exists():
                    return 0
                return connect(str(path)).count()
            return len(ase_files(path, pattern=source.get("pattern"))) if path.is_dir() else 0
        if not path.exists():
            return 0
        return sum(1 for _ in extxyz_frames(path, keep_text=False))
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, sqlite3.DatabaseError, IngestError) as exc:
        log.warning("%s: cannot count configurations (%s); the ingestion job will report it", path, short_message(exc))
        return 1
