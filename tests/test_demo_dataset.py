"""The demo-dataset generator (CHGNet relaxation, GFN1-xTB gap, GPAW cross-check) and the shipped dataset."""

import json

import numpy as np
import pandas as pd
import pytest

from advcgcnn import demo
from advcgcnn.io import read_extxyz
from advcgcnn.parent import ParentSpec
from advcgcnn.relaxation import Protocol
from advcgcnn.report import _labels_section

from .conftest import DEMO_DATASET


@pytest.mark.slow
def test_generator_end_to_end_on_a_tiny_plan(tmp_path):
    """Both label stages, stability chunk and assembly on both end members plus two n_I = 12 arrangements."""
    pytest.importorskip("chgnet")
    pytest.importorskip("tblite")
    masks = [0, (1 << 24) - 1, 0b1111_0000_1111_0000_1111_0000, 0b1100_1100_0011_0011_1100_0011]
    counts = [bin(m).count("1") for m in masks]
    plan = pd.DataFrame({"mask": masks, "n_I": counts, "multiplicity": 1, "n_sites": 24, "chunk": 0})
    plan.to_csv(tmp_path / "plan.csv", index=False)
    protocol = Protocol(fmax=0.05, refine_fmax=0.025, md_steps=20, md_snapshots=2)
    spec = ParentSpec()
    for kind, run in (("relax", demo.relax_chunk_file), ("stability", demo.stability_chunk_file)):
        run(
            plan_path=tmp_path / "plan.csv",
            chunk=0,
            spec=spec,
            protocol=protocol,
            frames_out=tmp_path / f"{kind}.extxyz.gz",
            records_out=tmp_path / f"{kind}.csv",
        )
    demo.label_chunk_file(
        frames_path=tmp_path / "relax.extxyz.gz",
        records_path=tmp_path / "relax.csv",
        spec=spec,
        protocol=protocol,
        frames_out=tmp_path / "label.extxyz.gz",
        records_out=tmp_path / "label.csv",
    )
    # Stage two refines stage one's kept cell: the same run, tighter forces, the steps added.
    selected, labelled = pd.read_csv(tmp_path / "relax.csv"), pd.read_csv(tmp_path / "label.csv")
    assert selected["id"].tolist() == labelled["id"].tolist()
    assert (labelled["kept_run"] == selected["kept_run"]).all()
    assert (labelled["relax_steps"] >= selected["relax_steps"]).all() and (labelled["seconds_refine"] > 0).all()
    for row in labelled.itertuples():
        ladder = [r for r in json.loads(row.runs) if "refined_to_fmax" in r]
        assert ladder[0]["refined_to_fmax"] == 0.025 and all(r["start"].endswith("_refined") for r in ladder)
        assert row.label_fmax == ladder[-1]["refined_to_fmax"] and ladder[-1]["max_force"] < row.label_fmax
        assert row.tolerance_converged == (row.halving_gap_shift <= protocol.gap_tolerance)
    demo.assemble(
        frame_paths=[tmp_path / "label.extxyz.gz"],
        record_paths=[tmp_path / "label.csv"],
        stability_paths=[tmp_path / "stability.csv"],
        pbe_paths=[],
        spec=spec,
        protocol=protocol,
        settings={"seed": 0, "experimental_gaps": {"host": 1.75, "substituent": 1.30}},
        dataset_out=tmp_path / "d.extxyz.gz",
        provenance_out=tmp_path / "p.json",
    )
    frames = read_extxyz(tmp_path / "d.extxyz.gz")
    provenance = json.loads((tmp_path / "p.json").read_text())
    assert len(frames) + len(provenance["excluded"]) == 4 and [len(f) for f in frames] == [40] * len(frames)
    calibration = provenance["calibration"]
    raw = calibration["end_members_raw_gap_eV"]
    assert raw["CsSnBr3"] > raw["CsSnI3"] > 0.3  # bromide gap above iodide, both semiconducting
    for f in frames:  # the calibration maps the end members exactly onto experiment
        assert f.info["band_gap"] == pytest.approx(calibration["intercept"] + calibration["slope"] * f.info["gap_gfn1_raw"])
    assert {f.info["n_I"]: f.info["band_gap"] for f in frames if f.info["n_I"] in (0, 24)} == pytest.approx({0: 1.75, 24: 1.30})
    # The arrangement's symmetry is recorded before and after, and the kept run is named.
    assert {f.info["kept_run"] for f in frames} <= {"symmetric_LBFGS", "symmetric_BFGS"}
    assert all(f.info["n_unequal_atoms_arrangement"] >= 3 for f in frames)
    stability = provenance["label_stability"]
    assert [row["protocol"] for row in stability["protocol_comparison"]] == ["symmetric", "thermal", "rattle"]
    for row in stability["protocol_comparison"]:
        assert row["n_arrangements"] == 4 and row["within_sd_eV"] >= 0 and row["between_sd_eV"] > 0
    halving = stability["halving_fmax"]
    assert halving["n_arrangements"] == 4 and halving["criterion_met"] == (halving["n_over_criterion"] == 0)
    assert sum(halving["label_fmax_eV_per_A"].values()) == 4 and provenance["refinement"]["refine_fmax_eV_per_A"] == 0.025
    assert provenance["pbe_cross_check"] == {"n_cells": 0, "gpaw_version": "", "note": "not run"}
    assert provenance["tool_versions"]["chgnet"] and provenance["protocol"]["fmax"] == 0.05
    # The report's section on how the labels were made reads this provenance.
    section = _labels_section({"label_provenance": tmp_path / "p.json"})
    assert "Label stability on 4 arrangements" in section and "PBE cross-check: not run" in section
    assert "Halving the force tolerance (each label's own tolerance" in section


