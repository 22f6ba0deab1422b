"""The embedded demo dataset: CHGNet-relaxed CsSnBr3-xIx cells labelled with GFN1-xTB gaps.

Every configuration gets the same protocol (`relaxation.Protocol`, default
`symmetric`): the ideal decorated parent supercell at the Vegard lattice
constant, relaxed with CHGNet from a few deterministic starts, the
lowest-energy minimum kept and refined to a tight force tolerance, the
framework checked, and its Gamma-point GFN1-xTB gap taken (tblite; in a 2x2x2 supercell the
R point of the cubic cell folds onto Gamma, so it is the physical gap).

Generation is chunked and resumable: the plan and every finished chunk are
written under `demo_dataset.generation_dir` (committed with the repository),
so an interrupted generation continues where it stopped. Each chunk runs in
two stages (`relaxation.select_relaxation` into `chunks/`, then
`relaxation.finish_label` into `labels/`), so a tighter `refine_fmax` reruns
only the cheap second stage. Beside the dataset:
a stability sample relabelled under a perturbation of every protocol, and
Gamma-point PBE gaps (GPAW) of its relaxed cells.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from dataclasses import asdict
from importlib.metadata import version

import numpy as np
import pandas as pd
import torch
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from . import label_quality
from .configspace import read_orbits, sample_orbits
from .descriptors import n_unequal_atoms, n_unequal_atoms_arrangement
from .ingest import assign_labels
from .io import read_extxyz, write_csv, write_extxyz, write_json
from .labelling import framework_check
from .parent import ParentSpec, decorate
from .pbe import pbe_gaps
from .relaxation import Label, Protocol, as_structure, chgnet_calculator, finish_label, select_relaxation, stability_labels
from .solar import shockley_queisser


def configuration_id(*, mask: int, n_sub: int) -> str:
    return f"nI{n_sub:02d}_m{mask:08x}"


def ideal_cell(*, spec: ParentSpec, mask: int) -> Structure:
    """The decorated parent supercell at the Vegard lattice constant of its composition."""
    x = bin(mask).count("1") / spec.n_sites
    return decorate(spec.build(), mask, lattice_constant=spec.vegard_lattice_constant(substituent_fraction=x))


def _atoms_with(structure: Structure, info: Mapping):
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.info.update({k: v for k, v in info.items() if not k.startswith("seconds") and not isinstance(v, list | dict)})
    return atoms


def selected_configuration(*, spec: ParentSpec, mask: int, multiplicity: int, protocol: Protocol, calculator):
    """Stage one for one arrangement: its relaxations and kept run; returns (ase.Atoms of the kept cell, record)."""
    start = ideal_cell(spec=spec, mask=mask)
    label = select_relaxation(start, protocol=protocol, mask=mask, calculator=calculator)
    record = _record(spec=spec, mask=mask, multiplicity=multiplicity, protocol=protocol, start=start, label=label)
    return _atoms_with(label.structure, record), record


def finished_configuration(atoms, *, record: Mapping, spec: ParentSpec, protocol: Protocol, calculator):
    """Stage two for one arrangement, from stage one's kept cell and record: (ase.Atoms of the labelled cell, record)."""
    mask = int(record["mask"])
    selected = Label(
        protocol=str(record["protocol"]),
        gap=float(record["gap_gfn1_raw"]),
        structure=as_structure(atoms),
        energy_per_atom=float(record["energy_per_atom"]),
        kept=str(record["kept_run"]),
        converged=bool(record["relax_converged"]),
        runs=json.loads(record["runs"]),
        seconds=float(record["seconds_label"]),
    )
    label = finish_label(selected, protocol=protocol, mask=mask, calculator=calculator)
    start = ideal_cell(spec=spec, mask=mask)
    finished = _record(
        spec=spec, mask=mask, multiplicity=int(record["multiplicity"]), protocol=protocol, start=start, label=label
    )
    return _atoms_with(label.structure, finished), finished


FRAMEWORK_COLUMNS = (
    "framework_intact",
    "broken_halides",
    "broken_b_sites",
    "long_snx_bonds",
    "snx_bond_max",
    "snxsn_angle_mean",
    "snxsn_angle_min",
)


