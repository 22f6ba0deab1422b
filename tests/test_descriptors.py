import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from advcgcnn.descriptors import describe, n_unequal_atoms, octahedral_descriptors, warren_cowley_sro
from advcgcnn.parent import ParentSpec, decorate


def test_ideal_cubic_cell(cubic_cssnbr3):
    d = describe(cubic_cssnbr3, parent=ParentSpec(supercell=1))
    assert d["n_unequal_atoms"] == 3  # Cs, Sn, and one Br orbit
    assert d["bond_length_deviation"] == pytest.approx(0, abs=1e-9)
    assert d["distortion_index"] == pytest.approx(0, abs=1e-9)
    assert d["bond_angle_variance"] == pytest.approx(0, abs=1e-6)
    assert d["tilt"] == pytest.approx(0.0, abs=1e-6)
    assert "bxb_angle_mean" not in d  # 180 - tilt: the same statistic, not a second descriptor
    assert d["b_off_centring"] == pytest.approx(0, abs=1e-9)
    assert d["volume_per_atom"] == pytest.approx(5.80**3 / 5)
    assert d["substituent_fraction"] == 0 and d["sro_alpha"] == 0


def test_ideal_supercell_has_one_sn_environment():
    s = ParentSpec().build().structure
    assert n_unequal_atoms(s) == 3  # the 2x2x2 cell does not split any orbit


def test_one_displaced_sn_off_centres_by_the_displacement(cubic_cssnbr3):
    s = cubic_cssnbr3.copy()
    s.translate_sites([1], [0.1, 0, 0], frac_coords=False)  # Sn along x by 0.1 A
    d = octahedral_descriptors(s, b_site="Sn", halides=("Br", "I"))
    assert d["b_off_centring"] == pytest.approx(0.1, abs=1e-9)
    # Bonds along x become 2.8 and 3.0 A, the four others sqrt(2.9^2 + 0.1^2).
    lengths = np.array([2.8, 3.0] + [np.hypot(2.9, 0.1)] * 4)
    # One halide: its reference is the mean of the six, so the deviation is their spread.
    assert d["bond_length_deviation"] == pytest.approx(lengths.std(), rel=1e-6)
    expected_d = np.abs(lengths - lengths.mean()).mean() / lengths.mean()
    assert d["distortion_index"] == pytest.approx(expected_d, rel=1e-6)
    assert d["bond_angle_variance"] > 0
    assert n_unequal_atoms(s, symprec=0.01) > 3  # the symmetry is lowered


def test_a_strongly_off_centred_sn_keeps_its_octahedron():
    """Sn(II) off-centring leaves bridging bonds of 4.5 A and more (seen in relaxed demo cells): still its six halides."""
    from advcgcnn.descriptors import octahedra

    s = ParentSpec(a_host=6.6).build().structure  # Vegard cell of x = 0
    sn = [i for i, site in enumerate(s) if site.specie.symbol == "Sn"]
    _, ideal, _ = octahedra(s, b_site="Sn", halides=("Br", "I"))
    s.translate_sites([sn[0]], [1.3, 0, 0], frac_coords=False)  # Sn-Br 3.3 A -> 2.0 and 4.6 A along x
    _, shifted, vectors = octahedra(s, b_site="Sn", halides=("Br", "I"))
    assert np.array_equal(np.sort(shifted, axis=1), np.sort(ideal, axis=1))
    assert np.linalg.norm(vectors[0], axis=1).max() == pytest.approx(4.6, abs=1e-6)


def test_displaced_halide_bends_the_sn_x_sn_angle(cubic_cssnbr3):
    s = cubic_cssnbr3.copy()
    s.translate_sites([2], [0, 0.3, 0], frac_coords=False)  # Br at (a/2,0,0) moved sideways
    d = octahedral_descriptors(s, b_site="Sn", halides=("Br", "I"))
    bent = np.degrees(2 * np.arctan2(2.9, 0.3))  # the one Sn-Br-Sn angle through that Br
    assert d["tilt"] == pytest.approx(180.0 - (bent + 2 * 180.0) / 3, rel=1e-6)


