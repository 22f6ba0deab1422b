"""Rank correlation of the maximum power density with every descriptor, with bootstrap intervals."""

import pandas as pd

from advcgcnn.descriptors import DESCRIPTOR_NAMES
from advcgcnn.io import write_csv
from advcgcnn.logs import setup
from advcgcnn.power_density import plot_power_density, power_density_vs_disorder

log = setup(snakemake.log[0])
labels = pd.read_csv(snakemake.input.labels)
descriptors = pd.read_csv(snakemake.input.descriptors)
table = power_density_vs_disorder(
    labels=labels,
    descriptors=descriptors,
    names=list(DESCRIPTOR_NAMES),
    n_boot=snakemake.params.n_boot,
    seed=snakemake.params.seed,
    alpha=snakemake.params.alpha,
)
write_csv(snakemake.output.table, table)
plot_power_density(labels=labels, descriptors=descriptors, table=table, figure_out=snakemake.output.figure)
log.info("\n%s", table.to_string())
