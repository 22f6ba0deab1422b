"""One perturbation-sweep point: perturb, rebuild graphs, train or evaluate per fold."""

from advcgcnn.inference import use_deterministic_algorithms
from advcgcnn.logs import setup
from advcgcnn.sweep import run_point
from advcgcnn.training import TrainSettings

setup(snakemake.log[0])
use_deterministic_algorithms(snakemake.params.train["deterministic"])
run_point(
    mode=snakemake.wildcards.mode,
    sigma=float(snakemake.wildcards.sigma),
    seed=int(snakemake.wildcards.seed),
    split_seed=snakemake.params.split_seed,
    graph_paths=list(snakemake.input.graphs),
    labels_csv=snakemake.input.labels,
    folds_csv=snakemake.input.folds,
    # The scheduler's thread allocation wins over the config.
    settings=TrainSettings.from_config(train=snakemake.params.train, cutoff=snakemake.params.cutoff, threads=snakemake.threads),
    baseline_models=dict(enumerate(snakemake.input.models)),  # evaluate mode: one model per fold, in fold order
    metrics_out=snakemake.output.metrics,
    predictions_out=snakemake.output.predictions,
    models_per_job=snakemake.params.train["models_per_job"],
)
