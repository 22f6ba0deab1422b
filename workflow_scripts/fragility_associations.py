"""Fragility against each disorder descriptor, composition and baseline margin held fixed."""

import pandas as pd

from advcgcnn.descriptors import DESCRIPTOR_NAMES
from advcgcnn.fragility import associations, fragility_measures
from advcgcnn.io import write_csv
from advcgcnn.logs import setup

log = setup(snakemake.log[0])
params = snakemake.params
measures = fragility_measures(flips=pd.read_csv(snakemake.input.flips), attack=pd.read_csv(snakemake.input.attack))
table = associations(
    measures=measures,
    descriptors=pd.read_csv(snakemake.input.descriptors),
    labels=pd.read_csv(snakemake.input.labels),
    names=list(DESCRIPTOR_NAMES),
    n_boot=params.n_boot,
    seed=params.seed,
    alpha=params.alpha,
)
write_csv(snakemake.output.table, table)
log.info("\n%s", table.to_string())
