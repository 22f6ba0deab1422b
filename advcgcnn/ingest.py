"""DFT label ingestion: chunk jobs read the source; one light job checks, de-duplicates and labels.

Every input configuration ends up either in the labelled dataset or in the
quarantine report with a plain reason; nothing is silently dropped.

1. `run_chunk` (one job per `source.chunk_size` configurations, in parallel on a
   cluster): read configurations `start` to `stop` of the source (see `sources`)
   into a structures file and a table of values, plus the ones rejected on reading.
2. `run_ingest` (one job): check every entry, drop those with no usable gap, find
   duplicates among the usable ones (by arrangement orbit of the parent crystal,
   else StructureMatcher within a composition), then label.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Composition, Structure

from . import solar
from .configspace import orbit_masks, orbit_name
from .entries import Entry, Rejected
from .errors import IngestError
from .graphs import flatten_structures, read_structures, select_structures, to_pymatgen, write_structures
from .io import write_csv, write_json
from .parent import ParentSpec
from .sources import count_configurations, read_source

log = logging.getLogger(__name__)

PROGRESS_EVERY = 500  # configurations between progress lines in the log
EFFICIENCY_METRICS = ("sq_efficiency", "slme")
# Columns of a chunk's table (extra columns from the source follow in name order).
ENTRY_COLUMNS = [
    "id",
    "source_file",
    "formula",
    "n_atoms",
    "n_sub",
    "x",
    "orbit",
    "band_gap",
    "gap_direct",
    "energy_per_atom",
    "slme",
    "slme_power_density",
]
QUARANTINE_COLUMNS = ["id", "source_file", "reason"]
# Two structures off the parent lattice are one when they agree this closely (no volume scaling:
# one compound relaxed to another volume is another calculation, not a copy).
DUPLICATE_MATCH = {"ltol": 0.02, "stol": 0.05, "angle_tol": 1.0, "scale": False}


# --- chunks: per-configuration work, in parallel jobs ------------------------


@dataclass(kw_only=True)
class ChunkData:
    """What a chunk job writes: checked entries (table and flat structures, same order) and the rejected."""

    table: pd.DataFrame
    structures: dict
    rejected: pd.DataFrame


def chunk_bounds(*, chunk: int, chunk_size: int, n_chunks: int) -> tuple[int, int | None]:
    """Configurations [start, stop) of one chunk; the last chunk reads to the end of the source."""
    start = chunk * chunk_size
    return start, (None if chunk == n_chunks - 1 else start + chunk_size)


def n_chunks(source: Mapping) -> int:
    return max(1, -(-count_configurations(source) // int(source.get("chunk_size", 1000))))


def read_entries(source: Mapping, *, start: int = 0, stop: int | None = None) -> tuple[list[Entry], list[Rejected]]:
    entries: list[Entry] = []
    rejected: list[Rejected] = []
    for n_read, item in enumerate(read_source(source, start=start, stop=stop), start=1):
        (rejected if isinstance(item, Rejected) else entries).append(item)
        if n_read % PROGRESS_EVERY == 0:
            log.info("read %d configurations: %d readable so far, %d rejected", n_read, len(entries), len(rejected))
    return entries, rejected


def read_chunk(
    *, source: Mapping, elements: Sequence[str], parent: ParentSpec, start: int = 0, stop: int | None = None
) -> ChunkData:
    """Read configurations `start` to `stop`, check each, and map it to its arrangement orbit."""
    entries, rejected = read_entries(source, start=start, stop=stop)
    allowed = set(elements)
    checked = []
    for entry in entries:
        if reason := check_entry(entry, allowed=allowed):
            rejected.append(Rejected(entry.id, entry.source_file, reason))
        else:
            checked.append(entry)
    orbits = orbit_masks([e.structure for e in checked], spec=parent)
    rows = []
    for entry, orbit in zip(checked, orbits, strict=True):
        comp = composition_numbers(entry.structure, host=parent.host, substituent=parent.substituent)
        rows.append(
            {
                "id": entry.id,
                "source_file": entry.source_file,
                "formula": entry.structure.composition.reduced_formula,
                "n_atoms": len(entry.structure),
                "n_sub": comp["n_sub"],
                "x": comp["x"],
                "orbit": "" if orbit is None else orbit_name(orbit, n_sites=parent.n_sites),
                "band_gap": entry.band_gap,
                "gap_direct": entry.gap_direct,
                "energy_per_atom": entry.energy_per_atom,
                "slme": entry.extra.get("slme", np.nan),
                "slme_power_density": entry.extra.get("slme_power_density", np.nan),
            }
            | {k: v for k, v in entry.extra.items() if k not in ("slme", "slme_power_density")}
        )
    table = pd.DataFrame(rows, columns=ENTRY_COLUMNS + sorted({k for r in rows for k in r} - set(ENTRY_COLUMNS)))
    return ChunkData(
        table=table,
        structures=flatten_structures([e.id for e in checked], [e.structure for e in checked]),
        rejected=pd.DataFrame([vars(r) for r in rejected], columns=QUARANTINE_COLUMNS),
    )


def run_chunk(
    *,
    source: Mapping,
    elements: Sequence[str],
    parent: ParentSpec,
    chunk: int,
    n_chunks: int,
    structures_out: str | Path,
    entries_out: str | Path,
    rejected_out: str | Path,
) -> None:
    """The chunk stage: one share of the source read, checked and mapped to orbits."""
    start, stop = chunk_bounds(chunk=chunk, chunk_size=int(source.get("chunk_size", 1000)), n_chunks=n_chunks)
    data = read_chunk(source=source, elements=elements, parent=parent, start=start, stop=stop)
    write_structures(structures_out, flat=data.structures)
    write_csv(entries_out, data.table)
    write_csv(rejected_out, data.rejected)
    log.info(
        "chunk %d (configurations %d to %s): %d usable, %d rejected",
        chunk,
        start,
        stop or "end",
        len(data.table),
        len(data.rejected),
    )


def load_chunk(files: Mapping) -> ChunkData:
    """A chunk job's files ({'structures', 'entries', 'rejected'} paths) read back."""
    table = pd.read_csv(
        files["entries"], dtype={"id": str, "source_file": str, "orbit": str}, keep_default_na=False, na_values=[""]
    )
    table["orbit"] = table["orbit"].fillna("")
    structures = read_structures(files["structures"])
    if structures["ids"] != table["id"].tolist():
        raise IngestError(f"{files['entries']} and {files['structures']} list different configurations: rerun that chunk")
    rejected = pd.read_csv(files["rejected"], dtype=str, keep_default_na=False)
    return ChunkData(table=table, structures=structures, rejected=rejected)


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


