"""Configurations the baseline gets right and the perturbed classifiers get wrong."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

import pandas as pd

from advcgcnn.adversarial import find_adversarial
from advcgcnn.io import write_csv
from advcgcnn.logs import setup

log = setup(snakemake.log[0])  # noqa: F821
baseline = pd.read_csv(snakemake.input.baseline)  # noqa: F821
sweep = pd.concat([pd.read_csv(p) for p in snakemake.input.sweep], ignore_index=True)  # noqa: F821
groups = find_adversarial(baseline, sweep, snakemake.params.sigma, snakemake.params.min_wrong)  # noqa: F821
write_csv(snakemake.output.groups, groups)  # noqa: F821
write_csv(snakemake.output.examples, groups[groups["group"] == "adversarial"])  # noqa: F821
log.info("groups: %s", groups["group"].value_counts().to_dict())
