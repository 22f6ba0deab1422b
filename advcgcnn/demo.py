"""The embedded demo dataset: CHGNet-relaxed CsSnBr3-xIx cells labelled with GFN1-xTB gaps.

Protocol, applied identically to every configuration:
1. decorate the ideal parent supercell (config `parent`) at the Vegard lattice constant,
2. rattle every atom with seeded Gaussian noise (`rattle` A),
3. relax positions and cell with CHGNet (FIRE, `fmax`, at most `max_steps`),
4. check the B-X framework is intact (every halide keeps two B within `bond_cutoff`),
5. take the Gamma-point GFN1-xTB gap of the relaxed cell (tblite). In a 2x2x2
   supercell the R point of the cubic cell folds onto Gamma, so it is the
   physical (R-point) gap; odd supercells would not contain R.
The raw GFN1 gap is kept; a linear calibration on the end members' experimental
gaps is applied when the chunks are assembled.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Mapping
from dataclasses import asdict
from importlib.metadata import version

import numpy as np
import pandas as pd
import torch
from pymatgen.io.ase import AseAtomsAdaptor
from scipy.stats import spearmanr

from .configspace import read_orbits, sample_orbits
from .io import read_extxyz, write_csv, write_extxyz, write_json
from .labelling import Protocol, chgnet_optimizer, framework_check, gfn1_gap, rattled, relax_chgnet
from .parent import ParentSpec, decorate


def label_configuration(*, spec: ParentSpec, mask: int, multiplicity: int, protocol: Protocol, optimizer=None):
    """Relax and label one arrangement; returns (ase.Atoms, per-configuration record)."""
    n_sub = bin(mask).count("1")
    x = n_sub / spec.n_sites
    start = decorate(spec.build(), mask, lattice_constant=spec.vegard_lattice_constant(substituent_fraction=x))
    # One seed per arrangement, derived from the protocol seed: order-independent.
    start = rattled(start, amplitude=protocol.rattle, seed=protocol.seed * 1_000_003 + mask)
    t0 = time.perf_counter()
    relaxed = relax_chgnet(start, protocol=protocol, optimizer=optimizer)
    t_relax = time.perf_counter() - t0
    check = framework_check(relaxed["structure"], b_site=spec.b_site, halides=spec.mixed_species, cutoff=protocol.bond_cutoff)
    t0 = time.perf_counter()
    gap = gfn1_gap(relaxed["structure"])
    t_gap = time.perf_counter() - t0
    record = {
        "id": f"nI{n_sub:02d}_m{mask:08x}",
        "mask": int(mask),
        "n_I": n_sub,
        "x": x * 3.0,  # per formula unit: ABX(3-x)Y(x)
        "multiplicity": int(multiplicity),
        "gap_gfn1_raw": gap,
        "energy_per_atom": relaxed["energy_per_atom"],
        "relax_steps": relaxed["steps"],
        "relax_max_force": relaxed["max_force"],
        "relax_converged": relaxed["steps"] < protocol.max_steps,
        "framework_intact": check["intact"],
        "broken_halides": check["broken_halides"],
        "snxsn_angle_mean": check["bxb_angle_mean"],
        "snxsn_angle_min": check["bxb_angle_min"],
        "seconds_relax": t_relax,
        "seconds_gap": t_gap,
    }
    atoms = AseAtomsAdaptor.get_atoms(relaxed["structure"])
    atoms.info.update({k: v for k, v in record.items() if not k.startswith("seconds")})
    return atoms, record


def calibration(*, raw_host: float, raw_substituent: float, experiment: Mapping[str, float]) -> tuple[float, float]:
    """Slope and intercept mapping raw GFN1 end-member gaps onto experiment (keys `host`, `substituent`)."""
    slope = (experiment["host"] - experiment["substituent"]) / (raw_host - raw_substituent)
    intercept = experiment["host"] - slope * raw_host
    return slope, intercept


def end_member_formulas(spec: ParentSpec) -> dict[str, str]:
    return {end: f"{spec.a_site}{spec.b_site}{getattr(spec, end)}3" for end in ("host", "substituent")}


def tool_versions() -> dict:
    names = ["chgnet", "tblite", "pymatgen", "ase", "torch", "numpy", "spglib"]
    return {"python": platform.python_version(), **{n: version(n) for n in names}}


def write_plan(*, orbits_path: str, plan_path: str, per_count: int, n_chunks: int, seed: int) -> None:
    """Seeded uniform sample of orbits per substituent count, dealt round-robin into chunks."""
    orbits = read_orbits(orbits_path)
    chosen = sample_orbits(orbits, per_count=per_count, seed=seed)
    n_sites = int(orbits["n_sub"].max())
    frame = pd.DataFrame({"mask": chosen["mask"], "n_I": chosen["n_sub"], "multiplicity": chosen["multiplicity"]})
    frame["n_sites"] = n_sites
    # Round-robin keeps chunks balanced in composition (and so in cost).
    frame["chunk"] = np.arange(len(frame)) % n_chunks
    write_csv(plan_path, frame)


def label_chunk_file(
    *, plan_path: str, chunk: int, spec: ParentSpec, protocol: Protocol, frames_out: str, records_out: str, log=print
) -> None:
    """Relax and label the plan's rows of one chunk; write frames and per-configuration records."""
    rows = pd.read_csv(plan_path)
    rows = rows[rows["chunk"] == chunk]
    if len(rows) and int(rows["n_sites"].iloc[0]) != spec.n_sites:
        raise ValueError(f"{plan_path} plans {int(rows['n_sites'].iloc[0])} mixed sites, config parent has {spec.n_sites}")
    torch.set_num_threads(1)
    optimizer = chgnet_optimizer()
    frames, records = [], []
    for row in rows.itertuples():
        atoms, record = label_configuration(
            spec=spec, mask=int(row.mask), multiplicity=int(row.multiplicity), protocol=protocol, optimizer=optimizer
        )
        log(
            f"{record['id']}: gap_raw={record['gap_gfn1_raw']:.3f} eV steps={record['relax_steps']} "
            f"intact={record['framework_intact']} t={record['seconds_relax'] + record['seconds_gap']:.1f}s"
        )
        frames.append(atoms)
        records.append(record)
    write_extxyz(frames_out, frames)
    write_csv(records_out, pd.DataFrame(records))