def framework_columns(structure: Structure, *, reference: Structure, spec: ParentSpec, protocol: Protocol) -> dict:
    """The framework check of a relaxed cell against its start, as the chunk tables and the provenance record it."""
    check = framework_check(
        structure, reference=reference, b_site=spec.b_site, halides=spec.mixed_species, cutoff=protocol.bond_cutoff
    )
    names = ("intact", "broken_halides", "broken_b_sites", "long_bonds", "bond_max", "bxb_angle_mean", "bxb_angle_min")
    return dict(zip(FRAMEWORK_COLUMNS, (check[name] for name in names), strict=True))


def _record(*, spec: ParentSpec, mask: int, multiplicity: int, protocol: Protocol, start: Structure, label: Label) -> dict:
    n_sub = bin(mask).count("1")
    kept = next((r for r in label.runs if r.get("start") == label.kept), {})
    refined = label.refined or {}
    return {
        "id": configuration_id(mask=mask, n_sub=n_sub),
        "mask": int(mask),
        "n_I": n_sub,
        "x": n_sub / spec.n_sites * 3.0,  # per formula unit: ABX(3-x)Y(x)
        "multiplicity": int(multiplicity),
        "protocol": label.protocol,
        "gap_gfn1_raw": label.gap,
        "gap_gfn1_sem": label.gap_sem,
        "energy_per_atom": label.energy_per_atom,
        "kept_run": label.kept,
        "relax_converged": label.converged,
        "relax_steps": int(kept.get("steps", 0)) + sum(int(r["steps"]) for r in label.runs if "refined_to_fmax" in r),
        "spacegroup_start": kept.get("spacegroup_start", ""),
        "spacegroup_kept": refined.get("spacegroup_end", kept.get("spacegroup_end", "")),
        "refine_gap_shift": abs(refined["gap_gfn1_raw"] - kept["gap_gfn1_raw"]) if refined else 0.0,
        "label_fmax": float(refined.get("label_fmax", protocol.fmax)),
        "halving_gap_shift": float(refined.get("halving_gap_shift", float("nan"))),
        "tolerance_converged": bool(refined.get("tolerance_converged", True)),
        "n_unequal_atoms_arrangement": n_unequal_atoms_arrangement(start, parent_grid=spec.parent_grid),
        "n_unequal_atoms_relaxed": n_unequal_atoms(label.structure),
        **framework_columns(label.structure, reference=start, spec=spec, protocol=protocol),
        "runs": json.dumps(label.runs),
        "seconds_label": label.seconds,
        "seconds_refine": float(refined.get("ladder_seconds", 0.0)),
    }


def calibration(*, raw_host: float, raw_substituent: float, experiment: Mapping[str, float]) -> tuple[float, float]:
    """Slope and intercept mapping raw GFN1 end-member gaps onto experiment (keys `host`, `substituent`)."""
    slope = (experiment["host"] - experiment["substituent"]) / (raw_host - raw_substituent)
    intercept = experiment["host"] - slope * raw_host
    return slope, intercept


def calibration_choices(*, raw_host: float, raw_substituent: float, experiment: Mapping[str, float], pbe_check: Mapping) -> dict:
    """The calibrations the evidence allows, each with its evidence in words.

    `end_members`: two points, the end members' raw gaps onto experiment. `pbe_slope`: the
    slope of PBE against GFN1 over the cross-check's cells, offset so that the end members'
    mean lands on experiment's mean (a scissor shift, as PBE underestimates gaps).
    """
    slope, intercept = calibration(raw_host=raw_host, raw_substituent=raw_substituent, experiment=experiment)
    choices = {
        "end_members": {
            "slope": slope,
            "intercept": intercept,
            "evidence": "the two end members alone (their raw GFN1 gaps mapped onto the experimental gaps)",
        }
    }
    if pbe_check.get("n_cells"):
        fit = pbe_check["all_cells"]
        pbe_slope = fit["slope_pbe_per_gfn1"]
        mean_experiment = (experiment["host"] + experiment["substituent"]) / 2
        choices["pbe_slope"] = {
            "slope": pbe_slope,
            "intercept": mean_experiment - pbe_slope * (raw_host + raw_substituent) / 2,
            "evidence": (
                f"slope of the PBE gap against the GFN1 gap over {pbe_check['n_cells']} relaxed cells "
                f"(r^2 {fit['r_squared']:.2f}), shifted so the end members' mean matches experiment's"
            ),
        }
    return choices


