"""Descriptor distributions of adversarial vs normal examples, with statistics and a figure."""

import pandas as pd

from advcgcnn.adversarial import compare_groups, plot_comparison
from advcgcnn.descriptors import DESCRIPTOR_NAMES
from advcgcnn.io import write_csv
from advcgcnn.logs import setup

log = setup(snakemake.log[0])
descriptors = pd.read_csv(snakemake.input.descriptors)
groups = pd.read_csv(snakemake.input.groups)
names = list(DESCRIPTOR_NAMES)
table = compare_groups(descriptors=descriptors, groups=groups, names=names)
write_csv(snakemake.output.comparison, table)
plot_comparison(descriptors=descriptors, groups=groups, names=names, figure_out=snakemake.output.figure)
log.info("\n%s", table.to_string())
