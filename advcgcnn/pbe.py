"""Gamma-point PBE band gaps with GPAW: the cross-check of the demo's GFN1-xTB labels.

GPAW comes from Debian (`gpaw`, for the system Python), not from the project's
environment, so the calculation runs in a child process:
`mpiexec -n RANKS /usr/bin/python3 -m advcgcnn.pbe cells.json gaps.csv`.
That entry point imports only ASE, GPAW and NumPy. In a 2x2x2 perovskite
supercell the R point of the cubic cell folds onto Gamma, so the Gamma gap is
the physical one (no spin-orbit coupling: PBE underestimates it).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

# Plane waves at 300 eV, Gamma only: 35-40 s per 40-atom cell with 2 ranks on this machine kind.
PW_CUTOFF_EV = 300.0
SYSTEM_PYTHON = "/usr/bin/python3"
GAP_COLUMNS = ("id", "pbe_gap", "pbe_energy", "seconds", "ranks", "gpaw_version")


def gpaw_command(*, ranks: int) -> list[str]:
    """The launcher of the GPAW child process; errors name what to install."""
    python = os.environ.get("ADVCGCNN_GPAW_PYTHON", SYSTEM_PYTHON)
    probe = subprocess.run([python, "-c", "import gpaw"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise RuntimeError(
            f"GPAW is not importable by {python}: install Debian's gpaw and openmpi-bin "
            "(`sudo apt-get install gpaw openmpi-bin`, or `make gpaw`) or set ADVCGCNN_GPAW_PYTHON"
        )
    if ranks <= 1:
        return [python]
    mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        raise RuntimeError("mpiexec not found: install openmpi-bin (`make gpaw`) or set pbe.ranks to 1")
    root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
    return [mpiexec, *root, "--oversubscribe", "-n", str(ranks), python]


def pbe_gaps(*, cells: Sequence[dict], out_path: str, ranks: int = 2, log=print) -> None:
    """Run GPAW on `cells` ({"id", "numbers", "positions", "cell"}, A) and write one CSV row per cell."""
    out = Path(out_path).resolve()  # GPAW runs in a scratch folder: every path it gets is absolute
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".pbe.") as work:
        cells_json = Path(work) / "cells.json"
        cells_json.write_text(json.dumps(list(cells)))
        partial = Path(work) / "gaps.csv"
        repo = str(Path(__file__).resolve().parent.parent)
        env = os.environ | {"PYTHONPATH": repo, "OMP_NUM_THREADS": "1"}
        command = [*gpaw_command(ranks=ranks), "-m", "advcgcnn.pbe", str(cells_json), str(partial)]
        log(f"GPAW: {' '.join(command)}")
        done = subprocess.run(command, env=env, cwd=work, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"GPAW failed (exit {done.returncode}) on {len(cells)} cells:\n{done.stderr[-3000:]}")
        os.replace(partial, out)


def _gap_of(cell: dict, *, txt: str) -> tuple[float, float]:
    from ase import Atoms
    from gpaw import GPAW, PW

    atoms = Atoms(numbers=cell["numbers"], positions=cell["positions"], cell=cell["cell"], pbc=True)
    atoms.calc = GPAW(
        mode=PW(PW_CUTOFF_EV), xc="PBE", kpts=(1, 1, 1), occupations={"name": "fermi-dirac", "width": 0.01}, txt=txt
    )
    energy = atoms.get_potential_energy()
    homo, lumo = atoms.calc.get_homo_lumo()
    return float(lumo - homo), float(energy) / len(atoms)


def _main(cells_path: str, out_path: str) -> None:
    import gpaw
    from ase.parallel import world

    cells = json.loads(Path(cells_path).read_text())
    rows = []
    for cell in cells:
        t0 = time.perf_counter()
        gap, energy = _gap_of(cell, txt=f"{cell['id']}.txt")
        rows.append([cell["id"], f"{gap:.5f}", f"{energy:.6f}", f"{time.perf_counter() - t0:.1f}", world.size, gpaw.__version__])
    if world.rank == 0:
        with open(out_path + ".tmp", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(GAP_COLUMNS)
            writer.writerows(rows)
        os.replace(out_path + ".tmp", out_path)


if __name__ == "__main__":
    _main(*sys.argv[1:3])
