import numpy as np
import pytest

from advcgcnn.solar import incident_power, shockley_queisser


def test_sq_matches_pymatgen_slme_with_step_absorber():
    from pymatgen.analysis.solar.slme import slme

    energies = np.linspace(0.01, 6.0, 6000)
    for gap in (1.1, 1.34, 1.75):
        alpha = np.where(energies >= gap, 1e12, 0.0)  # fully absorbing above the gap
        reference = slme(energies, alpha, gap, gap, thickness=1e-3) / 100.0
        assert shockley_queisser(gap)["efficiency"][0] == pytest.approx(reference, abs=5e-4)


def test_sq_limit_peaks_near_1p34_ev():
    gaps = np.linspace(0.8, 2.2, 141)
    eff = shockley_queisser(gaps)["efficiency"]
    assert 1.1 < gaps[np.nanargmax(eff)] < 1.45
    assert 0.32 < np.nanmax(eff) < 0.35


def test_power_density_is_efficiency_times_incident_power():
    out = shockley_queisser([1.3, 1.7])
    assert np.allclose(out["power_density"], out["efficiency"] * incident_power())
    assert 990 < incident_power() < 1010


def test_gap_outside_spectrum_is_nan():
    out = shockley_queisser([0.1, 10.0])
    assert np.isnan(out["efficiency"]).all()