def class_agreement(*, raw_gaps: pd.Series, ids: pd.Series, calibrations: Mapping) -> float:
    """Share of configurations whose class (the pipeline's default: top half by SQ efficiency) no calibration changes."""
    classes = []
    for choice in calibrations.values():
        gaps = choice["intercept"] + choice["slope"] * raw_gaps.to_numpy(float)
        frame = pd.DataFrame({"id": ids.to_numpy(), "sq_efficiency": shockley_queisser(gaps)["efficiency"]})
        labelled = assign_labels(frame, metric="sq_efficiency", rule="top_fraction", threshold=0.0, top_fraction=0.5)
        classes.append(labelled["label"].to_numpy())
    return float(np.all(np.array(classes) == classes[0], axis=0).mean())


def end_member_formulas(spec: ParentSpec) -> dict[str, str]:
    return {end: f"{spec.a_site}{spec.b_site}{getattr(spec, end)}3" for end in ("host", "substituent")}


def tool_versions() -> dict:
    names = ["chgnet", "tblite", "pymatgen", "ase", "torch", "numpy", "spglib"]
    return {"python": platform.python_version(), **{n: version(n) for n in names}}


def write_plan(*, orbits_path: str, plan_path: str, stability_path: str, settings: Mapping) -> None:
    """Seeded samples: the dataset's orbits per substituent count (plus `extension`), and the stability sample; in chunks.

    The stability sample is both end members plus `stability.per_composition`
    orbits at each of `stability.n_sub` (also the PBE cross-check's cells).
    """
    orbits = read_orbits(orbits_path)
    seed = int(settings["seed"])
    n_sites = int(orbits["n_sub"].max())
    chosen = sample_orbits(orbits, per_count=settings["orbits_per_count"], seed=seed)
    frame = pd.DataFrame({"mask": chosen["mask"], "n_I": chosen["n_sub"], "multiplicity": chosen["multiplicity"]})
    # Round-robin keeps chunks balanced in composition (and so in cost).
    frame["chunk"] = np.arange(len(frame)) % settings["n_chunks"]
    extension = settings.get("extension") or {}
    if extension.get("orbits_per_count", 0):
        # Drawn apart (seed + 2) from the orbits the first draw left, in chunks of their own: a finished
        # generation grows without a single existing row or chunk changing.
        left = ~np.isin(orbits["mask"], chosen["mask"])
        more = sample_orbits({k: v[left] for k, v in orbits.items()}, per_count=extension["orbits_per_count"], seed=seed + 2)
        added = pd.DataFrame({"mask": more["mask"], "n_I": more["n_sub"], "multiplicity": more["multiplicity"]})
        added["chunk"] = settings["n_chunks"] + np.arange(len(added)) % extension["n_chunks"]
        frame = pd.concat([frame, added], ignore_index=True)
    frame["n_sites"] = n_sites
    write_csv(plan_path, frame[["mask", "n_I", "multiplicity", "n_sites", "chunk"]])

    stability = settings["stability"]
    sample = sample_orbits(orbits, per_count=stability["per_composition"], seed=seed + 1)
    wanted = np.isin(sample["n_sub"], [0, n_sites, *stability["n_sub"]])
    frame = pd.DataFrame({k: sample[k][wanted] for k in ("mask", "n_sub", "multiplicity")})
    frame = frame.rename(columns={"n_sub": "n_I"})
    frame["n_sites"] = n_sites
    frame["chunk"] = np.arange(len(frame)) % stability["n_chunks"]
    write_csv(stability_path, frame)


def label_chunks(*, settings: Mapping) -> range:
    """Every chunk of the dataset's plan: `n_chunks`, then the extension's."""
    return range(settings["n_chunks"] + (settings.get("extension") or {}).get("n_chunks", 0))


def _plan_rows(plan_path: str, *, chunk: int, spec: ParentSpec) -> pd.DataFrame:
    rows = pd.read_csv(plan_path)
    if len(rows) and int(rows["n_sites"].iloc[0]) != spec.n_sites:
        raise ValueError(f"{plan_path} plans {int(rows['n_sites'].iloc[0])} mixed sites, config parent has {spec.n_sites}")
    torch.set_num_threads(1)
    return rows[rows["chunk"] == chunk]