def test_pbe_gap_folds_r_onto_gamma(tmp_path, cubic_cssnbr3, monkeypatch):
    """GPAW (Debian, system Python) through the project's child-process route, one MPI rank.

    The gap of cubic CsSnBr3 sits at R: the 5-atom cell's Gamma gap misses it, the 10-atom
    fcc supercell (vectors a(0,1,1), a(1,0,1), a(1,1,0)) folds R onto Gamma, as the 2x2x2 cell does.
    """
    from advcgcnn.pbe import gpaw_command

    try:
        gpaw_command(ranks=1)
    except RuntimeError as missing:
        pytest.skip(str(missing))
    folded = cubic_cssnbr3.copy()
    folded.make_supercell([[0, 1, 1], [1, 0, 1], [1, 1, 0]])
    cells = [
        {"id": name, "numbers": s.atomic_numbers, "positions": s.cart_coords.tolist(), "cell": s.lattice.matrix.tolist()}
        for name, s in (("primitive", cubic_cssnbr3), ("folded", folded))
    ]
    monkeypatch.chdir(tmp_path)  # a relative output path, as Snakemake passes them
    demo.pbe_gaps(cells=cells, out_path="pbe.csv", ranks=1)
    gaps = pd.read_csv(tmp_path / "pbe.csv").set_index("id")
    assert gaps["ranks"].tolist() == [1, 1]
    assert (gaps["pbe_energy"] < 0).all()  # Gamma-only energies of small cells are far from converged: not compared
    # PBE's R-point gap of CsSnBr3 is a few tenths of an eV (experiment 1.75); Gamma alone is several eV.
    assert 0.1 < gaps.loc["folded", "pbe_gap"] < 1.0 < 3.0 < gaps.loc["primitive", "pbe_gap"]


def test_excluded_cells_carry_their_reason():
    """Every cell not shipped is listed with why: broken framework first, then the relaxation, then the label's ladder."""
    records = pd.DataFrame(
        {
            "id": ["ok", "broken", "stuck", "moving"],
            "n_I": [1, 2, 3, 4],
            "framework_intact": [True, False, True, True],
            "relax_converged": [True, False, False, True],
            "tolerance_converged": [True, True, True, False],
        }
    )
    excluded = demo._excluded(records).set_index("id")["reason"].to_dict()
    assert excluded == {
        "broken": "framework broken",
        "stuck": "relaxation not converged",
        "moving": "label not converged: no protocol.settled_halvings halvings of the force tolerance in a row "
        "moved the gap by at most protocol.gap_tolerance",
    }


def test_report_describes_the_shipped_labels():
    section = _labels_section({"label_provenance": DEMO_DATASET.parent / "provenance.json"})
    provenance = json.loads((DEMO_DATASET.parent / "provenance.json").read_text())
    assert f"{provenance['n_configurations']} configurations kept" in section and "Calibration:" in section


