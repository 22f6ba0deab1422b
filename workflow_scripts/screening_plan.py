"""Unlabelled orbits to score: match labelled structures to orbits, sample the rest."""

from advcgcnn.io import write_csv, write_json
from advcgcnn.logs import setup
from advcgcnn.parent import ParentSpec
from advcgcnn.screening import plan

log = setup(snakemake.log[0])
candidates, summary = plan(
    orbits_csv=snakemake.input.orbits,
    structures_h5=snakemake.input.structures,
    labels_csv=snakemake.input.labels,
    spec=ParentSpec.from_config(snakemake.params.parent),
    max_candidates=snakemake.params.max_candidates,
    seed=snakemake.params.seed,
)
write_csv(snakemake.output.candidates, candidates)
write_json(snakemake.output.summary, summary)
