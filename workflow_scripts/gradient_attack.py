"""Smallest flipping displacements for the baseline models, and per-atom saliency."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

from advcgcnn.adversarial import run_gradient_attack, saliency_by_element
from advcgcnn.io import write_csv
from advcgcnn.logs import setup
from advcgcnn.sweep import fold_assignment
from advcgcnn.train import load_training_data, read_element_table

log = setup(snakemake.log[0])  # noqa: F821
p = snakemake.params  # noqa: F821
graphs, labels = load_training_data(list(snakemake.input.graphs), snakemake.input.labels)  # noqa: F821
folds = fold_assignment(snakemake.input.folds, p.seed, graphs.ids)  # noqa: F821
models = {k: path for k, path in enumerate(snakemake.input.models)}  # noqa: F821 (ordered by fold)
attack, saliency = run_gradient_attack(
    graphs, labels, folds, models, read_element_table(snakemake.input.graphs[0]), p.epsilons, p.steps, p.seed  # noqa: F821
)
write_csv(snakemake.output.attack, attack)  # noqa: F821
write_csv(snakemake.output.saliency, saliency)  # noqa: F821
write_csv(snakemake.output.by_element, saliency_by_element(saliency))  # noqa: F821
log.info("attacked %d, flipped %d", len(attack), int(attack["flip_norm"].notna().sum()))