def test_bond_lengths_are_measured_against_their_own_halide(cubic_cssnbr3):
    """An undistorted mixed octahedron: Sn-I bonds longer than Sn-Br bonds is chemistry, not disorder."""
    s = cubic_cssnbr3.copy()
    s.replace(2, "I")  # the halide along x
    s.translate_sites([2], [0.3, 0, 0], frac_coords=False)  # Sn-I 3.2 A on one side, 2.6 A on the other (periodic)
    d = octahedral_descriptors(s, b_site="Sn", halides=("Br", "I"))
    # Per halide: I bonds 3.2 and 2.6 (reference 2.9), Br bonds all 2.9 (reference 2.9).
    deviations = np.array([0.3, -0.3, 0, 0, 0, 0])
    assert d["bond_length_deviation"] == pytest.approx(np.sqrt((deviations**2).mean()), rel=1e-6)
    assert d["distortion_index"] == pytest.approx(np.abs(deviations).mean() / 2.9, rel=1e-6)
    # Two halides at different but regular lengths (Sn-I 3.1 A along a longer x, Sn-Br 2.9 A): no deviation,
    # where a plain spread of the six lengths would call it distorted.
    stretched = Structure(Lattice.orthorhombic(6.2, 5.8, 5.8), cubic_cssnbr3.species, cubic_cssnbr3.frac_coords)
    stretched.replace(2, "I")
    d = octahedral_descriptors(stretched, b_site="Sn", halides=("Br", "I"))
    assert np.std([3.1, 3.1, 2.9, 2.9, 2.9, 2.9]) > 0.09
    assert d["bond_length_deviation"] == pytest.approx(0, abs=1e-9)
    assert d["distortion_index"] == pytest.approx(0, abs=1e-9)


def test_short_range_order_signs():
    parent = ParentSpec().build()
    # Random-looking arrangement: small |alpha|; one I surrounded only by Br: alpha = 1 - 0/c.
    single = decorate(parent, 1)
    assert warren_cowley_sro(single, host="Br", substituent="I") == pytest.approx(1.0 - (8 / 23 / 8) / (1 / 24), rel=1e-6)
    assert warren_cowley_sro(decorate(parent, 0), host="Br", substituent="I") == 0.0
    assert warren_cowley_sro(decorate(parent, (1 << 24) - 1), host="Br", substituent="I") == 0.0


def test_arrangement_symmetry_ignores_relaxation_noise():
    from advcgcnn.descriptors import n_unequal_atoms_arrangement
    from advcgcnn.labelling import rattled

    parent = ParentSpec().build()
    single = decorate(parent, 1)
    noisy = rattled(single, amplitude=0.2, seed=0)
    assert n_unequal_atoms(noisy) == 40  # the rattle removes every symmetry at 0.1 A
    clean = n_unequal_atoms_arrangement(single, parent_grid=4)
    assert n_unequal_atoms_arrangement(noisy, parent_grid=4) == clean
    # One I among 24 X sites: the I, and Br/Cs/Sn split by their distance to it.
    assert 3 < clean < 40
    assert n_unequal_atoms_arrangement(decorate(parent, 0), parent_grid=4) == 3


def test_framework_check_tells_off_centring_from_a_broken_network():
    from advcgcnn.demo import ideal_cell
    from advcgcnn.labelling import framework_check

    spec = ParentSpec()
    ideal = ideal_cell(spec=spec, mask=0b1111_0000_1111_0000_1111_0000)
    check = dict(reference=ideal, b_site="Sn", halides=spec.mixed_species, cutoff=3.8)
    assert framework_check(ideal, **check) | {"bond_max": 0} == {
        "intact": True, "broken_halides": 0, "broken_b_sites": 0, "long_bonds": 0, "bond_max": 0,
        "bxb_angle_mean": pytest.approx(180), "bxb_angle_min": pytest.approx(180),
    }  # fmt: skip
    tin = next(i for i, sp in enumerate(ideal.species) if sp.symbol == "Sn")
    off_centred = ideal.copy()
    off_centred.translate_sites([tin], [0.9, 0, 0], frac_coords=False)  # one long bond, one short: same network
    result = framework_check(off_centred, **check)
    assert result["intact"] and result["long_bonds"] == 1 and result["bond_max"] > 3.8
    moved = ideal.copy()
    halide = next(i for i, sp in enumerate(ideal.species) if sp.symbol in spec.mixed_species)
    moved.translate_sites([halide], [0.5, 0.5, 0], frac_coords=True)  # the halide now sits between other tins
    assert not framework_check(moved, **check)["intact"]
    # A tin pushed along a face diagonal: every halide keeps its two tins, but a neighbour's halide
    # (4.6 A) is now nearer to that tin than two of its own (4.9 A): its octahedron is gone.
    pushed = ideal.copy()
    pushed.translate_sites([tin], [1.6, 1.6, 0], frac_coords=False)
    result = framework_check(pushed, **check)
    assert not result["intact"] and result["broken_halides"] == 0 and result["broken_b_sites"] == 1
