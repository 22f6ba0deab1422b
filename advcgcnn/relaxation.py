"""How one arrangement becomes a relaxed cell and a raw GFN1-xTB gap: three protocols.

- `symmetric` (default): the ideal decorated cell at the Vegard lattice constant,
  no rattle, relaxed (positions and cell, CHGNet) under ASE's `FixSymmetry` once
  per optimiser in `optimizers`, plus `breaking_starts` seeded symmetry-breaking
  starts relaxed without the constraint (default none: CHGNet takes them into
  off-centred minima whose labels change with every extra start), every run to
  `fmax`. One relaxation can stop in any of several nearby minima, so the kept
  cell is that of the lowest-energy run; it is then refined by a fresh optimiser
  of the same class to `refine_fmax` (a restart sheds the stale Hessian that makes
  a single run crawl along soft tilt modes) and on, by halvings of the tolerance
  (each a fresh optimiser), until `settled_halvings` halvings in a row move the
  gap by at most `gap_tolerance`: the label is that cell's gap, with its own
  convergence test.
  Every run's energy, gap and space group are recorded, the kept one named.
- `thermal`: the symmetric protocol's refined cell, then seeded Langevin dynamics
  at `md_temperature` (fixed cell); the label is the mean GFN1 gap of
  `md_snapshots` evenly spaced snapshots, what a room-temperature measurement sees.
- `rattle`: the earlier demo protocol (seeded Gaussian rattle, CHGNet FIRE to
  `rattle_fmax`); kept so the protocols can be compared on the same arrangements.

A label is made in two stages, which the demo generator runs as separate chunked
jobs: `select_relaxation` (the relaxations and the kept run) and `finish_label`
(the refinement and, for `thermal`, the MD). `stability_labels` relabels under a
perturbation of each protocol: symmetric continues every run to `fmax/2`, adds a
run with `perturbation_optimizer` (and one more breaking start if the protocol
has any) and refines the kept one from `refine_fmax/2`; it also records how far
the label itself moves when its own (final) tolerance is halved once more (the
force-tolerance check). Thermal runs another MD seed; rattle draws another
rattle seed.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import spglib
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from .labelling import gfn1_gap, rattled

ProtocolName = Literal["symmetric", "thermal", "rattle"]
PROTOCOL_NAMES: tuple[ProtocolName, ...] = get_args(ProtocolName)
SPACEGROUP_SYMPREC = 0.1  # A, as the descriptors' n_unequal_atoms
MAX_REFINE_RESTARTS = 3


@dataclass(frozen=True, kw_only=True)
class Protocol:
    """How one arrangement is relaxed and labelled (config demo_dataset.protocol)."""

    name: ProtocolName = "symmetric"
    fmax: float = 0.005  # eV/A, every run; the lowest-energy one is kept
    refine_fmax: float = 0.00125  # eV/A, the kept run's refinement starts here (= fmax: no refinement)
    gap_tolerance: float = 0.02  # eV, the gap shift one halving of the tolerance may cause in a converged label
    settled_halvings: int = 2  # consecutive halvings within gap_tolerance that make a label converged
    max_halvings: int = 4  # halvings of refine_fmax tried before a label counts as not converged
    max_steps: int = 3000
    symprec: float = 1e-3  # A, FixSymmetry's tolerance on the ideal decorated cell
    optimizers: tuple[str, ...] = ("LBFGS", "BFGS")  # ase.optimize classes, each relaxes under FixSymmetry
    perturbation_optimizer: str = "FIRE"  # the stability perturbation's extra symmetric run
    breaking_starts: int = 0
    breaking_amplitude: float = 0.03  # A, seeded Gaussian displacement of a symmetry-breaking start
    md_temperature: float = 300.0  # K
    md_timestep_fs: float = 2.0
    md_steps: int = 1000
    md_snapshots: int = 10  # evenly spaced, the last at the final step
    md_friction: float = 0.01  # 1/fs, Langevin
    rattle: float = 0.03  # A, rattle protocol
    rattle_fmax: float = 0.05
    rattle_max_steps: int = 500
    bond_cutoff: float = 3.8  # A, a bridging B-X bond longer than this counts as long (off-centring)
    seed: int = 2024

    def __post_init__(self):
        if self.name not in PROTOCOL_NAMES:
            raise ValueError(f"protocol {self.name!r}: choose one of {PROTOCOL_NAMES}")
        object.__setattr__(self, "optimizers", tuple(self.optimizers))  # a YAML list arrives as a list
        if not 0 < self.refine_fmax <= self.fmax:
            raise ValueError(f"protocol.refine_fmax {self.refine_fmax} must lie in (0, fmax = {self.fmax}]")
        if self.gap_tolerance <= 0 or not 1 <= self.settled_halvings <= self.max_halvings:
            raise ValueError("protocol.gap_tolerance must be > 0 and 1 <= protocol.settled_halvings <= max_halvings")
        if not self.optimizers:
            raise ValueError("protocol.optimizers: name at least one ase.optimize class")
        for name in (*self.optimizers, self.perturbation_optimizer):
            if not _is_optimizer(name):
                raise ValueError(f"protocol optimiser {name!r} is not an ase.optimize class (e.g. LBFGS, BFGS, FIRE)")


def _is_optimizer(name: str) -> bool:
    from ase import optimize

    return isinstance(getattr(optimize, name, None), type)


def arrangement_seed(*, protocol: Protocol, mask: int, replica: int = 0) -> int:
    """Seed of one arrangement's random draw: order-independent; replica 0 is the earlier demo's rattle seed."""
    if replica == 0:
        return protocol.seed * 1_000_003 + mask
    return int(np.random.SeedSequence([protocol.seed, mask, replica]).generate_state(1)[0])


def chgnet_calculator():
    """CHGNet as an ASE calculator on the CPU (weights ship inside the chgnet wheel)."""
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    class Calculator(CHGNetCalculator):
        # CHGNet fills free_energy but does not declare it; ASE's cell filters ask for it.
        implemented_properties = [*CHGNetCalculator.implemented_properties, "free_energy"]

    warnings.filterwarnings("ignore", message="logm result may be inaccurate")
    # CHGNet converts every ASE cell through pymatgen, which drops FixSymmetry (ASE still applies it).
    warnings.filterwarnings("ignore", message="Only FixAtoms and FixCartesian is supported")
    warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True")
    return Calculator(model=CHGNet.load(verbose=False), use_device="cpu")


def spacegroup(structure: Structure, *, symprec: float = SPACEGROUP_SYMPREC) -> str:
    cell = (structure.lattice.matrix, structure.frac_coords, structure.atomic_numbers)
    return spglib.get_spacegroup(cell, symprec=symprec) or "none"


@dataclass(kw_only=True)
class Run:
    """One relaxation (or MD) from one start."""

    start: str
    atoms: object  # ase.Atoms, relaxed in place
    optimizer: str = "LBFGS"  # ase.optimize class name
    energy_per_atom: float = float("nan")
    steps: int = 0
    converged: bool = False
    max_force: float = float("nan")
    seconds: float = 0.0
    gap: float = float("nan")
    spacegroup_start: str = ""
    spacegroup_end: str = ""
    extra: dict = field(default_factory=dict)

    def record(self) -> dict:
        return {
            "start": self.start,
            "optimizer": self.optimizer,
            "energy_per_atom": round(self.energy_per_atom, 7),
            "gap_gfn1_raw": round(self.gap, 5),
            "steps": self.steps,
            "converged": self.converged,
            "max_force": round(self.max_force, 5),
            "spacegroup_start": self.spacegroup_start,
            "spacegroup_end": self.spacegroup_end,
            "seconds": round(self.seconds, 2),
            **self.extra,
        }

    def copy(self) -> Run:
        atoms = self.atoms.copy()  # constraints come along; the calculator does not
        return Run(**{**self.__dict__, "atoms": atoms, "extra": dict(self.extra)})

    @property
    def structure(self) -> Structure:
        return as_structure(self.atoms)


def as_structure(atoms) -> Structure:
    """The cell as a pymatgen Structure (ASE constraints are not carried over)."""
    return Structure(atoms.cell.array, atoms.get_chemical_symbols(), atoms.positions, coords_are_cartesian=True)


def _cell_filter(atoms):
    from ase.filters import FrechetCellFilter

    class CachedFrechetCellFilter(FrechetCellFilter):
        # The optimiser asks for forces up to three times per step; each costs matrix exponentials.
        _key = None

        def get_forces(self, **kwargs):
            key = (self.atoms.positions.tobytes(), self.atoms.cell.array.tobytes())
            if key != self._key:
                self._forces, self._key = super().get_forces(**kwargs), key
            return self._forces.copy()

    return CachedFrechetCellFilter(atoms)


def relax(run: Run, *, calculator, fmax: float, max_steps: int) -> Run:
    """Relax positions and cell of `run.atoms` (with `run.optimizer`) to `fmax`; constraints on the atoms stay on."""
    from ase import optimize

    run.atoms.calc = calculator
    if not run.spacegroup_start:
        run.spacegroup_start = spacegroup(run.structure)
    t0 = time.perf_counter()
    optimizer = getattr(optimize, run.optimizer)(_cell_filter(run.atoms), logfile=None)
    optimizer.run(fmax=fmax, steps=max_steps)
    run.steps += optimizer.nsteps
    forces = run.atoms.get_forces()
    run.max_force = float(np.linalg.norm(forces, axis=1).max())
    run.converged = bool(optimizer.converged(_cell_filter(run.atoms).get_forces()))
    run.energy_per_atom = float(run.atoms.get_potential_energy()) / len(run.atoms)
    structure = run.structure
    run.spacegroup_end = spacegroup(structure)
    run.gap = gfn1_gap(structure)
    run.seconds += time.perf_counter() - t0
    return run


def symmetric_run(start: Structure, *, protocol: Protocol, optimizer: str) -> Run:
    """The ideal decorated cell under FixSymmetry, to be relaxed with `optimizer`."""
    from ase.constraints import FixSymmetry

    atoms = AseAtomsAdaptor.get_atoms(start)
    atoms.set_constraint(FixSymmetry(atoms, symprec=protocol.symprec))
    return Run(start=f"symmetric_{optimizer}", atoms=atoms, optimizer=optimizer)


def breaking_run(start: Structure, *, protocol: Protocol, mask: int, index: int) -> Run:
    """Seeded symmetry-breaking start `index` (1, 2, ...), relaxed with the first optimiser."""
    seed = arrangement_seed(protocol=protocol, mask=mask, replica=index)
    displaced = rattled(start, amplitude=protocol.breaking_amplitude, seed=seed)
    return Run(start=f"breaking_{index}", atoms=AseAtomsAdaptor.get_atoms(displaced), optimizer=protocol.optimizers[0])


def lowest(runs: list[Run]) -> Run:
    """The converged run of lowest energy (first on ties); any run if none converged."""
    pool = [r for r in runs if r.converged] or runs
    return min(pool, key=lambda r: r.energy_per_atom)


@dataclass(kw_only=True)
class Label:
    """One arrangement's label under one protocol, with every run behind it."""

    protocol: str
    gap: float  # raw GFN1 eV
    structure: Structure  # the kept relaxed cell (thermal: the relaxed cell the MD started from)
    energy_per_atom: float
    kept: str
    converged: bool
    runs: list[dict]
    seconds: float
    gap_sem: float = float("nan")  # thermal: standard error of the snapshot mean
    refined: dict | None = None  # the kept run's refinement, when the protocol refines