def _log_record(record: Mapping, log) -> None:
    log(
        f"{record['id']}: gap_raw={record['gap_gfn1_raw']:.3f} eV kept={record['kept_run']} "
        f"{record['spacegroup_start']} -> {record['spacegroup_kept']} intact={record['framework_intact']} "
        f"t={record['seconds_label']:.1f}s"
    )


def relax_chunk_file(
    *, plan_path: str, chunk: int, spec: ParentSpec, protocol: Protocol, frames_out: str, records_out: str, log=print
) -> None:
    """Stage one of the plan's rows of one chunk: relaxations and kept cells, with per-configuration records."""
    rows = _plan_rows(plan_path, chunk=chunk, spec=spec)
    calculator = chgnet_calculator()
    frames, records = [], []
    for row in rows.itertuples():
        atoms, record = selected_configuration(
            spec=spec, mask=int(row.mask), multiplicity=int(row.multiplicity), protocol=protocol, calculator=calculator
        )
        _log_record(record, log)
        frames.append(atoms)
        records.append(record)
    write_extxyz(frames_out, frames)
    write_csv(records_out, pd.DataFrame(records))


def label_chunk_file(
    *, frames_path: str, records_path: str, spec: ParentSpec, protocol: Protocol, frames_out: str, records_out: str, log=print
) -> None:
    """Stage two of one chunk (stage one's kept cells and records): refined, labelled cells and their records."""
    frames = read_extxyz(frames_path)
    records = pd.read_csv(records_path)
    if [a.info["id"] for a in frames] != records["id"].tolist():
        raise ValueError(f"{frames_path} and {records_path} list different configurations")
    torch.set_num_threads(1)
    calculator = chgnet_calculator()
    finished_frames, finished_records = [], []
    for atoms, record in zip(frames, records.to_dict(orient="records"), strict=True):
        finished, finished_record = finished_configuration(
            atoms, record=record, spec=spec, protocol=protocol, calculator=calculator
        )
        _log_record(finished_record, log)
        finished_frames.append(finished)
        finished_records.append(finished_record)
    write_extxyz(frames_out, finished_frames)
    write_csv(records_out, pd.DataFrame(finished_records))


def stability_chunk_file(
    *, plan_path: str, chunk: int, spec: ParentSpec, protocol: Protocol, frames_out: str, records_out: str, log=print
) -> None:
    """Label the stability sample's rows of one chunk twice under every protocol (base and perturbed).

    Frames are the symmetric protocol's kept cells (the PBE cross-check's input).
    """
    rows = _plan_rows(plan_path, chunk=chunk, spec=spec)
    calculator = chgnet_calculator()
    frames, records = [], []
    for row in rows.itertuples():
        mask = int(row.mask)
        start = ideal_cell(spec=spec, mask=mask)
        per_protocol, symmetric = stability_labels(start, protocol=protocol, mask=mask, calculator=calculator)
        base = _record(spec=spec, mask=mask, multiplicity=int(row.multiplicity), protocol=protocol, start=start, label=symmetric)
        frames.append(_atoms_with(symmetric.structure, base))
        for entry in per_protocol:
            runs = {k: json.dumps(entry.pop(k)) for k in ("runs_base", "runs_perturbed") if k in entry}
            records.append({"id": base["id"], "mask": mask, "n_I": int(row.n_I), **entry, **runs})
            log(
                f"{base['id']} {entry['protocol']}: {entry['gap_base']:.3f} -> {entry['gap_perturbed']:.3f} eV "
                f"({entry['seconds_per_label']:.0f} s per label)"
            )
    write_extxyz(frames_out, frames)
    write_csv(records_out, pd.DataFrame(records))


def pbe_chunk_file(*, frames_path: str, out_path: str, ranks: int, log=print) -> None:
    """Gamma-point PBE gaps (GPAW) of the cells in one extxyz file."""
    cells = [
        {
            "id": atoms.info["id"],
            "numbers": atoms.numbers.tolist(),
            "positions": atoms.positions.tolist(),
            "cell": atoms.cell.array.tolist(),
        }
        for atoms in read_extxyz(frames_path)
    ]
    pbe_gaps(cells=cells, out_path=out_path, ranks=ranks, log=log)


