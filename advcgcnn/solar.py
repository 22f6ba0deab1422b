"""Photovoltaic limits from band gaps and optics: Shockley-Queisser and SLME.

Both use the AM1.5G spectrum that ships with pymatgen and the same constants
and temperature as `pymatgen.analysis.solar.slme`, so SQ is exactly SLME with
a step absorptivity (1 above the gap) and radiative recombination only.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
from scipy import constants
from scipy.integrate import simpson
from scipy.special import lambertw

TEMPERATURE_K = 293.15  # pymatgen's SLME default


@lru_cache(maxsize=1)
def am15g() -> tuple[np.ndarray, np.ndarray]:
    """AM1.5G global tilt spectrum: wavelength (nm, ascending) and irradiance (W m^-2 nm^-1)."""
    import pymatgen.analysis.solar.slme as slme_module

    path = os.path.join(os.path.dirname(slme_module.__file__), "am1.5G.dat")
    wavelength, irradiance = np.loadtxt(path, usecols=[0, 1], unpack=True, skiprows=2)
    return wavelength, irradiance


@lru_cache(maxsize=1)
def incident_power() -> float:
    """Total AM1.5G irradiance, W/m^2 (about 1000)."""
    wavelength, irradiance = am15g()
    return float(simpson(irradiance, x=wavelength))


@lru_cache(maxsize=4)
def _cumulative_fluxes(temperature: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Running integrals (from short wavelengths) of solar and blackbody photon flux."""
    c, h, k = constants.c, constants.h, constants.k
    wavelength, irradiance = am15g()
    lam = wavelength * 1e-9
    solar_photons = irradiance * lam / (h * c)  # photons s^-1 m^-2 nm^-1
    blackbody = 2.0 * h * c**2 / lam**5 / np.expm1(h * c / (lam * k * temperature))
    blackbody_photons = blackbody * lam / (h * c)  # photons s^-1 m^-3
    solar_cum = np.concatenate([[0.0], np.cumsum(0.5 * (solar_photons[1:] + solar_photons[:-1]) * np.diff(wavelength))])
    bb_cum = np.concatenate([[0.0], np.cumsum(0.5 * (blackbody_photons[1:] + blackbody_photons[:-1]) * np.diff(lam))])
    return wavelength, solar_cum, bb_cum


def shockley_queisser(band_gap_ev, *, temperature: float = TEMPERATURE_K) -> dict[str, np.ndarray]:
    """Detailed-balance limit for each gap (vectorised).

    Returns efficiency (0-1), max power density (W/m^2), J_sc (A/m^2) and V_mp (V).
    Gaps outside the spectrum (below ~0.31 eV or above ~4.4 eV) give NaN.
    """
    gaps = np.atleast_1d(np.asarray(band_gap_ev, dtype=float))
    e, k = constants.e, constants.k
    wavelength, solar_cum, bb_cum = _cumulative_fluxes(temperature)
    edge_nm = constants.c * constants.h / constants.e / np.where(gaps > 0, gaps, np.nan) * 1e9
    inside = (edge_nm >= wavelength[0]) & (edge_nm <= wavelength[-1])
    edge = np.where(inside, edge_nm, wavelength[0])
    j_sc = e * np.interp(edge, wavelength, solar_cum)
    j_0 = e * np.pi * np.interp(edge, wavelength, bb_cum)
    thermal_v = k * temperature / e
    # d(J V)/dV = 0 has the closed form V_mp = kT/e (W(e (1 + J_sc/J_0)) - 1).
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        v_mp = thermal_v * (np.real(lambertw(np.e * (1.0 + j_sc / j_0))) - 1.0)
        power = (j_sc - j_0 * np.expm1(v_mp / thermal_v)) * v_mp
    nan = ~inside
    for arr in (j_sc, v_mp, power):
        arr[nan] = np.nan
    return {
        "efficiency": power / incident_power(),
        "power_density": power,
        "j_sc": j_sc,
        "v_mp": v_mp,
    }


def slme_from_dielectric(dielectric, *, direct_gap: float, indirect_gap: float, thickness: float = 500e-9) -> dict[str, float]:
    """SLME (0-1) and its power density (W/m^2) from a Vasprun dielectric function.

    Thin film of `thickness` metres, as in Yu and Zunger's SLME.
    """
    from pymatgen.analysis.solar.slme import absorption_coefficient, slme

    energies, alpha_cm = absorption_coefficient(dielectric)
    percent = slme(
        np.asarray(energies, dtype=float),
        np.asarray(alpha_cm, dtype=float),
        direct_gap,
        indirect_gap,
        thickness=thickness,
        temperature=TEMPERATURE_K,
        absorbance_in_inverse_centimeters=True,
    )
    efficiency = float(percent) / 100.0
    return {"slme": efficiency, "slme_power_density": efficiency * incident_power()}