def selection_runs(start: Structure, *, protocol: Protocol, mask: int, calculator, base: list[Run] | None = None) -> list[Run]:
    """The symmetric protocol's relaxations to `fmax`; with `base` (those runs) the perturbation's, to `fmax/2`."""
    if base is None:
        runs = [symmetric_run(start, protocol=protocol, optimizer=name) for name in protocol.optimizers]
        runs += [breaking_run(start, protocol=protocol, mask=mask, index=k) for k in range(1, protocol.breaking_starts + 1)]
        fmax = protocol.fmax
    else:
        runs = [r.copy() for r in base]
        for r in runs:
            r.extra["continued_from_fmax"] = protocol.fmax
        runs.append(symmetric_run(start, protocol=protocol, optimizer=protocol.perturbation_optimizer))
        if protocol.breaking_starts:
            runs.append(breaking_run(start, protocol=protocol, mask=mask, index=protocol.breaking_starts + 1))
        fmax = protocol.fmax / 2
    for r in runs:
        relax(r, calculator=calculator, fmax=fmax, max_steps=protocol.max_steps)
    return runs


def _label_of(run: Run, *, kept: str, runs: list[dict], seconds: float, refined: dict | None = None) -> Label:
    """The symmetric label whose cell is `run`'s."""
    return Label(
        protocol="symmetric",
        gap=run.gap,
        structure=run.structure,
        energy_per_atom=run.energy_per_atom,
        kept=kept,
        converged=run.converged,
        runs=runs,
        seconds=seconds,
        refined=refined,
    )