def _count_by_tolerance(label_fmax: pd.Series) -> dict[str, int]:
    """How many labels settled at each force tolerance (eV/A), loosest first."""
    return {f"{f:.6g}": int(n) for f, n in label_fmax.value_counts().sort_index(ascending=False).items()}


def _halving_summary(shifts: pd.Series, *, label_fmax: pd.Series, tolerance: float) -> dict:
    """How far the labels moved when their own tolerance `label_fmax` was halved, against `tolerance` (eV)."""
    over = int((shifts > tolerance).sum())
    return {
        "label_fmax_eV_per_A": _count_by_tolerance(label_fmax),
        "criterion_eV": tolerance,
        "n_arrangements": int(len(shifts)),
        "n_over_criterion": over,
        "median_shift_eV": float(shifts.median()),
        "max_shift_eV": float(shifts.max()),
        "criterion_met": over == 0,
    }


def _recheck_frameworks(records: pd.DataFrame, frames: list, *, spec: ParentSpec, protocol: Protocol) -> pd.DataFrame:
    """The framework check as the code states it now, on the chunks' relaxed cells (chunks may predate a change of rule)."""
    ids = [atoms.info["id"] for atoms in frames]
    if ids != records["id"].tolist():
        raise RuntimeError("chunk frames and records out of step")
    checked = pd.DataFrame(
        [
            framework_columns(
                AseAtomsAdaptor.get_structure(atoms),
                reference=ideal_cell(spec=spec, mask=int(atoms.info["mask"])),
                spec=spec,
                protocol=protocol,
            )
            for atoms in frames
        ],
        index=records.index,
    )
    return records.assign(**{column: checked[column] for column in checked})


def _excluded(records: pd.DataFrame) -> pd.DataFrame:
    intact, relaxed = records["framework_intact"].astype(bool), records["relax_converged"].astype(bool)
    settled = records["tolerance_converged"].astype(bool)
    reasons = np.select(
        [~intact, ~relaxed],
        ["framework broken", "relaxation not converged"],
        "label not converged: no protocol.settled_halvings halvings of the force tolerance in a row "
        "moved the gap by at most protocol.gap_tolerance",
    )
    bad = ~(intact & relaxed & settled)
    return pd.DataFrame({"id": records.loc[bad, "id"], "n_I": records.loc[bad, "n_I"], "reason": reasons[bad.to_numpy()]})


def _symmetry_table(records: pd.DataFrame) -> list[dict]:
    """Per composition: how often the kept minimum broke the arrangement's symmetry, and the unequal-atom counts."""
    broke = records["n_unequal_atoms_relaxed"] > records["n_unequal_atoms_arrangement"]
    table = (
        records.assign(symmetry_broken=broke)
        .groupby("n_I")
        .agg(
            configurations=("id", "size"),
            kept_minimum_broke_symmetry=("symmetry_broken", "sum"),
            kept_breaking_start=("kept_run", lambda k: int(k.str.startswith("breaking").sum())),
            with_long_snx_bonds=("long_snx_bonds", lambda n: int((n > 0).sum())),
            snx_bond_max_median=("snx_bond_max", "median"),
            n_unequal_arrangement_median=("n_unequal_atoms_arrangement", "median"),
            n_unequal_relaxed_median=("n_unequal_atoms_relaxed", "median"),
            n_unequal_relaxed_min=("n_unequal_atoms_relaxed", "min"),
            n_unequal_relaxed_max=("n_unequal_atoms_relaxed", "max"),
        )
    )
    return table.reset_index().to_dict(orient="records")


