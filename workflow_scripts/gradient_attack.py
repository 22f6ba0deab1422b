"""Smallest flipping displacements for the baseline models, and per-atom saliency."""

from advcgcnn.adversarial import run_gradient_attack, saliency_by_element
from advcgcnn.folds import fold_assignment
from advcgcnn.inference import load_training_data, read_element_table, use_deterministic_algorithms
from advcgcnn.io import write_csv
from advcgcnn.logs import setup

log = setup(snakemake.log[0])
params = snakemake.params
use_deterministic_algorithms(params.deterministic)
graphs, labels = load_training_data(graph_paths=list(snakemake.input.graphs), labels_csv=snakemake.input.labels)
attack, saliency = run_gradient_attack(
    graphs=graphs,
    labels=labels,
    folds=fold_assignment(folds=snakemake.input.folds, seed=params.seed, ids=graphs.ids),
    models=dict(enumerate(snakemake.input.models)),  # the input function lists them by fold
    element_table=read_element_table(snakemake.input.graphs[0]),
    epsilons=params.epsilons,
    steps=params.steps,
    seed=params.seed,
)
write_csv(snakemake.output.attack, attack)
write_csv(snakemake.output.saliency, saliency)
write_csv(snakemake.output.by_element, saliency_by_element(saliency))
log.info("attacked %d, flipped %d", len(attack), int(attack["flip_norm"].notna().sum()))
