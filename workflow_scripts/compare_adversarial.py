"""Descriptor distributions of adversarial vs normal examples, with statistics and a figure."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

import pandas as pd

from advcgcnn.adversarial import compare_groups, plot_comparison
from advcgcnn.descriptors import DESCRIPTOR_NAMES
from advcgcnn.io import write_csv
from advcgcnn.logs import setup

log = setup(snakemake.log[0])  # noqa: F821
descriptors = pd.read_csv(snakemake.input.descriptors)  # noqa: F821
groups = pd.read_csv(snakemake.input.groups)  # noqa: F821
table = compare_groups(descriptors, groups, list(DESCRIPTOR_NAMES))
write_csv(snakemake.output.comparison, table)  # noqa: F821
plot_comparison(descriptors, groups, list(DESCRIPTOR_NAMES), snakemake.output.figure)  # noqa: F821
log.info("\n%s", table.to_string())