def kept_label(runs: list[Run]) -> Label:
    """The symmetric label of the lowest-energy run, before refinement."""
    kept = lowest(runs)
    return _label_of(kept, kept=kept.start, runs=[r.record() for r in runs], seconds=sum(r.seconds for r in runs))


def kept_optimizer(label: Label) -> str:
    """The optimiser class of a symmetric label's kept run (its refinements use the same class)."""
    return next(r["optimizer"] for r in label.runs if r["start"] == label.kept)


def refine(structure: Structure, *, optimizer: str, start: str, protocol: Protocol, calculator, fmax: float) -> Run:
    """A fresh `optimizer` (no history) relaxes `structure` to `fmax` under FixSymmetry of its own symmetry."""
    from ase.constraints import FixSymmetry

    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.set_constraint(FixSymmetry(atoms, symprec=protocol.symprec))
    run = Run(start=f"{start}_refined", atoms=atoms, optimizer=optimizer, extra={"refined_to_fmax": fmax})
    relax(run, calculator=calculator, fmax=fmax, max_steps=protocol.max_steps)
    # The optimiser stops on its own cell filter, referenced to the cell it started from; `relax` checks
    # forces and stress against the final cell's. A stop that passes the first but not the second
    # (a few of 430 demo refinements, by < 1e-5 eV/A) gets another fresh optimiser.
    restarts = 0
    while not run.converged and run.steps < protocol.max_steps and restarts < MAX_REFINE_RESTARTS:
        relax(run, calculator=calculator, fmax=fmax, max_steps=protocol.max_steps - run.steps)
        restarts += 1
    if restarts:
        run.extra["restarts"] = restarts
    return run


