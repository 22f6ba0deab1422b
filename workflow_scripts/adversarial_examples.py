"""Configurations the baseline gets right and the perturbed classifiers get wrong."""

import pandas as pd

from advcgcnn.adversarial import find_adversarial
from advcgcnn.io import write_csv
from advcgcnn.logs import setup

log = setup(snakemake.log[0])
groups = find_adversarial(
    baseline_predictions=pd.read_csv(snakemake.input.baseline),
    sweep_predictions=pd.concat([pd.read_csv(p) for p in snakemake.input.sweep], ignore_index=True),
    sigma=snakemake.params.sigma,
    min_wrong=snakemake.params.min_wrong,
)
write_csv(snakemake.output.groups, groups)
write_csv(snakemake.output.examples, groups[groups["group"] == "adversarial"])
log.info("groups: %s", groups["group"].value_counts().to_dict())
