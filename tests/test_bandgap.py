import numpy as np
import pytest

from advcgcnn.bandgap import FERMI_METHOD, OCCUPATION_METHOD, band_edges, join

K = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0]])


def test_smeared_occupations_split_at_one_half():
    # Two k-points, three bands; the conduction band at Gamma carries a smeared 1e-6.
    eigenvalues = np.array([[[-1.0, 0.0, 1.0], [-1.2, -0.3, 1.4]]])
    occupations = np.array([[[1.0, 1.0, 1e-6], [1.0, 0.999, 0.0]]])
    edges = band_edges(eigenvalues=eigenvalues, occupations=occupations, kpoints=K)
    assert edges.vbm == 0.0 and edges.cbm == 1.0 and edges.gap == pytest.approx(1.0)
    assert edges.direct and edges.direct_gap == pytest.approx(1.0)  # both edges at Gamma
    assert edges.method == OCCUPATION_METHOD


def test_indirect_gap_and_spin_channels_pooled():
    up = [[-1.0, 0.2, 1.5], [-1.0, 0.0, 0.9]]
    down = [[-1.0, 0.5, 1.6], [-1.0, -0.1, 1.2]]  # the down channel holds the VBM, at Gamma
    occupations = np.array([[[1, 1, 0], [1, 1, 0]]] * 2, dtype=float)
    edges = band_edges(eigenvalues=np.array([up, down]), occupations=occupations, kpoints=K)
    assert edges.vbm == 0.5 and edges.cbm == 0.9
    assert edges.gap == pytest.approx(0.4) and not edges.direct
    assert edges.direct_gap == pytest.approx(0.9)  # at X: 0.9 - 0.0; at Gamma 1.5 - 0.5 = 1.0


def test_fermi_level_split_and_two_electrons_per_state():
    eigenvalues = np.array([[[-1.0, 0.0, 1.0], [-1.2, -0.3, 1.4]]])
    by_fermi = band_edges(eigenvalues=eigenvalues, fermi_level=0.5, kpoints=K)
    assert by_fermi.gap == pytest.approx(1.0) and by_fermi.method == FERMI_METHOD
    occupations = np.array([[[2.0, 2.0, 0.9], [2.0, 2.0, 0.0]]])  # 0.9 of 2 is less than half full
    assert band_edges(eigenvalues=eigenvalues, occupations=occupations, full_occupation=2.0, kpoints=K).gap == pytest.approx(1.0)


def test_parts_of_a_band_structure_join():
    a = band_edges(eigenvalues=np.array([[[-1.0, 0.0, 1.0]]]), occupations=np.array([[[1, 1, 0]]]), kpoints=K[:1])
    b = band_edges(eigenvalues=np.array([[[-1.0, 0.1, 0.8]]]), occupations=np.array([[[1, 1, 0]]]), kpoints=K[1:])
    joined = join([a, b])
    assert joined.vbm == 0.1 and joined.cbm == 0.8 and joined.gap == pytest.approx(0.7)
    assert joined.direct and joined.direct_gap == pytest.approx(0.7)


def test_no_empty_state_is_an_error():
    with pytest.raises(ValueError, match="no empty state"):
        band_edges(eigenvalues=np.zeros((1, 1, 2)), occupations=np.ones((1, 1, 2)), kpoints=K[:1])