def refined_label(selected: Label, *, protocol: Protocol, calculator, fmax: float | None = None) -> Label:
    """`selected` (a symmetric label) refined to `fmax` (default `refine_fmax`), then on by halvings of the tolerance.

    Each halving is a fresh optimiser from the previous cell; the ladder stops once `settled_halvings`
    consecutive halvings have each moved the gap by at most `gap_tolerance`, and its last cell is the
    label. A flat stretch can stop a relaxation short of its minimum with small forces, and one quiet
    halving does not prove it left (demo cells: a halving within 0.02 eV, then the next one 0.03-0.16 eV
    and up to 1.2 meV/atom lower), so the label carries its own convergence test:
    `refined["halving_gap_shift"]` (the largest of the settling shifts). Not settled after `max_halvings`:
    `refined["tolerance_converged"]` is False (the generator excludes such a cell, with the reason).
    As is when no tighter.
    """
    fmax = protocol.refine_fmax if fmax is None else fmax
    if selected.protocol != "symmetric" or fmax >= protocol.fmax:
        return selected
    optimizer = kept_optimizer(selected)
    ladder = [
        refine(selected.structure, optimizer=optimizer, start=selected.kept, protocol=protocol, calculator=calculator, fmax=fmax)
    ]
    shifts: list[float] = []
    for halving in range(1, protocol.max_halvings + 1):
        ladder.append(
            refine(
                ladder[-1].structure,
                optimizer=optimizer,
                start=selected.kept,
                protocol=protocol,
                calculator=calculator,
                fmax=fmax / 2**halving,
            )
        )
        shifts.append(abs(ladder[-1].gap - ladder[-2].gap))
        recent = shifts[-protocol.settled_halvings :]
        settled = len(recent) == protocol.settled_halvings and max(recent) <= protocol.gap_tolerance
        if settled:
            break
    last = ladder[-1]
    refined = last.record() | {
        "label_fmax": last.extra["refined_to_fmax"],
        "halving_gap_shift": round(max(recent), 5),
        "tolerance_converged": settled,
        "ladder_seconds": round(sum(r.seconds for r in ladder), 2),
    }
    label = _label_of(
        last,
        kept=selected.kept,
        runs=[*selected.runs, *(r.record() for r in ladder)],
        seconds=selected.seconds + sum(r.seconds for r in ladder),
        refined=refined,
    )
    label.converged = all(r.converged for r in ladder)
    return label


