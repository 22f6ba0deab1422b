"""Band gaps from eigenvalues and occupations, right for smeared, tetrahedron, spin-polarised and hybrid runs.

A state counts as occupied when its occupation is at least half of a full one. The
1e-8 tolerance pymatgen's `eigenvalue_band_properties` uses counts smeared conduction
states with tiny occupations as occupied (0.036 eV instead of 0.7115 eV for a Gaussian-
smeared HSE run). Zero-weight k-points (hybrid band structures) count like any other;
spin channels are pooled (the fundamental gap of a spin-polarised run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

OCCUPIED = 0.5  # fraction of a full occupation above which a state is occupied
OCCUPATION_METHOD = "occupation_0.5"
FERMI_METHOD = "fermi_level"


@dataclass(frozen=True, kw_only=True)
class BandEdges:
    """Band edges of one calculation (or of several parts of one band structure joined)."""

    vbm: float
    cbm: float
    vbm_kpoint: tuple[float, float, float]
    cbm_kpoint: tuple[float, float, float]
    direct_gap: float  # smallest CBM - VBM at one k-point
    method: str

    @property
    def gap(self) -> float:
        return max(0.0, self.cbm - self.vbm)

    @property
    def direct(self) -> bool:
        return bool(np.allclose(self.vbm_kpoint, self.cbm_kpoint, atol=1e-6))


def band_edges(
    *,
    eigenvalues: np.ndarray,
    kpoints: np.ndarray,
    occupations: np.ndarray | None = None,
    fermi_level: float | None = None,
    full_occupation: float = 1.0,
) -> BandEdges:
    """Edges from eigenvalues [spin, kpoint, band] and occupations of the same shape.

    Without occupations, states below `fermi_level` are occupied. `full_occupation` is
    what one state holds (1 per spin channel in VASP and ASE).
    """
    eigenvalues = np.asarray(eigenvalues, dtype=float)
    if eigenvalues.ndim != 3:
        raise ValueError(f"eigenvalues must be [spin, kpoint, band], got shape {eigenvalues.shape}")
    if occupations is not None:
        occupied = np.asarray(occupations, dtype=float) >= OCCUPIED * full_occupation
        method = OCCUPATION_METHOD
    elif fermi_level is not None:
        occupied = eigenvalues <= fermi_level
        method = FERMI_METHOD
    else:
        raise ValueError("band edges need occupations or a Fermi level")
    if not occupied.any():
        raise ValueError("no occupied state")
    if occupied.all():
        raise ValueError("no empty state (too few bands to see the conduction band)")
    valence = np.where(occupied, eigenvalues, -np.inf)
    conduction = np.where(occupied, np.inf, eigenvalues)
    vbm_per_k = valence.max(axis=(0, 2))  # pooled over spins and bands, per k-point
    cbm_per_k = conduction.min(axis=(0, 2))
    kv, kc = int(np.argmax(vbm_per_k)), int(np.argmin(cbm_per_k))
    kpoints = np.asarray(kpoints, dtype=float)
    with np.errstate(invalid="ignore"):
        direct = cbm_per_k - vbm_per_k
    direct = direct[np.isfinite(direct)]
    return BandEdges(
        vbm=float(vbm_per_k[kv]),
        cbm=float(cbm_per_k[kc]),
        vbm_kpoint=tuple(kpoints[kv]),
        cbm_kpoint=tuple(kpoints[kc]),
        direct_gap=float(max(0.0, direct.min())) if direct.size else float("nan"),
        method=method,
    )


def join(parts: Sequence[BandEdges]) -> BandEdges:
    """Edges of a band structure split over several runs: the highest VBM and lowest CBM of all parts.

    The direct gap is the smallest of the parts' direct gaps (each part holds whole k-points).
    """
    if not parts:
        raise ValueError("no parts to join")
    top = max(parts, key=lambda p: p.vbm)
    bottom = min(parts, key=lambda p: p.cbm)
    methods = sorted({p.method for p in parts})
    return BandEdges(
        vbm=top.vbm,
        cbm=bottom.cbm,
        vbm_kpoint=top.vbm_kpoint,
        cbm_kpoint=bottom.cbm_kpoint,
        direct_gap=float(np.nanmin([p.direct_gap for p in parts])),
        method="+".join(methods),
    )
