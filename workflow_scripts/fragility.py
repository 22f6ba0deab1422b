"""Flip probability of the baseline models under seeded random displacements, per configuration and sigma."""

from advcgcnn.folds import fold_assignment
from advcgcnn.fragility import flip_probabilities
from advcgcnn.inference import load_training_data, read_element_table, use_deterministic_algorithms
from advcgcnn.io import write_csv
from advcgcnn.logs import setup

log = setup(snakemake.log[0])
params = snakemake.params
use_deterministic_algorithms(params.deterministic)
graphs, _ = load_training_data(graph_paths=list(snakemake.input.graphs), labels_csv=snakemake.input.labels)
flips = flip_probabilities(
    graphs=graphs,
    folds=fold_assignment(folds=snakemake.input.folds, seed=params.seed, ids=graphs.ids),
    models=dict(enumerate(snakemake.input.models)),  # the input function lists them by fold
    element_table=read_element_table(snakemake.input.graphs[0]),
    sigmas=params.sigmas,
    n_draws=params.n_draws,
    seed=params.seed,
)
write_csv(snakemake.output.flips, flips)
log.info("mean flip probability by sigma: %s", flips.groupby("sigma")["flip_probability"].mean().to_dict())