def test_shipped_dataset_matches_its_provenance():
    """The shipped labels: symmetric protocol, every composition, symmetry kept, stable labels, PBE cross-check."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from advcgcnn.descriptors import n_unequal_atoms

    provenance = json.loads((DEMO_DATASET.parent / "provenance.json").read_text())
    frames = read_extxyz(DEMO_DATASET)
    assert len(frames) == provenance["n_configurations"] >= 400
    assert provenance["protocol"]["name"] == "symmetric"
    assert {f.info["n_I"] for f in frames} == set(range(25))  # every composition present
    calibration = provenance["calibration"]
    assert calibration["method"] in calibration["alternatives"] and 0 <= calibration["class_agreement_between_alternatives"] <= 1
    for f in frames:  # every shipped label settled on its ladder, at or below refine_fmax
        assert f.info["framework_intact"] and f.info["relax_converged"] and f.info["tolerance_converged"]
        assert f.info["label_fmax"] <= provenance["protocol"]["refine_fmax"]
        assert f.info["band_gap"] == pytest.approx(calibration["intercept"] + calibration["slope"] * f.info["gap_gfn1_raw"])
    # The study's descriptor varies on relaxed cells: recomputed here (spglib, 0.1 A) on every tenth cell.
    sample = frames[::10]
    relaxed = {f.info["id"]: n_unequal_atoms(AseAtomsAdaptor.get_structure(f)) for f in sample}
    assert relaxed == {f.info["id"]: f.info["n_unequal_atoms_relaxed"] for f in sample}
    assert len(set(relaxed.values())) >= 4
    end_member = next(f for f in frames if f.info["n_I"] == 0)
    assert n_unequal_atoms(AseAtomsAdaptor.get_structure(end_member)) == 3  # CsSnBr3 stays Pm-3m
    # Symmetry breaking and exclusions are counted by composition, and add up.
    symmetry = pd.DataFrame(provenance["symmetry_by_n_I"])
    assert symmetry["configurations"].sum() == len(frames)
    excluded = sum(provenance["excluded_by_n_I"].values())
    unsettled = [e for e in provenance["excluded"] if e["reason"].startswith("label not converged")]
    assert len(unsettled) <= provenance["refinement"]["not_tolerance_converged"]
    assert excluded == len(provenance["excluded"]) == provenance["n_planned"] - len(frames)
    # The default protocol's labels belong to the arrangement: within spread well below between, interval included.
    stability = provenance["label_stability"]
    default = next(r for r in stability["protocol_comparison"] if r["protocol"] == "symmetric")
    assert default["n_arrangements"] >= 20 and default["ratio_ci_high"] < 0.5
    assert {r["protocol"] for r in stability["protocol_comparison"]} == {"symmetric", "thermal", "rattle"}
    assert stability["halving_fmax"]["n_arrangements"] == default["n_arrangements"]
    pbe = provenance["pbe_cross_check"]
    assert pbe["n_cells"] >= 32 and pbe["gpaw_version"] and provenance["wall_time_s"]["pbe_total"] > 0


def test_class_agreement_counts_classes_a_calibration_changes():
    """Top half by SQ efficiency: a shift across the SQ optimum (1.34 eV) swaps classes, a stretch above it does not."""
    raw = pd.Series([1.0, 1.2, 1.4, 1.6])
    ids = pd.Series(["a", "b", "c", "d"])
    identity = {"slope": 1.0, "intercept": 0.0}
    shifted = {"identity": identity, "shifted": {"slope": 1.0, "intercept": 0.6}}
    assert demo.class_agreement(raw_gaps=raw, ids=ids, calibrations=shifted) == 0.5  # a and c swap classes
    above = {"shifted": {"slope": 1.0, "intercept": 0.6}, "stretched": {"slope": 2.0, "intercept": 0.0}}
    assert demo.class_agreement(raw_gaps=raw, ids=ids, calibrations=above) == 1.0


def test_plan_extension_appends_new_orbits_in_chunks_of_their_own(tmp_path):
    """A finished generation grows: every existing row and chunk stays, the new orbits are new and capped."""
    n_sub = np.repeat([0, 1, 2, 3], [1, 2, 10, 10])
    orbits = pd.DataFrame({"mask": [f"{m:06x}" for m in range(len(n_sub))], "n_sub": n_sub, "multiplicity": 1})
    orbits.to_csv(tmp_path / "orbits.csv", index=False)
    settings = {"seed": 7, "orbits_per_count": 4, "n_chunks": 3, "stability": {"per_composition": 2, "n_sub": [2], "n_chunks": 1}}

    def plan(name: str, extension: dict) -> pd.DataFrame:
        demo.write_plan(
            orbits_path=tmp_path / "orbits.csv",
            plan_path=tmp_path / f"{name}.csv",
            stability_path=tmp_path / f"{name}_stability.csv",
            settings=settings | {"extension": extension},
        )
        return pd.read_csv(tmp_path / f"{name}.csv")

    first = plan("first", {})
    grown = plan("grown", {"orbits_per_count": 3, "n_chunks": 2})
    pd.testing.assert_frame_equal(grown.iloc[: len(first)], first)
    added = grown.iloc[len(first) :]
    assert not added["mask"].isin(first["mask"]).any()
    assert added.groupby("n_I").size().to_dict() == {2: 3, 3: 3}  # n_I 0 and 1 have no orbit left
    assert set(added["chunk"]) == {3, 4} and set(first["chunk"]) == {0, 1, 2}
    assert demo.label_chunks(settings=settings | {"extension": {"orbits_per_count": 3, "n_chunks": 2}}) == range(5)
    assert demo.label_chunks(settings=settings) == range(3)
