"""Score one chunk of screening candidates (ideal cells) with the CGCNN and interpretable ensembles."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

import pandas as pd
import torch

from advcgcnn.io import read_json, write_csv
from advcgcnn.logs import setup
from advcgcnn.screening import score_candidates, scorer_from_files

log = setup(snakemake.log[0])  # noqa: F821
sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
chunk = int(sm.wildcards.chunk)
candidates = pd.read_csv(sm.input.candidates, dtype={"mask": str}).iloc[chunk :: sm.params.n_chunks]
lattice_fit = read_json(sm.input.summary)["lattice_fit"]
scorer = scorer_from_files(
    list(sm.input.cgcnn_models), sm.input.graphs[0], sm.params.graphs, sm.input.interpretable_models,
    sm.params.descriptors, sm.input.descriptors, sm.input.labels,
)
scores = score_candidates(candidates, sm.params.parent, lattice_fit, scorer)
write_csv(sm.output.scores, scores)
log.info("chunk %d: %d candidates scored", chunk, len(scores))
