"""Relaxation protocols: symmetry kept under FixSymmetry, lowest minimum kept, determinism (CHGNet + GFN1-xTB)."""

import numpy as np
import pytest

from advcgcnn.descriptors import n_unequal_atoms, n_unequal_atoms_arrangement
from advcgcnn.parent import ParentSpec
from advcgcnn.relaxation import Protocol, chgnet_calculator, label_arrangement, spacegroup, stability_labels

pytest.importorskip("chgnet")
pytest.importorskip("tblite")
pytestmark = pytest.mark.slow  # CHGNet relaxations: 20-60 s each


@pytest.fixture(scope="module")
def calculator():
    import torch

    torch.set_num_threads(1)
    return chgnet_calculator()


def apical_mask(spec: ParentSpec) -> int:
    """I on every X site between Sn along z: a layered CsSnBr2I arrangement with few inequivalent atoms."""
    parent = spec.build()
    z = parent.structure.frac_coords[parent.sublattice, 2] * spec.supercell
    return sum(1 << bit for bit, value in enumerate(z) if abs(value - round(value)) > 0.25)


def test_symmetric_protocol_keeps_the_arrangements_symmetry(calculator):
    from advcgcnn.demo import ideal_cell

    spec = ParentSpec()
    mask = apical_mask(spec)
    assert bin(mask).count("1") == 8
    start = ideal_cell(spec=spec, mask=mask)
    protocol = Protocol(name="symmetric", fmax=0.01, refine_fmax=0.005, optimizers=("LBFGS",))
    label = label_arrangement(start, protocol=protocol, mask=mask, calculator=calculator)
    assert label.kept == "symmetric_LBFGS" and label.converged
    assert label.refined["start"] == "symmetric_LBFGS_refined" and label.refined["max_force"] < 0.005
    arrangement = n_unequal_atoms_arrangement(start, parent_grid=spec.parent_grid)
    assert arrangement < 10
    # Relaxed and read at the descriptors' tolerance: the arrangement's space group and inequivalent atoms.
    assert spacegroup(label.structure) == spacegroup(start, symprec=1e-3)
    assert n_unequal_atoms(label.structure) == arrangement
    assert label.structure.lattice.c != pytest.approx(label.structure.lattice.a, abs=1e-3)  # the cell did relax
    assert 0.3 < label.gap < 3.5


def test_protocol_rejects_an_unknown_optimiser_and_a_looser_refinement():
    with pytest.raises(ValueError, match="refine_fmax"):
        Protocol(fmax=0.005, refine_fmax=0.01)
    with pytest.raises(ValueError, match="gap_tolerance"):
        Protocol(gap_tolerance=0)
    with pytest.raises(ValueError, match="settled_halvings"):
        Protocol(settled_halvings=5, max_halvings=4)
    with pytest.raises(ValueError, match="NoSuchOptimizer"):
        Protocol(optimizers=["LBFGS", "NoSuchOptimizer"])
    assert Protocol(optimizers=["LBFGS"]).optimizers == ("LBFGS",)  # a YAML list becomes a tuple


def test_lowest_energy_run_is_kept_and_repeats_exactly(calculator):
    from advcgcnn.demo import ideal_cell

    spec = ParentSpec()
    mask = 0b1000_0100_0010_0001_1000_0100  # six I, no special symmetry
    start = ideal_cell(spec=spec, mask=mask)
    protocol = Protocol(name="symmetric", fmax=0.05, refine_fmax=0.025, optimizers=("LBFGS", "BFGS"), breaking_starts=1)
    first = label_arrangement(start, protocol=protocol, mask=mask, calculator=calculator)
    again = label_arrangement(start, protocol=protocol, mask=mask, calculator=calculator)
    runs = [r for r in first.runs if "refined_to_fmax" not in r]
    ladder = [r for r in first.runs if "refined_to_fmax" in r]
    refined = ladder[-1]
    assert [r["start"] for r in runs] == ["symmetric_LBFGS", "symmetric_BFGS", "breaking_1"]
    assert [r["optimizer"] for r in runs] == ["LBFGS", "BFGS", "LBFGS"]
    converged = [r for r in runs if r["converged"]]
    kept = min(converged, key=lambda r: r["energy_per_atom"])
    assert first.kept == kept["start"]
    # The label is the kept run refined by its own optimiser class, the tolerance halved until settled_halvings
    # halvings in a row move the gap by at most gap_tolerance: no higher in energy, forces within its tolerance.
    assert first.refined.items() >= refined.items() and all(r["start"] == f"{first.kept}_refined" for r in ladder)
    assert [r["refined_to_fmax"] for r in ladder] == [0.025 / 2**k for k in range(len(ladder))]
    shifts = np.abs(np.diff([r["gap_gfn1_raw"] for r in ladder]))
    n, quiet = protocol.settled_halvings, shifts <= protocol.gap_tolerance
    settled_at = [k for k in range(n, len(shifts) + 1) if quiet[k - n : k].all()]
    assert len(ladder) - 1 == (settled_at[0] if settled_at else protocol.max_halvings)
    assert first.refined["tolerance_converged"] == bool(settled_at)
    assert first.refined["halving_gap_shift"] == pytest.approx(shifts[-n:].max(), abs=2e-5)
    assert first.refined["label_fmax"] == ladder[-1]["refined_to_fmax"]
    assert refined["optimizer"] == kept["optimizer"] and refined["max_force"] < first.refined["label_fmax"]
    assert first.energy_per_atom == pytest.approx(refined["energy_per_atom"], abs=1e-6)  # records round to 1e-7
    assert refined["energy_per_atom"] <= kept["energy_per_atom"] + 1e-6
    assert first.gap == pytest.approx(refined["gap_gfn1_raw"], abs=1e-5)
    assert again.kept == first.kept and again.gap == first.gap
    assert np.array_equal(again.structure.cart_coords, first.structure.cart_coords)


def test_stability_labels_cover_every_protocol(calculator):
    from advcgcnn.demo import ideal_cell

    spec = ParentSpec()
    mask = 0b1111_0000_1111_0000_1111_0000
    start = ideal_cell(spec=spec, mask=mask)
    protocol = Protocol(fmax=0.05, refine_fmax=0.025, md_steps=20, md_snapshots=2)
    rows, symmetric = stability_labels(start, protocol=protocol, mask=mask, calculator=calculator)
    assert [r["protocol"] for r in rows] == ["symmetric", "thermal", "rattle"]
    sym = rows[0]
    # The perturbed symmetric label has every base run continued to fmax/2 plus a run with another optimiser,
    # the kept one refined to refine_fmax/2.
    starts = [r["start"] for r in sym["runs_perturbed"]]
    assert starts[:3] == ["symmetric_LBFGS", "symmetric_BFGS", "symmetric_FIRE"] and starts[3].endswith("_refined")
    assert all(r["continued_from_fmax"] == 0.05 for r in sym["runs_perturbed"][:2])
    assert sym["runs_perturbed"][3]["refined_to_fmax"] == protocol.refine_fmax / 2
    assert sym["gap_base"] == symmetric.gap and sym["label_fmax"] == symmetric.refined["label_fmax"] <= protocol.refine_fmax
    assert sym["kept_halving_gap_shift"] >= 0 and sym["halving_seconds"] > 0
    # Perturbations differ from the base: another MD seed, another rattle.
    assert rows[1]["gap_base"] != rows[1]["gap_perturbed"] and rows[2]["gap_base"] != rows[2]["gap_perturbed"]
