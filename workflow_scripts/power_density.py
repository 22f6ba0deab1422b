"""Rank correlation of the maximum power density with every descriptor, with bootstrap intervals."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

import pandas as pd

from advcgcnn.descriptors import DESCRIPTOR_NAMES
from advcgcnn.io import write_csv
from advcgcnn.logs import setup
from advcgcnn.power_density import plot_power_density, power_density_vs_disorder

log = setup(snakemake.log[0])  # noqa: F821
sm = snakemake  # noqa: F821
labels = pd.read_csv(sm.input.labels)
descriptors = pd.read_csv(sm.input.descriptors)
table = power_density_vs_disorder(labels, descriptors, list(DESCRIPTOR_NAMES), sm.params.n_boot, sm.params.seed)
write_csv(sm.output.table, table)
plot_power_density(labels, descriptors, table, sm.output.figure)
log.info("\n%s", table.to_string())