def assemble(
    *,
    frame_paths: list[str],
    record_paths: list[str],
    stability_paths: list[str],
    pbe_paths: list[str],  # empty: the PBE cross-check was not run (the provenance says so)
    spec: ParentSpec,
    protocol: Protocol,
    settings: Mapping,
    dataset_out: str,
    provenance_out: str,
    log=print,
) -> None:
    """Calibrate (demo_dataset.calibration), drop broken or unconverged cells (listed), write the data and provenance.

    The provenance holds the protocol, the exclusions and symmetry breaking by
    composition, the label-stability and protocol-comparison tables, the PBE
    cross-check and the labelled gap against x beside experiment.
    """
    experiment = settings["experimental_gaps"]
    formulas = end_member_formulas(spec)
    records = pd.concat([pd.read_csv(p) for p in record_paths], ignore_index=True)
    frames = [f for p in frame_paths for f in read_extxyz(p)]
    n_sites = spec.n_sites
    ends = records.set_index("n_I")
    if 0 not in ends.index or n_sites not in ends.index:
        raise ValueError("the demo plan must include both end members (n_I = 0 and the full sublattice)")
    raw_host = float(ends.loc[0, "gap_gfn1_raw"])
    raw_sub = float(ends.loc[n_sites, "gap_gfn1_raw"])
    stability = pd.concat([pd.read_csv(p) for p in stability_paths], ignore_index=True)
    comparison = label_quality.protocol_comparison(stability, n_sites=n_sites, seed=int(settings["seed"]))
    comparison["verdict"] = [label_quality.label_verdict(row) for row in comparison.to_dict(orient="records")]
    clearest = comparison.sort_values("within_over_between").iloc[0]
    symmetric = stability[stability["protocol"] == "symmetric"]
    gfn1 = symmetric[["id", "n_I", "gap_base"]].rename(columns={"gap_base": "gap_gfn1_raw"})
    if pbe_paths:
        pbe = pd.concat([pd.read_csv(p) for p in pbe_paths], ignore_index=True)
        pbe_check = label_quality.pbe_comparison(gfn1, pbe, n_sites=n_sites)
        pbe_check["gpaw_version"] = str(pbe["gpaw_version"].iloc[0])
    else:  # GPAW not run: said so, never silently
        pbe = pd.DataFrame({"seconds": []})
        pbe_check = {"n_cells": 0, "gpaw_version": "", "note": "not run"}

    calibrations = calibration_choices(raw_host=raw_host, raw_substituent=raw_sub, experiment=experiment, pbe_check=pbe_check)
    method = settings.get("calibration", "end_members")
    if method not in calibrations:
        raise ValueError(f"demo_dataset.calibration {method!r} needs the PBE cross-check, which has no cells")
    slope, intercept = calibrations[method]["slope"], calibrations[method]["intercept"]
    records["band_gap"] = intercept + slope * records["gap_gfn1_raw"]

    recorded_intact = records["framework_intact"].astype(bool)
    records = _recheck_frameworks(records, frames, spec=spec, protocol=protocol)
    rechecked = int((records["framework_intact"] != recorded_intact).sum())
    log(f"framework check rerun on every relaxed cell: {rechecked} verdicts differ from the chunk tables'")
    excluded = _excluded(records)
    excluded_ids = set(excluded["id"])
    kept = []
    for atoms, rec in zip(frames, records.to_dict(orient="records")):
        if rec["id"] in excluded_ids:
            continue
        atoms.info.update({k: rec[k] for k in FRAMEWORK_COLUMNS})
        atoms.info["band_gap"] = float(rec["band_gap"])
        atoms.info["band_gap_direct"] = True  # Gamma-point gap of the supercell
        kept.append(atoms)
    kept.sort(key=lambda a: (int(a.info["n_I"]), int(a.info["mask"])))
    write_extxyz(dataset_out, kept)
    good = records[~records["id"].isin(excluded["id"])]

    provenance = {
        "what": (
            f"{spec.a_site}{spec.b_site}{spec.host}3-x{spec.substituent}x {spec.supercell}x{spec.supercell}x{spec.supercell} "
            f"supercells ({5 * spec.n_formula_units} atoms): CHGNet-relaxed geometries ({protocol.name} protocol), "
            f"Gamma-point GFN1-xTB band gaps (tblite) linearly calibrated ({method}, see calibration). "
            "Not hybrid-DFT: absolute gaps are not quantitative."
        ),
        "n_configurations": len(kept),
        "n_planned": int(len(records)),
        "excluded": excluded.to_dict(orient="records"),
        "excluded_by_n_I": excluded.groupby("n_I").size().astype(int).to_dict(),
        "framework_check": {
            "rule": "excluded when a halide's two nearest B are not the two it bridges in the ideal cell, or a B's six "
            "nearest halides are not its octahedron; bridging bonds longer than protocol.bond_cutoff are counted apart",
            "rerun_at_assembly_verdicts_changed": rechecked,
        },
        "protocol": asdict(protocol),
        "parent": asdict(spec),
        "sampling": {k: v for k, v in settings.items() if k != "protocol"},
        "calibration": {
            "formula": "band_gap = intercept + slope * gap_gfn1_raw",
            "method": method,
            "slope": slope,
            "intercept": intercept,
            "evidence": calibrations[method]["evidence"],
            "alternatives": calibrations,
            "class_agreement_between_alternatives": class_agreement(
                raw_gaps=good["gap_gfn1_raw"], ids=good["id"], calibrations=calibrations
            ),
            "end_members_raw_gap_eV": {formulas["host"]: raw_host, formulas["substituent"]: raw_sub},
            "experimental_end_members_eV": {formulas[end]: experiment[end] for end in ("host", "substituent")},
        },
        "symmetry_by_n_I": _symmetry_table(good),
        "gap_against_x": label_quality.gap_against_x(good, experiment=experiment, n_sites=n_sites),
        "label_stability": {
            "sample": "both end members plus stability.per_composition arrangements at each of stability.n_sub",
            "perturbations": {
                "symmetric": "every run continued to fmax/2, plus a symmetric run with protocol.perturbation_optimizer "
                "(and one more symmetry-breaking start if the protocol has any), "
                "the kept one refined from refine_fmax/2 (same ladder)",
                "thermal": "another MD seed from the same relaxed cell",
                "rattle": "another rattle seed",
            },
            "noise_ratio_threshold": label_quality.NOISE_RATIO,
            "protocol_comparison": comparison.round(5).to_dict(orient="records"),
            "clearest_protocol": str(clearest["protocol"]),
            "default_protocol": protocol.name,
            "halving_fmax": _halving_summary(
                symmetric["kept_halving_gap_shift"], label_fmax=symmetric["label_fmax"], tolerance=protocol.gap_tolerance
            )
            | {"test": "the label's cell refined again to half its own tolerance (label_fmax/2)"},
            "kept_minimum_changed_by_perturbation": int((symmetric["kept_base"] != symmetric["kept_perturbed"]).sum()),
            "per_arrangement": stability.drop(columns=[c for c in stability.columns if c.startswith("runs_")])
            .round(5)
            .to_dict(orient="records"),
        },
        "refinement": {
            "what": "the kept run's cell relaxed again by a fresh optimiser of its class to protocol.refine_fmax, "
            "then on by halvings of the tolerance until protocol.settled_halvings in a row each move the gap by at most "
            "protocol.gap_tolerance; "
            "the last cell's gap is the label",
            "refine_fmax_eV_per_A": protocol.refine_fmax,
            "gap_tolerance_eV": protocol.gap_tolerance,
            "settled_halvings": protocol.settled_halvings,
            "label_fmax_eV_per_A": _count_by_tolerance(records["label_fmax"]),
            "not_tolerance_converged": int((~records["tolerance_converged"].astype(bool)).sum()),
            "max_halving_gap_shift_eV": float(good["halving_gap_shift"].max()),
            "median_gap_shift_eV": float(good["refine_gap_shift"].median()),
            "max_gap_shift_eV": float(good["refine_gap_shift"].max()),
            "n_over_gap_tolerance": int((good["refine_gap_shift"] > protocol.gap_tolerance).sum()),
        },
        "pbe_cross_check": pbe_check,
        "wall_time_s": {
            "labels_total": float(records["seconds_label"].sum()),
            "refinement_total": float(records["seconds_refine"].sum()),
            "per_configuration_mean": float(records["seconds_label"].mean()),
            # One base label per arrangement and protocol; thermal's includes the symmetric relaxation it starts from.
            "stability_base_labels_by_protocol": stability.groupby("protocol")["seconds_per_label"].sum().round(1).to_dict(),
            "pbe_total": float(pbe["seconds"].sum()),
        },
        "tool_versions": tool_versions() | {"gpaw (PBE cross-check)": pbe_check["gpaw_version"]},
    }
    write_json(provenance_out, provenance)
    if clearest["protocol"] != protocol.name:
        log(
            f"warning: the {clearest['protocol']} protocol's labels are more clearly a property of the arrangement "
            f"than {protocol.name}'s"
        )
    log(f"kept {len(kept)} configurations, excluded {len(excluded)}; calibration slope {slope:.3f}")
