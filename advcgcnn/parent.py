"""The parent crystal of the alloy: lattice type, supercell, sites, and which sublattice is mixed.

One `parent:` section of the config describes it; enumeration, ingestion,
descriptors, screening and the demo generator all read it through
`ParentSpec.from_config`, which rejects an inconsistent section at start with
the key to change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from pymatgen.core import Element, Lattice, Structure

from .errors import ConfigError

LatticeType = Literal["perovskite_abx3"]
LATTICE_TYPES: tuple[LatticeType, ...] = get_args(LatticeType)
# Full enumeration keeps a bitmap of 2**n_sites booleans; past this it is too large.
MAX_ENUMERATED_SITES = 28
SITE_KEYS = ("a_site", "b_site", "host", "substituent")


@dataclass(frozen=True, kw_only=True)
class Parent:
    """The ideal parent supercell and which of its sites are substituted."""

    structure: Structure
    sublattice: np.ndarray  # indices into structure of the substitutable sites
    host: str  # element on the sublattice in the parent
    substituent: str  # element that replaces it


@dataclass(frozen=True, kw_only=True)
class ParentSpec:
    """Cubic ABX3 (Pm-3m) repeated `supercell` times along each axis; X is mixed (host -> substituent)."""

    lattice: LatticeType = "perovskite_abx3"
    a_site: str = "Cs"
    b_site: str = "Sn"
    host: str = "Br"
    substituent: str = "I"
    supercell: int = 2
    a_host: float = 5.80  # A, cubic lattice constant of the host end member (CsSnBr3)
    a_substituent: float = 6.22  # A, of the substituent end member (CsSnI3)

    @classmethod
    def from_config(cls, section: Mapping, *, elements: Sequence[str] | None = None) -> ParentSpec:
        """Validated spec from the config's `parent` section; `elements` is the config's element list."""

        def fail(key: str, problem: str) -> ConfigError:
            return ConfigError(f"config parent.{key}: {problem}")

        lattice_constants = dict(section.get("lattice_constants", {}))
        spec = cls(
            lattice=section.get("lattice", cls.lattice),
            a_site=section.get("a_site", cls.a_site),
            b_site=section.get("b_site", cls.b_site),
            host=section.get("host", cls.host),
            substituent=section.get("substituent", cls.substituent),
            supercell=int(section.get("supercell", cls.supercell)),
            a_host=float(lattice_constants.get("host", cls.a_host)),
            a_substituent=float(lattice_constants.get("substituent", cls.a_substituent)),
        )
        if spec.lattice not in LATTICE_TYPES:
            raise fail("lattice", f"{spec.lattice!r} is not a known lattice type; choose from {LATTICE_TYPES}")
        seen: dict[str, str] = {}
        for key in SITE_KEYS:
            symbol = getattr(spec, key)
            if not isinstance(symbol, str) or not Element.is_valid_symbol(symbol):
                raise fail(key, f"{symbol!r} is not an element symbol")
            if symbol in seen:
                raise fail(key, f"{symbol} is already parent.{seen[symbol]}; every site needs its own element")
            seen[symbol] = key
            if elements is not None and symbol not in elements:
                raise fail(key, f"{symbol} is not in the config's elements {list(elements)}; add it there or change the site")
        if spec.supercell < 1:
            raise fail("supercell", f"{spec.supercell} repeats: need at least 1")
        if spec.n_sites > MAX_ENUMERATED_SITES:
            raise fail(
                "supercell",
                f"{spec.supercell} gives {spec.n_sites} mixed sites; enumerating arrangements supports at most "
                f"{MAX_ENUMERATED_SITES}",
            )
        for key, value in (("host", spec.a_host), ("substituent", spec.a_substituent)):
            if not value > 0:
                raise fail(f"lattice_constants.{key}", f"{value} A: must be positive")
        return spec

    @property
    def n_formula_units(self) -> int:
        return self.supercell**3

    @property
    def n_sites(self) -> int:
        """Sites of the mixed (X) sublattice."""
        return 3 * self.n_formula_units

    @property
    def parent_grid(self) -> int:
        """Ideal fractional coordinates of the supercell are multiples of 1/parent_grid."""
        return 2 * self.supercell

    @property
    def mixed_species(self) -> tuple[str, str]:
        return (self.host, self.substituent)

    def vegard_lattice_constant(self, *, substituent_fraction: float) -> float:
        """Cubic lattice constant at a fraction (0..1) of the mixed sites substituted."""
        return self.a_host + substituent_fraction * (self.a_substituent - self.a_host)

    def build(self) -> Parent:
        """The ideal parent supercell at the host's lattice constant."""
        unit = Structure(
            Lattice.cubic(self.a_host),
            [self.a_site, self.b_site, self.host, self.host, self.host],
            [[0.5, 0.5, 0.5], [0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]],
        )
        unit.make_supercell(self.supercell)
        sublattice = np.array([i for i, sp in enumerate(unit.species) if sp.symbol == self.host])
        return Parent(structure=unit, sublattice=sublattice, host=self.host, substituent=self.substituent)


def decorate(parent: Parent, mask: int, *, lattice_constant: float | None = None) -> Structure:
    """The parent supercell with the substituent on the sites set in `mask`."""
    s = parent.structure.copy()
    if lattice_constant is not None:
        s = Structure(
            Lattice.cubic(lattice_constant * s.lattice.a / parent_unit_a(parent)),
            s.species,
            s.frac_coords,
        )
    for bit, site in enumerate(parent.sublattice):
        if (mask >> bit) & 1:
            s.replace(int(site), parent.substituent)
    return s


def parent_unit_a(parent: Parent) -> float:
    """Lattice constant of the parent's primitive cubic cell."""
    n_cells = round((len(parent.structure) / 5) ** (1 / 3))
    return parent.structure.lattice.a / n_cells