def _keep_order(table: pd.DataFrame) -> pd.DataFrame:
    """Rows in the order copies are kept: the lowest energy per atom first (missing last), then id."""
    return table.assign(_no_energy=table["energy_per_atom"].isna()).sort_values(
        ["_no_energy", "energy_per_atom", "id"], kind="stable"
    )


def find_duplicates(table: pd.DataFrame, *, structure_of: Callable[[int], Structure], n_sites: int) -> dict[str, str]:
    """Map id -> why it duplicates a kept row. Equal arrangement orbits (`orbit`) are duplicates;
    rows off the parent lattice are compared with StructureMatcher within their formula
    (`structure_of(row position)` gives the structure, only for those rows)."""
    reasons: dict[str, str] = {}
    ordered = _keep_order(table.reset_index(drop=True).assign(_pos=np.arange(len(table))))
    on_lattice = ordered[ordered["orbit"] != ""]
    for orbit, copies in on_lattice.groupby("orbit", sort=False):
        kept = copies["id"].iloc[0]
        for other in copies["id"].iloc[1:]:
            reasons[other] = f"duplicate arrangement of {kept} ({orbit}; the lower-energy copy is kept)"
    matcher = StructureMatcher(**DUPLICATE_MATCH)
    # Cells whose volumes differ by more than the length tolerance allows cannot match: only
    # kept structures inside that volume window are compared (a sorted list, bisected).
    window = math.log((1 + DUPLICATE_MATCH["ltol"]) ** 3)
    for _, group in ordered[ordered["orbit"] == ""].groupby("formula", sort=False):
        kept_volumes: list[float] = []
        kept: list[tuple[str, Structure]] = []
        for cid, pos in zip(group["id"], group["_pos"], strict=True):
            structure = structure_of(int(pos))
            log_volume = math.log(structure.volume / len(structure))
            lo = bisect.bisect_left(kept_volumes, log_volume - window)
            hi = bisect.bisect_right(kept_volumes, log_volume + window)
            original = next((k for k, s in kept[lo:hi] if matcher.fit(structure, s)), None)
            if original is None:
                at = bisect.bisect_left(kept_volumes, log_volume)
                kept_volumes.insert(at, log_volume)
                kept.insert(at, (cid, structure))
            else:
                reasons[cid] = f"duplicate structure of {original} (StructureMatcher; the lower-energy copy is kept)"
    return reasons


# --- labels ---------------------------------------------------------------


def assign_labels(
    frame: pd.DataFrame, *, metric: str, rule: str, threshold: float, top_fraction: float, direction: str = "high"
) -> pd.DataFrame:
    """Add `label_value` (what the class is read from), `label_source` (its column) and `label` (1 = the
    class `direction` names: high values, or low values such as formation energies)."""
    frame = frame.copy()
    if metric == "slme":
        has_slme = frame["slme"].notna()
        frame["label_value"] = frame["slme"].where(has_slme, frame["sq_efficiency"])
        frame["label_source"] = np.where(has_slme, "slme", "sq_efficiency")
    else:
        frame["label_value"] = pd.to_numeric(frame[metric])
        frame["label_source"] = metric
    sign = 1.0 if direction == "high" else -1.0
    if rule == "threshold":
        frame["label"] = (sign * (frame["label_value"] - threshold) >= 0).astype(int)
    else:
        # Rank with id as tie-breaker so ties split deterministically.
        order = frame.assign(_key=sign * frame["label_value"]).sort_values(["_key", "id"], ascending=[False, True]).index
        n_high = int(round(top_fraction * len(frame)))
        frame["label"] = 0
        frame.loc[order[:n_high], "label"] = 1
    return frame


