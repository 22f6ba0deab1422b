"""Score one chunk of screening candidates (ideal cells) with the CGCNN and interpretable ensembles."""

import pandas as pd
import torch

from advcgcnn.graphs import GraphSettings
from advcgcnn.io import read_json, write_csv
from advcgcnn.logs import setup
from advcgcnn.parent import ParentSpec
from advcgcnn.screening import score_candidates, scorer_from_files

log = setup(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
chunk = int(snakemake.wildcards.chunk)
candidates = pd.read_csv(snakemake.input.candidates, dtype={"mask": str}).iloc[chunk :: snakemake.params.n_chunks]
scorer = scorer_from_files(
    cgcnn_models=list(snakemake.input.cgcnn_models),
    graph_path=snakemake.input.graphs[0],
    graph_settings=GraphSettings.from_config(snakemake.params.graphs),
    interpretable_models=snakemake.input.interpretable_models,
    parent=ParentSpec.from_config(snakemake.params.parent),
    symprec=snakemake.params.symprec,
    descriptors_csv=snakemake.input.descriptors,
    labels_csv=snakemake.input.labels,
)
scores = score_candidates(candidates=candidates, lattice_fit=read_json(snakemake.input.summary)["lattice_fit"], scorer=scorer)
write_csv(snakemake.output.scores, scores)
log.info("chunk %d: %d candidates scored", chunk, len(scores))