def label_thermal(relaxed: Structure, *, protocol: Protocol, mask: int, calculator, replica: int = 0) -> Label:
    """Mean GFN1 gap over evenly spaced snapshots of seeded Langevin MD from a relaxed cell (fixed cell)."""
    from ase import units
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

    atoms = AseAtomsAdaptor.get_atoms(relaxed)
    atoms.calc = calculator
    rng = np.random.default_rng(arrangement_seed(protocol=protocol, mask=mask, replica=100 + replica))
    MaxwellBoltzmannDistribution(atoms, temperature_K=protocol.md_temperature, rng=rng)
    Stationary(atoms)
    atoms.set_constraint(FixCom())
    dynamics = Langevin(
        atoms,
        timestep=protocol.md_timestep_fs * units.fs,
        temperature_K=protocol.md_temperature,
        friction=protocol.md_friction / units.fs,
        fixcm=False,
        rng=rng,
    )
    every = max(protocol.md_steps // protocol.md_snapshots, 1)
    gaps, energies = [], []
    t0 = time.perf_counter()
    for _ in range(protocol.md_snapshots):
        dynamics.run(every)
        snapshot = as_structure(atoms)
        gaps.append(gfn1_gap(snapshot))
        energies.append(float(atoms.get_potential_energy()) / len(atoms))
    seconds = time.perf_counter() - t0
    gaps = np.array(gaps)
    return Label(
        protocol="thermal",
        gap=float(gaps.mean()),
        gap_sem=float(gaps.std(ddof=1) / np.sqrt(len(gaps))) if len(gaps) > 1 else float("nan"),
        structure=relaxed,
        energy_per_atom=float(np.mean(energies)),
        kept=f"md_seed_{replica}",
        converged=True,
        runs=[{"start": f"md_seed_{replica}", "snapshot_gaps": [round(g, 4) for g in gaps], "seconds": round(seconds, 2)}],
        seconds=seconds,
    )


def label_rattle(start: Structure, *, protocol: Protocol, mask: int, calculator, replica: int = 0) -> Label:
    """The earlier demo protocol: seeded rattle, CHGNet FIRE (positions and cell) to `rattle_fmax`."""
    displaced = rattled(start, amplitude=protocol.rattle, seed=arrangement_seed(protocol=protocol, mask=mask, replica=replica))
    run = Run(start=f"rattle_{replica}", atoms=AseAtomsAdaptor.get_atoms(displaced), optimizer="FIRE")
    relax(run, calculator=calculator, fmax=protocol.rattle_fmax, max_steps=protocol.rattle_max_steps)
    return Label(
        protocol="rattle",
        gap=run.gap,
        structure=run.structure,
        energy_per_atom=run.energy_per_atom,
        kept=run.start,
        converged=run.converged,
        runs=[run.record()],
        seconds=run.seconds,
    )


def select_relaxation(start: Structure, *, protocol: Protocol, mask: int, calculator) -> Label:
    """Stage one: the relaxations of one arrangement (ideal decorated cell `start`) and the kept run."""
    if protocol.name == "rattle":
        return label_rattle(start, protocol=protocol, mask=mask, calculator=calculator)
    return kept_label(selection_runs(start, protocol=protocol, mask=mask, calculator=calculator))


def finish_label(selected: Label, *, protocol: Protocol, mask: int, calculator) -> Label:
    """Stage two: the kept cell refined (symmetric, thermal), then the thermal protocol's MD."""
    label = refined_label(selected, protocol=protocol, calculator=calculator)
    if protocol.name != "thermal":
        return label
    thermal = label_thermal(label.structure, protocol=protocol, mask=mask, calculator=calculator)
    thermal.runs = label.runs + thermal.runs
    thermal.seconds += label.seconds
    thermal.refined = label.refined
    return thermal


def relax_arrangement(start: Structure, *, protocol: Protocol, mask: int, calculator) -> Label:
    """The relaxed (and refined) cell of one arrangement: the protocol without its MD."""
    selected = select_relaxation(start, protocol=protocol, mask=mask, calculator=calculator)
    return refined_label(selected, protocol=protocol, calculator=calculator)


def label_arrangement(start: Structure, *, protocol: Protocol, mask: int, calculator) -> Label:
    """The label of one arrangement (its ideal decorated cell `start`) under `protocol`: both stages."""
    selected = select_relaxation(start, protocol=protocol, mask=mask, calculator=calculator)
    return finish_label(selected, protocol=protocol, mask=mask, calculator=calculator)


def stability_labels(start: Structure, *, protocol: Protocol, mask: int, calculator) -> tuple[list[dict], Label]:
    """Base and perturbed labels of one arrangement under all three protocols, and the symmetric base label.

    The symmetric runs are shared: the thermal protocol starts from their kept cell.
    """
    rows = []

    def row(name: str, base: Label, perturbed: Label, cost: float, **extra) -> dict:
        return {
            "protocol": name,
            "gap_base": base.gap,
            "gap_perturbed": perturbed.gap,
            "energy_base": base.energy_per_atom,
            "energy_perturbed": perturbed.energy_per_atom,
            "kept_base": base.kept,
            "kept_perturbed": perturbed.kept,
            "seconds_per_label": cost,
            **extra,
        }

    base_runs = selection_runs(start, protocol=protocol, mask=mask, calculator=calculator)
    base = refined_label(kept_label(base_runs), protocol=protocol, calculator=calculator)
    perturbed_runs = selection_runs(start, protocol=protocol, mask=mask, calculator=calculator, base=base_runs)
    perturbed = refined_label(kept_label(perturbed_runs), protocol=protocol, calculator=calculator, fmax=protocol.refine_fmax / 2)
    # The force-tolerance check: the label's own cell, its refinement continued to half the tolerance.
    label_fmax = base.refined["label_fmax"] if base.refined else protocol.fmax
    halved = refine(
        base.structure,
        optimizer=kept_optimizer(base),
        start=base.kept,
        protocol=protocol,
        calculator=calculator,
        fmax=label_fmax / 2,
    )
    halving = [abs(p.gap - b.gap) for b, p in zip(base_runs, perturbed_runs)]
    rows.append(
        row(
            "symmetric",
            base,
            perturbed,
            base.seconds,
            label_fmax=label_fmax,
            halving_max_gap_shift=max(halving),
            kept_halving_gap_shift=abs(halved.gap - base.gap),
            halving_seconds=halved.seconds,
            spacegroup_start=base_runs[0].spacegroup_start,
            spacegroup_kept=(base.refined or next(r.record() for r in base_runs if r.start == base.kept))["spacegroup_end"],
            runs_base=base.runs,
            runs_perturbed=perturbed.runs,
        )
    )
    thermal = [label_thermal(base.structure, protocol=protocol, mask=mask, calculator=calculator, replica=k) for k in (0, 1)]
    rows.append(
        row(
            "thermal",
            *thermal,
            base.seconds + thermal[0].seconds,
            gap_sem_base=thermal[0].gap_sem,
            gap_sem_perturbed=thermal[1].gap_sem,
        )
    )
    rattle = [label_rattle(start, protocol=protocol, mask=mask, calculator=calculator, replica=k) for k in (0, 1)]
    rows.append(row("rattle", *rattle, rattle[0].seconds, converged=rattle[0].converged and rattle[1].converged))
    return rows, base
