"""Shared fixtures: small structures, the real VASP fixtures, the demo dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_VASP = REPO.parent / "shared" / "fixtures" / "vasp"
DEMO_DATASET = REPO / "data" / "demo" / "cssnbr3-xix_demo.extxyz.gz"


@pytest.fixture
def vasp_fixtures() -> Path:
    if not SHARED_VASP.is_dir():
        pytest.skip(f"real VASP fixtures not found at {SHARED_VASP} (they live in ../shared beside the checkout)")
    return SHARED_VASP


@pytest.fixture(scope="session")
def supercell_symmetry():
    """The 2x2x2 CsSnBr3 parent and its 384 sublattice permutations."""
    from advcgcnn.configspace import site_permutations
    from advcgcnn.parent import ParentSpec

    parent = ParentSpec().build()
    return parent, site_permutations(parent)


@pytest.fixture
def cubic_cssnbr3():
    """Ideal 5-atom cubic CsSnBr3, a = 5.80 A."""
    from pymatgen.core import Lattice, Structure

    return Structure(
        Lattice.cubic(5.80),
        ["Cs", "Sn", "Br", "Br", "Br"],
        [[0.5, 0.5, 0.5], [0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]],
    )


@pytest.fixture(autouse=True, scope="session")
def deterministic_torch():
    """The tests run under the mode the training, sweep and attack jobs use by default."""
    from advcgcnn.inference import use_deterministic_algorithms

    use_deterministic_algorithms(True)