def assemble(
    *,
    frame_paths: list[str],
    record_paths: list[str],
    spec: ParentSpec,
    protocol: Protocol,
    settings: Mapping,
    dataset_out: str,
    provenance_out: str,
    log=print,
) -> None:
    """Calibrate on the end members, drop broken frameworks (listed), write data + provenance.

    `settings` is the config's `demo_dataset` section (sampling, experimental end-member gaps).
    """
    experiment = settings["experimental_gaps"]
    formulas = end_member_formulas(spec)
    records = pd.concat([pd.read_csv(p) for p in record_paths], ignore_index=True)
    frames = [f for p in frame_paths for f in read_extxyz(p)]
    n_sites = int(records["n_I"].max())
    ends = records.set_index("n_I")
    if 0 not in ends.index or n_sites not in ends.index:
        raise ValueError("the demo plan must include both end members (n_I = 0 and the full sublattice)")
    raw_host = float(ends.loc[0, "gap_gfn1_raw"])
    raw_sub = float(ends.loc[n_sites, "gap_gfn1_raw"])
    slope, intercept = calibration(raw_host=raw_host, raw_substituent=raw_sub, experiment=experiment)
    records["band_gap"] = intercept + slope * records["gap_gfn1_raw"]

    kept, dropped = [], []
    for atoms, rec in zip(frames, records.itertuples()):
        if atoms.info["id"] != rec.id:
            raise RuntimeError(f"chunk frames and records out of step at {rec.id}")
        if not (rec.framework_intact and rec.relax_converged):
            reason = "framework broken" if not rec.framework_intact else "relaxation not converged"
            dropped.append({"id": rec.id, "reason": reason})
            continue
        atoms.info["band_gap"] = float(rec.band_gap)
        atoms.info["band_gap_direct"] = True  # Gamma-point gap of the supercell
        kept.append(atoms)
    kept.sort(key=lambda a: (int(a.info["n_I"]), int(a.info["mask"])))
    write_extxyz(dataset_out, kept)

    good = records[~records["id"].isin([d["id"] for d in dropped])]
    rho, p_value = spearmanr(good["x"], good["gap_gfn1_raw"])
    per_x = good.groupby("n_I")["gap_gfn1_raw"].agg(["mean", "std", "min", "max", "count"])
    sanity = {
        "end_members_raw_gap_eV": {formulas["host"]: raw_host, formulas["substituent"]: raw_sub},
        "end_members_order_correct": raw_host > raw_sub,
        "gap_vs_x_spearman": {"rho": float(rho), "p_value": float(p_value)},
        "raw_gap_per_n_I": per_x.round(4).reset_index().to_dict(orient="records"),
        "snxsn_angle_mean_deg": {
            "mean": float(good["snxsn_angle_mean"].mean()),
            "min_over_dataset": float(good["snxsn_angle_min"].min()),
        },
        "relax_steps": {
            "mean": float(good["relax_steps"].mean()),
            "max": int(good["relax_steps"].max()),
        },
    }
    provenance = {
        "what": (
            f"{spec.a_site}{spec.b_site}{spec.host}3-x{spec.substituent}x {spec.supercell}x{spec.supercell}x{spec.supercell} "
            f"supercells ({5 * spec.n_formula_units} atoms): CHGNet-relaxed geometries, "
            "Gamma-point GFN1-xTB band gaps (tblite) linearly calibrated on the end members. "
            "Not hybrid-DFT: absolute gaps are not quantitative."
        ),
        "n_configurations": len(kept),
        "excluded": dropped,
        "protocol": asdict(protocol),
        "parent": asdict(spec),
        "sampling": settings,
        "calibration": {
            "formula": "band_gap = intercept + slope * gap_gfn1_raw",
            "slope": slope,
            "intercept": intercept,
            "experimental_end_members_eV": {formulas[end]: experiment[end] for end in ("host", "substituent")},
        },
        "sanity_checks": sanity,
        "wall_time_s": {
            "relax_total": float(records["seconds_relax"].sum()),
            "gap_total": float(records["seconds_gap"].sum()),
            "per_configuration_mean": float((records["seconds_relax"] + records["seconds_gap"]).mean()),
        },
        "tool_versions": tool_versions(),
    }
    write_json(provenance_out, provenance)
    log(f"kept {len(kept)} configurations, excluded {len(dropped)}; calibration slope {slope:.3f}")
