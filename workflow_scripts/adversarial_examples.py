"""Adversarial examples against the sigma = 0 reference, their count at every sigma and the null control."""

import pandas as pd

from advcgcnn.adversarial import counts_by_sigma, enrichment_over_null, find_adversarial
from advcgcnn.io import write_csv, write_json
from advcgcnn.logs import setup

log = setup(snakemake.log[0])
params = snakemake.params
predictions = pd.concat([pd.read_csv(p) for p in [*snakemake.input.sweep, *snakemake.input.null]], ignore_index=True)
rule = {"seeds": params.seeds, "null_seeds": params.null_seeds, "min_wrong": params.min_wrong}
groups = find_adversarial(sweep_predictions=predictions, sigma=params.sigma, **rule)
null_control = enrichment_over_null(
    adversarial=(groups["group"] == "adversarial").to_numpy(), null=groups["null_flip"].to_numpy(), alpha=params.alpha
)
write_csv(snakemake.output.groups, groups)
write_csv(snakemake.output.examples, groups[groups["group"] == "adversarial"])
write_json(snakemake.output.null_control, {"sigma": params.sigma, **rule, **null_control})
write_csv(
    snakemake.output.counts,
    counts_by_sigma(sweep_predictions=predictions, sigmas=[s for s in params.sigmas if s > 0], alpha=params.alpha, **rule),
)
log.info("groups: %s; null control: %s", groups["group"].value_counts().to_dict(), null_control)
