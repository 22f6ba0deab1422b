"""Train and score one (fold, seed) CGCNN; resumes from its checkpoint if restarted."""

from advcgcnn.inference import use_deterministic_algorithms
from advcgcnn.logs import setup
from advcgcnn.training import TrainSettings, run_fold

setup(snakemake.log[0])
use_deterministic_algorithms(snakemake.params.train["deterministic"])
run_fold(
    graph_paths=list(snakemake.input.graphs),
    labels_csv=snakemake.input.labels,
    folds_csv=snakemake.input.folds,
    fold=int(snakemake.wildcards.fold),
    seed=int(snakemake.wildcards.seed),
    # The scheduler's thread allocation wins over the config.
    settings=TrainSettings.from_config(train=snakemake.params.train, cutoff=snakemake.params.cutoff, threads=snakemake.threads),
    model_out=snakemake.output.model,
    metrics_out=snakemake.output.metrics,
    predictions_out=snakemake.output.predictions,
)
