"""One perturbation-sweep point: perturb, rebuild graphs, train or evaluate per fold."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

import dataclasses

from advcgcnn.logs import setup
from advcgcnn.sweep import run_point
from advcgcnn.train import TrainSettings

setup(snakemake.log[0])  # noqa: F821
w, p = snakemake.wildcards, snakemake.params  # noqa: F821
models = {k: path for k, path in enumerate(snakemake.input.models)}  # noqa: F821 (ordered by fold)
run_point(
    w.mode,
    float(w.sigma),
    int(w.seed),
    list(snakemake.input.graphs),  # noqa: F821
    snakemake.input.labels,  # noqa: F821
    snakemake.input.folds,  # noqa: F821
    dataclasses.replace(TrainSettings.from_config(p.train, p.cutoff), threads=snakemake.threads),  # noqa: F821
    models,
    snakemake.output.metrics,  # noqa: F821
    snakemake.output.predictions,  # noqa: F821
    split_seed=p.split_seed,
)
