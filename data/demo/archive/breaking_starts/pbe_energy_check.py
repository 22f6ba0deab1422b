"""Is CHGNet's lower, symmetry-broken minimum also lower in PBE? (run once, 2026-11-26; output pbe_symmetric_runs.csv)

For five arrangements of the stability sample whose kept run was the breaking start, the
FixSymmetry LBFGS run is relaxed again (it reproduces the stored run's energy) and its
Gamma-point PBE energy and gap are computed; the kept cells' PBE values are in pbe/.
Run from the repository root: .venv/bin/python data/demo/archive/breaking_starts/pbe_energy_check.py ID ...
"""

import glob
import json
import os
import sys

import pandas as pd
import yaml

from advcgcnn.demo import ideal_cell
from advcgcnn.parent import ParentSpec
from advcgcnn.pbe import pbe_gaps
from advcgcnn.relaxation import Protocol, chgnet_calculator, relax, symmetric_run

HERE = os.path.dirname(__file__)
config = yaml.safe_load(open("config.yaml"))
spec = ParentSpec.from_config(config["parent"])
protocol = Protocol(fmax=0.005, seed=config["demo_dataset"]["seed"])
stability = pd.concat([pd.read_csv(p) for p in glob.glob(os.path.join(HERE, "stability", "*.csv"))])
symmetric = stability[stability["protocol"] == "symmetric"].set_index("id")
calculator = chgnet_calculator()
cells = []
for cid in sys.argv[1:]:
    mask = int(symmetric.loc[cid, "mask"])
    run = relax(
        symmetric_run(ideal_cell(spec=spec, mask=mask), protocol=protocol, optimizer="LBFGS"),
        calculator=calculator,
        fmax=protocol.fmax,
        max_steps=protocol.max_steps,
    )
    stored = next(r for r in json.loads(symmetric.loc[cid, "runs_base"]) if r["start"] == "symmetric")
    print(f"{cid}: energy {run.energy_per_atom:.7f} (stored {stored['energy_per_atom']:.7f}), gap {run.gap:.4f}")
    atoms = run.atoms
    cells.append(
        {"id": cid, "numbers": atoms.numbers.tolist(), "positions": atoms.positions.tolist(), "cell": atoms.cell.array.tolist()}
    )
pbe_gaps(cells=cells, out_path=os.path.join(HERE, "pbe_symmetric_runs.csv"), ranks=2)
