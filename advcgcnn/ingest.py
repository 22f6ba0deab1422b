"""DFT label ingestion: read configurations from VASP, CGCNN or extxyz sources.

Every input configuration ends up either in the labelled dataset or in the
quarantine report with a plain reason; nothing is silently dropped.
"""

from __future__ import annotations

import gzip
import logging
import math
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Structure
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.io.vasp import Vasprun

from . import solar
from .errors import IngestError
from .graphs import write_structures
from .io import read_extxyz, write_csv, write_json

log = logging.getLogger(__name__)

VASPRUN_NAMES = ("vasprun.xml", "vasprun.xml.gz")
PROGRESS_EVERY = 500  # configurations between progress lines in the log
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
    extra: dict = field(default_factory=dict)  # e.g. SLME from optics


@dataclass
class Rejected:
    id: str
    source_file: str
    reason: str


# --- readers --------------------------------------------------------------


def iter_vasp(root: Path, *, require_converged: bool = True) -> Iterator[Entry | Rejected]:
    """One configuration per folder holding vasprun.xml[.gz]; id = folder relative to root."""
    files = sorted(p for name in VASPRUN_NAMES for p in root.rglob(name))
    if not files:
        raise IngestError(f"{root}: no vasprun.xml or vasprun.xml.gz below this folder (check source.path and source.kind)")
    for path in files:
        cid = path.parent.relative_to(root).as_posix() or path.parent.name
        try:
            run = Vasprun(str(path), parse_potcar_file=False)
        except READ_ERRORS as exc:
            yield Rejected(cid, str(path), f"unparsable vasprun ({type(exc).__name__}: {_short(exc)})")
            continue
        if require_converged and not run.converged_electronic:
            yield Rejected(cid, str(path), "electronic loop not converged")
            continue
        if require_converged and not run.converged_ionic:
            yield Rejected(cid, str(path), "ionic relaxation not converged")
            continue
        try:
            gap, _cbm, _vbm, direct = run.eigenvalue_band_properties
        except READ_ERRORS as exc:
            yield Rejected(cid, str(path), f"no band gap in run ({_short(exc)})")
            continue
        structure = run.final_structure
        entry = Entry(
            cid,
            str(path),
            structure,
            float(gap),
            bool(direct),
            float(run.final_energy) / len(structure),
        )
        entry.extra.update(_slme_from_run(run, cid))
        yield entry


def _slme_from_run(run, cid: str) -> dict:
    """SLME when the run holds a frequency-dependent dielectric function."""
    try:
        dielectric = run.dielectric
    except (KeyError, AttributeError):
        return {}
    if not dielectric or len(dielectric[0]) == 0:
        return {}
    try:
        bands = run.get_band_structure()
        direct_gap = float(bands.get_direct_band_gap())
        indirect_gap = float(bands.get_band_gap()["energy"])
        return solar.slme_from_dielectric(dielectric, direct_gap=direct_gap, indirect_gap=indirect_gap)
    except READ_ERRORS as exc:
        log.warning("%s: dielectric function present but SLME failed: %s", cid, exc)
        return {}


def iter_cgcnn(root: Path, *, columns: list[str], gap_key: str, energy_key: str) -> Iterator[Entry | Rejected]:
    """CGCNN folder: header-less id_prop.csv (columns from config) plus <id>.cif."""
    table = root / "id_prop.csv"
    if not table.exists():
        raise IngestError(f"{table}: missing (a CGCNN source needs id_prop.csv beside the CIFs)")
    if "id" not in columns or gap_key not in columns:
        raise IngestError(f"source.cgcnn_columns {columns} must name 'id' and the gap column '{gap_key}'")
    frame = pd.read_csv(table, header=None, dtype={0: str})
    if frame.shape[1] != len(columns):
        raise IngestError(f"{table}: {frame.shape[1]} columns, but source.cgcnn_columns names {len(columns)}")
    frame.columns = columns
    for row in frame.itertuples(index=False):
        row = row._asdict()
        cid = str(row["id"])
        cif = root / f"{cid}.cif"
        if not cif.exists():
            yield Rejected(cid, str(cif), "CIF file missing")
            continue
        try:
            structure = Structure.from_file(cif)
        except READ_ERRORS as exc:
            yield Rejected(cid, str(cif), f"unparsable CIF ({_short(exc)})")
            continue
        gap = _as_float(row.get(gap_key))
        energy = _as_float(row.get(energy_key)) if energy_key in row else None
        yield Entry(cid, str(cif), structure, gap, None, energy)


