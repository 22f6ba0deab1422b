"""Relax and rescore the most uncertain candidates; write them as POSCAR files for DFT."""

import pandas as pd
import torch

from advcgcnn.graphs import GraphSettings
from advcgcnn.io import read_json
from advcgcnn.logs import setup
from advcgcnn.parent import ParentSpec
from advcgcnn.relaxation import Protocol
from advcgcnn.screening import next_round, scorer_from_files

log = setup(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
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
table = next_round(
    ranked=pd.read_csv(snakemake.input.ranked, dtype={"mask": str}),
    lattice_fit=read_json(snakemake.input.summary)["lattice_fit"],
    scorer=scorer,
    protocol=Protocol(**snakemake.params.protocol),
    relax=snakemake.params.relax,
    table_out=snakemake.output.table,
    poscar_dir=snakemake.output.poscars,
)
log.info("next round:\n%s", table.to_string())
