"""VASP project trees: configurations made of several runs, each with a role read from its own parameters.

A configuration is a folder at a fixed level below `source.path` (by default each
top-level folder; `source.config_depth` or `source.config_glob` choose another) and
holds one or more runs (`vasprun.xml[.gz]`) at any depth below it. Each run's role:

- optics: LOPTICS, or a frequency-dependent dielectric function in the file;
- bands: a non-self-consistent run (ICHARG >= 10) or one with zero-weight k-points
  (a hybrid band structure); parts of a split band structure are joined;
- relaxation: NSW > 0 and IBRION >= 0;
- static: anything else (static or DOS run).

The structure comes from the final relaxation (else the static run), the energy from
the static run (else the structure's run), the gap from the best run for it (band
structure, then static/DOS, then optics, then relaxation), the SLME from the optics
run. Runs that are not relaxations must hold the configuration's structure; where
they do not, the configuration is quarantined with a reason naming the setting.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure
from pymatgen.electronic_structure.core import Spin
from pymatgen.io.vasp import Vasprun

from . import bandgap, solar
from .entries import READ_ERRORS, Entry, Rejected, short_message
from .errors import IngestError

log = logging.getLogger(__name__)

VASPRUN_NAMES = ("vasprun.xml", "vasprun.xml.gz")
ROLES = ("relaxation", "static", "bands", "optics")
GAP_PREFERENCE = ("bands", "static", "optics", "relaxation")  # best run for the gap first
# Runs of one configuration are one structure when their cells agree this closely (no volume scaling).
SAME_STRUCTURE = {"ltol": 0.01, "stol": 0.05, "angle_tol": 0.5, "scale": False, "primitive_cell": False}


@dataclass(kw_only=True)
class Run:
    path: Path
    role: str
    relaxes: bool  # NSW > 0 and IBRION >= 0: its final structure is a relaxed one
    structure: Structure | None = None
    energy_per_atom: float | None = None
    edges: bandgap.BandEdges | None = None
    slme: dict = field(default_factory=dict)
    problem: str | None = None  # why this run cannot be used


def folder_levels(source: Mapping) -> list[str]:
    """Name patterns of the folder levels down to a configuration folder (`config_glob` or `config_depth`)."""
    pattern = source.get("config_glob")
    if pattern:
        levels = [part for part in str(pattern).strip("/").split("/") if part]
        if not levels or "**" in levels:
            raise IngestError(f"source.config_glob {pattern!r}: give one name pattern per folder level, e.g. 'batch*/*'")
        return levels
    depth = int(source.get("config_depth", 1))
    if depth < 0:
        raise IngestError(f"source.config_depth {depth}: must be 0 (the whole tree is one configuration) or more")
    return ["*"] * depth


def vasprun_files(root: Path) -> list[Path]:
    if not root.is_dir():
        raise IngestError(f"{root}: a vasp source must be a folder")
    files = sorted(p for name in VASPRUN_NAMES for p in root.rglob(name))
    if not files:
        raise IngestError(f"{root}: no vasprun.xml or vasprun.xml.gz below this folder (check source.path and source.kind)")
    return files


def configuration_of(run_folder: Path, *, root: Path, levels: list[str]) -> Path | None:
    """The configuration folder holding a run; None if the run lies in no configuration folder.

    A run shallower than the configuration level is a configuration of its own.
    """
    parts = run_folder.relative_to(root).parts
    head = parts[: len(levels)]
    if len(parts) >= len(levels) and not all(fnmatch.fnmatchcase(p, level) for p, level in zip(head, levels, strict=True)):
        return None
    return root.joinpath(*head)


def configuration_id(folder: Path, *, root: Path) -> str:
    """A configuration's id: its folder relative to the source root (the root's own name for the root)."""
    return folder.relative_to(root).as_posix() if folder != root else root.name


def configuration_folders(root: Path, *, levels: list[str]) -> dict[Path | None, list[Path]]:
    """Configuration folder -> its vasprun files (sorted by id); runs outside every configuration folder under None."""
    grouped: dict[Path | None, list[Path]] = {}
    for path in vasprun_files(root):
        grouped.setdefault(configuration_of(path.parent, root=root, levels=levels), []).append(path)
    return dict(sorted(grouped.items(), key=lambda item: "" if item[0] is None else configuration_id(item[0], root=root)))


def run_role(run: Vasprun) -> tuple[str, bool]:
    params = run.parameters
    relaxes = int(params.get("NSW", 0) or 0) > 0 and int(params.get("IBRION", -1)) >= 0
    if bool(params.get("LOPTICS", False)) or _has_dielectric(run):
        return "optics", relaxes
    weights = np.asarray(run.actual_kpoints_weights, dtype=float)
    if int(params.get("ICHARG", 0) or 0) >= 10 or (weights.size and (weights == 0).any()):
        return "bands", relaxes
    return ("relaxation" if relaxes else "static"), relaxes


def _has_dielectric(run: Vasprun) -> bool:
    try:
        energies = run.dielectric[0]
    except (KeyError, AttributeError, IndexError):
        return False
    return len(energies) > 0


def vasp_edges(run: Vasprun) -> bandgap.BandEdges:
    spins = [s for s in (Spin.up, Spin.down) if s in run.eigenvalues]
    data = np.stack([run.eigenvalues[s] for s in spins])  # [spin, kpoint, band, (energy, occupation)]
    return bandgap.band_edges(eigenvalues=data[..., 0], occupations=data[..., 1], kpoints=np.asarray(run.actual_kpoints))


def read_run(path: Path, *, require_converged: bool) -> Run:
    """One vasprun file; a file that cannot be used comes back with its problem set."""
    try:
        run = Vasprun(str(path), parse_potcar_file=False, parse_dos=False)
    except READ_ERRORS as exc:
        return Run(
            path=path, role="unknown", relaxes=False, problem=f"unparsable vasprun ({type(exc).__name__}: {short_message(exc)})"
        )
    role, relaxes = run_role(run)
    out = Run(path=path, role=role, relaxes=relaxes)
    if require_converged and not run.converged_electronic:
        out.problem = "electronic loop not converged"
        return out
    if require_converged and relaxes and not run.converged_ionic:
        out.problem = "ionic relaxation not converged"
        return out
    out.structure = run.final_structure
    out.energy_per_atom = float(run.final_energy) / len(out.structure)
    try:
        out.edges = vasp_edges(run)
    except READ_ERRORS as exc:
        log.warning("%s: no band edges (%s)", path, short_message(exc))
    if role == "optics" and out.edges is not None and _has_dielectric(run):
        try:
            out.slme = solar.slme_from_dielectric(run.dielectric, direct_gap=out.edges.direct_gap, indirect_gap=out.edges.gap)
        except READ_ERRORS as exc:
            log.warning("%s: dielectric function present but SLME failed: %s", path, short_message(exc))
    return out


def same_structure(a: Structure, b: Structure) -> bool:
    if len(a) == len(b) and a.species == b.species and np.allclose(a.lattice.matrix, b.lattice.matrix, atol=1e-3):
        delta = a.frac_coords - b.frac_coords
        if np.abs(delta - np.round(delta)).max() < 1e-4:
            return True
    return a.composition == b.composition and StructureMatcher(**SAME_STRUCTURE).fit(a, b)


def _last(runs: list[Run], *roles: str) -> Run | None:
    chosen = [r for r in runs if r.role in roles]
    return chosen[-1] if chosen else None


def assemble(cid: str, *, folder: Path, runs: list[Run], root: Path) -> Entry | Rejected:
    """One configuration from its runs: structure, energy, gap and SLME each from the run suited to it."""

    def rel(run: Run) -> str:
        return run.path.relative_to(root).as_posix()

    usable = [r for r in runs if r.problem is None]
    for skipped in (r for r in runs if r.problem is not None):
        log.warning("%s: run %s not used: %s", cid, rel(skipped), skipped.problem)
    if not usable:
        problems = "; ".join(f"{rel(r)}: {r.problem}" for r in runs)
        reason = problems if len(runs) == 1 else f"no usable run ({problems})"
        return Rejected(cid, str(runs[0].path if len(runs) == 1 else folder), reason)
    relaxations = [r for r in usable if r.relaxes]
    structure_run = relaxations[-1] if relaxations else (_last(usable, "static") or usable[-1])
    structure = structure_run.structure
    for run in usable:
        mismatch = run.structure.composition != structure.composition or (
            not run.relaxes and not same_structure(run.structure, structure)
        )
        if mismatch:
            return Rejected(
                cid,
                str(folder),
                f"runs {rel(structure_run)} and {rel(run)} hold different structures, so they are not one configuration: "
                "set source.config_depth or source.config_glob so that each configuration folder holds runs of one structure",
            )
    energy_run = _last(usable, "static") or structure_run
    gap_runs, edges = [], None
    for role in GAP_PREFERENCE:
        with_edges = [r for r in usable if r.role == role and r.edges is not None]
        if with_edges:
            # A band structure split into parts is one calculation: join the parts.
            gap_runs = with_edges if role == "bands" else with_edges[-1:]
            edges = bandgap.join([r.edges for r in gap_runs])
            break
    optics = [r for r in usable if r.slme]
    extra = {
        "runs": "; ".join(f"{rel(r)}={r.role}" + (f" (not used: {r.problem})" if r.problem else "") for r in runs),
        "structure_run": rel(structure_run),
        "energy_run": rel(energy_run),
        "gap_run": "+".join(rel(r) for r in gap_runs),
        "gap_method": "" if edges is None else edges.method,
        "slme_run": rel(optics[-1]) if optics else "",
    }
    if optics:
        extra.update(optics[-1].slme)
    return Entry(
        cid,
        str(folder),
        structure,
        None if edges is None else edges.gap,
        None if edges is None else edges.direct,
        energy_run.energy_per_atom,
        extra,
    )


def iter_configurations(
    root: Path, *, levels: list[str], require_converged: bool = True, start: int = 0, stop: int | None = None
) -> Iterator[Entry | Rejected]:
    """Configurations `start` to `stop` of a VASP tree, in the order of their ids."""
    grouped = configuration_folders(root, levels=levels)
    for folder, files in list(grouped.items())[start:stop]:
        if folder is None:
            for path in files:
                yield Rejected(
                    path.parent.relative_to(root).as_posix(),
                    str(path),
                    f"run outside every configuration folder matching source.config_glob {'/'.join(levels)!r}",
                )
            continue
        runs = [read_run(path, require_converged=require_converged) for path in files]
        yield assemble(configuration_id(folder, root=root), folder=folder, runs=runs, root=root)