def iter_extxyz(path: Path, *, gap_key: str, direct_key: str, energy_key: str) -> Iterator[Entry | Rejected]:
    """Frames of one extxyz file; labels come from each frame's `info`."""
    if not path.exists():
        raise IngestError(f"{path}: extxyz source file not found (check source.path and source.kind)")
    try:
        frames = read_extxyz(path)
    except READ_ERRORS as exc:
        raise IngestError(f"{path}: not a readable extxyz file ({_short(exc)})") from exc
    for index, atoms in enumerate(frames):
        cid = str(atoms.info.get("id", f"frame{index:06d}"))
        where = f"{path}#{index}"
        if not atoms.pbc.all():
            yield Rejected(cid, where, "frame is not periodic in all three directions")
            continue
        structure = AseAtomsAdaptor.get_structure(atoms)
        direct = atoms.info.get(direct_key)
        yield Entry(
            cid,
            where,
            structure,
            _as_float(atoms.info.get(gap_key)),
            None if direct is None else bool(direct),
            _as_float(atoms.info.get(energy_key)),
        )


def _as_float(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out


def _short(exc: Exception, limit: int = 160) -> str:
    text = " ".join(str(exc).split())
    return text[:limit] or type(exc).__name__


# --- checks ---------------------------------------------------------------


def composition_numbers(structure: Structure, *, host: str, substituent: str) -> dict:
    """n_sub and x (substituent per formula unit of the host compound)."""
    comp = structure.composition
    n_sub = int(round(comp[substituent]))
    amounts: dict[str, float] = {}
    for el, amount in comp.items():
        symbol = host if el.symbol == substituent else el.symbol
        amounts[symbol] = amounts.get(symbol, 0.0) + amount
    parent = Composition(amounts)
    _, formula_units = parent.get_reduced_composition_and_factor()
    return {"n_sub": n_sub, "x": n_sub / formula_units, "formula_units": formula_units}


def structure_fingerprint(structure: Structure, *, r_max: float = 6.0, bin_width: float = 0.05) -> np.ndarray:
    """Histogram of species-pair distances: equal for duplicate structures."""
    centres, points, _, dists = structure.get_neighbor_list(r_max)
    z = np.array(structure.atomic_numbers)
    pair = np.minimum(z[centres], z[points]) * 128 + np.maximum(z[centres], z[points])
    bins = np.floor(dists / bin_width).astype(np.int64)
    keys, counts = np.unique(pair * 10_000 + bins, return_counts=True)
    return np.stack([keys, counts])


def find_duplicates(entries: list[Entry]) -> dict[str, str]:
    """Map id -> id of an earlier identical structure (fingerprint, then StructureMatcher)."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    matcher = StructureMatcher()
    seen: dict[tuple, list[Entry]] = {}
    duplicate_of: dict[str, str] = {}
    for entry in entries:
        fp = structure_fingerprint(entry.structure)
        key = (entry.structure.composition.formula, fp.tobytes())
        earlier = seen.setdefault(key, [])
        for other in earlier:
            if matcher.fit(entry.structure, other.structure):
                duplicate_of[entry.id] = other.id
                break
        else:
            earlier.append(entry)
    return duplicate_of


def check_entry(entry: Entry, *, allowed: set[str]) -> str | None:
    """Reason to quarantine this entry, or None if it is usable."""
    foreign = sorted({el.symbol for el in entry.structure.composition} - allowed)
    if foreign:
        return f"elements outside the configured set: {', '.join(foreign)}"
    if entry.band_gap is None:
        return "missing band gap"
    if math.isnan(entry.band_gap) or math.isinf(entry.band_gap):
        return "band gap is NaN or infinite"
    if entry.band_gap <= 0:
        return f"no band gap ({entry.band_gap:g} eV): metallic, efficiency undefined"
    return None


# --- labels ---------------------------------------------------------------


def assign_labels(frame: pd.DataFrame, *, metric: str, rule: str, threshold: float, top_fraction: float) -> pd.DataFrame:
    """Add `efficiency`, `efficiency_source` and the binary `label` (1 = high)."""
    frame = frame.copy()
    if metric == "slme":
        has_slme = frame["slme"].notna()
        frame["efficiency"] = frame["slme"].where(has_slme, frame["sq_efficiency"])
        frame["efficiency_source"] = np.where(has_slme, "slme", "sq")
    else:
        frame["efficiency"] = frame["sq_efficiency"]
        frame["efficiency_source"] = "sq"
    if rule == "threshold":
        frame["label"] = (frame["efficiency"] >= threshold).astype(int)
    else:
        # Rank with id as tie-breaker so ties split deterministically.
        order = frame.sort_values(["efficiency", "id"], ascending=[False, True]).index
        n_high = int(round(top_fraction * len(frame)))
        frame["label"] = 0
        frame.loc[order[:n_high], "label"] = 1
    return frame


# --- the stage ------------------------------------------------------------


def read_source(source: Mapping) -> Iterator[Entry | Rejected]:
    kind, path = source["kind"], Path(source["path"])
    if kind == "vasp":
        if not path.is_dir():
            raise IngestError(f"{path}: a vasp source must be a folder")
        return iter_vasp(path, require_converged=source.get("require_converged", True))
    if kind == "cgcnn":
        if not path.is_dir():
            raise IngestError(f"{path}: a cgcnn source must be a folder")
        return iter_cgcnn(path, columns=source["cgcnn_columns"], gap_key=source["gap_key"], energy_key=source["energy_key"])
    if kind == "extxyz":
        return iter_extxyz(path, gap_key=source["gap_key"], direct_key=source["direct_key"], energy_key=source["energy_key"])
    raise IngestError(f"unknown source kind {kind!r}")


def ingest(
    *, source: Mapping, elements: list[str], host: str, substituent: str, label: Mapping
) -> tuple[pd.DataFrame, list[Entry], pd.DataFrame]:
    """Read, check and label; returns (labels table, usable entries, quarantine table)."""
    allowed = set(elements)
    usable: list[Entry] = []
    rejected: list[Rejected] = []
    for n_read, item in enumerate(read_source(source), start=1):
        if isinstance(item, Rejected):
            rejected.append(item)
        elif reason := check_entry(item, allowed=allowed):
            rejected.append(Rejected(item.id, item.source_file, reason))
        else:
            usable.append(item)
        if n_read % PROGRESS_EVERY == 0:
            log.info("read %d configurations: %d usable so far, %d quarantined", n_read, len(usable), len(rejected))

    ids = pd.Series([e.id for e in usable])
    repeated = set(ids[ids.duplicated()])
    if repeated:
        kept = []
        for entry in usable:
            if entry.id in repeated and any(k.id == entry.id for k in kept):
                rejected.append(Rejected(entry.id, entry.source_file, "duplicate id"))
            else:
                kept.append(entry)
        usable = kept
    duplicate_of = find_duplicates(usable)
    for entry in usable:
        if entry.id in duplicate_of:
            rejected.append(Rejected(entry.id, entry.source_file, f"duplicate structure of {duplicate_of[entry.id]}"))
    usable = [e for e in usable if e.id not in duplicate_of]

    sq = solar.shockley_queisser([e.band_gap for e in usable]) if usable else None
    rows, kept_entries = [], []
    for i, entry in enumerate(usable):
        if not np.isfinite(sq["efficiency"][i]):
            rejected.append(Rejected(entry.id, entry.source_file, f"band gap {entry.band_gap:g} eV outside the AM1.5G spectrum"))
            continue
        comp = composition_numbers(entry.structure, host=host, substituent=substituent)
        rows.append(
            {
                "id": entry.id,
                "source_file": entry.source_file,
                "formula": entry.structure.composition.reduced_formula,
                "n_atoms": len(entry.structure),
                "n_sub": comp["n_sub"],
                "x": comp["x"],
                "band_gap": entry.band_gap,
                "gap_direct": entry.gap_direct,
                "energy_per_atom": entry.energy_per_atom,
                "sq_efficiency": sq["efficiency"][i],
                "power_density": sq["power_density"][i],
                "slme": entry.extra.get("slme", np.nan),
                "slme_power_density": entry.extra.get("slme_power_density", np.nan),
            }
        )
        kept_entries.append(entry)

    quarantine = pd.DataFrame([vars(r) for r in rejected], columns=["id", "source_file", "reason"])
    if not rows:
        return pd.DataFrame(), [], quarantine
    labels = assign_labels(
        pd.DataFrame(rows),
        metric=label["metric"],
        rule=label["rule"],
        threshold=label["threshold"],
        top_fraction=label["top_fraction"],
    )
    return labels, kept_entries, quarantine


def run_ingest(
    *,
    source: Mapping,
    elements: list[str],
    host: str,
    substituent: str,
    label: Mapping,
    labels_out: str,
    structures_out: str,
    quarantine_out: str,
    summary_out: str,
) -> None:
    """The ingest stage: labels.csv, structures.h5 (same order), quarantine.csv, summary."""
    labels, entries, quarantine = ingest(source=source, elements=elements, host=host, substituent=substituent, label=label)
    # Quarantine first: a run that fails for lack of usable data still leaves the reasons.
    write_csv(quarantine_out, quarantine)
    if labels.empty:
        raise IngestError(
            f"{source['path']}: no usable configurations; all {len(quarantine)} are listed with reasons in "
            f"{quarantine_out} (check source.path, source.kind and elements)"
        )
    write_structures(structures_out, ids=[e.id for e in entries], structures=[e.structure for e in entries])
    write_csv(labels_out, labels)
    summary = {
        "n_ingested": len(labels),
        "n_quarantined": len(quarantine),
        "n_high": int(labels["label"].sum()),
        "n_low": int((labels["label"] == 0).sum()),
        "quarantine_reasons": quarantine["reason"].value_counts().to_dict(),
        "source": dict(source),
        "label_rule": dict(label),
    }
    write_json(summary_out, summary)
    log.info("ingested %d configurations, quarantined %d", len(labels), len(quarantine))
    for row in quarantine.itertuples():
        log.warning("quarantined %s (%s): %s", row.id, row.source_file, row.reason)


def count_inputs(source: dict) -> int:
    """How many configurations the source offers, cheaply (for sizing graph shards).

    Returns 0 when the source is missing; ingestion then reports the problem.
    """
    kind, path = source["kind"], Path(source["path"])
    if kind == "vasp":
        return sum(1 for name in VASPRUN_NAMES for _ in path.rglob(name)) if path.is_dir() else 0
    if kind == "cgcnn":
        table = path / "id_prop.csv"
        if not table.exists():
            return 0
        with open(table) as fh:
            return sum(1 for line in fh if line.strip())
    if not path.exists():
        return 0
    opener = gzip.open if path.suffix == ".gz" else open
    frames = 0
    with opener(path, "rt") as fh:
        for line in fh:  # extxyz: an atom count, a comment line, then that many atom lines
            line = line.strip()
            if not line:
                continue
            n_atoms = int(line)
            for _ in range(n_atoms + 1):
                next(fh)
            frames += 1
    return frames