# --- the merge: what needs every configuration at once ----------------------


def merge(chunks: Sequence[ChunkData], *, parent: ParentSpec, label: Mapping) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """Duplicate ids, gaps the label cannot use, duplicate structures, then labels.

    Returns (labels table, its structures as a flat set in the same order, quarantine table).
    """
    table = pd.concat([c.table.assign(_part=k, _row=np.arange(len(c.table))) for k, c in enumerate(chunks)], ignore_index=True)
    quarantine = [c.rejected for c in chunks]

    def reject(mask, reasons) -> None:
        nonlocal table
        quarantine.append(table.loc[mask, ["id", "source_file"]].assign(reason=reasons))
        table = table.loc[~mask].reset_index(drop=True)

    reject(table["id"].duplicated().to_numpy(), "duplicate id")
    sq = solar.shockley_queisser(table["band_gap"].to_numpy(dtype=float))
    position = table.columns.get_loc("energy_per_atom") + 1
    table.insert(position, "sq_efficiency", sq["efficiency"])
    table.insert(position + 1, "power_density", sq["power_density"])
    # Only entries that can be labelled may be the original of a duplicate.
    metric = label["metric"]
    if metric in EFFICIENCY_METRICS:
        outside = ~np.isfinite(table["sq_efficiency"].to_numpy())
        reject(outside, [f"band gap {g:g} eV outside the AM1.5G spectrum" for g in table.loc[outside, "band_gap"]])
    else:
        values = pd.to_numeric(table[metric], errors="coerce") if metric in table else pd.Series(np.nan, index=table.index)
        reject(values.isna().to_numpy(), f"no value for label.metric {metric!r}")

    def structure_of(pos: int) -> Structure:
        row = table.iloc[pos]
        return to_pymatgen(chunks[int(row["_part"])].structures, int(row["_row"]))

    duplicate = find_duplicates(table, structure_of=structure_of, n_sites=parent.n_sites)
    is_duplicate = table["id"].isin(duplicate).to_numpy()
    reject(is_duplicate, [duplicate[i] for i in table.loc[is_duplicate, "id"]])

    quarantine_table = pd.concat(
        [q for q in quarantine if len(q)] or [pd.DataFrame(columns=QUARANTINE_COLUMNS)], ignore_index=True
    )
    quarantine_table = quarantine_table[QUARANTINE_COLUMNS]
    if table.empty:
        return pd.DataFrame(), select_structures([], []), quarantine_table
    structures = select_structures([c.structures for c in chunks], list(zip(table["_part"], table["_row"], strict=True)))
    labels = assign_labels(
        table.drop(columns=["_part", "_row"]),
        metric=metric,
        rule=label["rule"],
        threshold=label["threshold"],
        top_fraction=label["top_fraction"],
        direction=label.get("direction", "high"),
    )
    return labels, structures, quarantine_table


def ingest(
    *, source: Mapping, elements: Sequence[str], parent: ParentSpec, label: Mapping
) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """The whole source in one pass (chunk, then merge): (labels, structures as a flat set, quarantine)."""
    return merge([read_chunk(source=source, elements=elements, parent=parent)], parent=parent, label=label)


def run_ingest(
    *,
    chunks: Sequence[Mapping] | None = None,
    source: Mapping,
    elements: Sequence[str],
    parent: ParentSpec,
    label: Mapping,
    labels_out: str | Path,
    structures_out: str | Path,
    quarantine_out: str | Path,
    summary_out: str | Path,
) -> None:
    """The merge stage: labels.csv, structures.h5 (same order), quarantine.csv, summary.json.

    `chunks` are the chunk jobs' files; without them the source is read here in one go.
    """
    if chunks is None:
        parts = [read_chunk(source=source, elements=elements, parent=parent)]
    else:
        parts = [load_chunk(files) for files in chunks]
    labels, structures, quarantine = merge(parts, parent=parent, label=label)
    # Quarantine first: a run that fails for lack of usable data still leaves the reasons.
    write_csv(quarantine_out, quarantine)
    if labels.empty:
        raise IngestError(
            f"{source['path']}: no usable configurations; all {len(quarantine)} are listed with reasons in "
            f"{quarantine_out} (check source.path, source.kind and elements)"
        )
    write_structures(structures_out, flat=structures)
    write_csv(labels_out, labels)
    summary = {
        "n_ingested": len(labels),
        "n_quarantined": len(quarantine),
        "n_chunks": len(parts),
        "n_high": int(labels["label"].sum()),
        "n_low": int((labels["label"] == 0).sum()),
        "n_on_parent_lattice": int((labels["orbit"] != "").sum()),
        "quarantine_reasons": quarantine["reason"].value_counts().to_dict(),
        "source": dict(source),
        "label_rule": dict(label),
    }
    write_json(summary_out, summary)
    log.info("ingested %d configurations, quarantined %d", len(labels), len(quarantine))
    for row in quarantine.itertuples():
        log.warning("quarantined %s (%s): %s", row.id, row.source_file, row.reason)
