"""Relax and rescore the most uncertain candidates; write them as POSCAR files for DFT."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

import pandas as pd
import torch

from advcgcnn.demo import Protocol
from advcgcnn.io import read_json
from advcgcnn.logs import setup
from advcgcnn.screening import next_round, scorer_from_files

log = setup(snakemake.log[0])  # noqa: F821
sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
lattice_fit = read_json(sm.input.summary)["lattice_fit"]
scorer = scorer_from_files(
    list(sm.input.cgcnn_models), sm.input.graphs[0], sm.params.graphs, sm.input.interpretable_models,
    sm.params.descriptors, sm.input.descriptors, sm.input.labels,
)
table = next_round(
    pd.read_csv(sm.input.ranked, dtype={"mask": str}), sm.params.parent, lattice_fit, scorer,
    Protocol(**sm.params.protocol), sm.params.relax, sm.output.table, sm.output.poscars,
)
log.info("next round:\n%s", table.to_string())
