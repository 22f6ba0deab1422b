"""Train and score a pack of (seed, fold) CGCNN models at once; each resumes from its checkpoint."""

from advcgcnn.inference import use_deterministic_algorithms
from advcgcnn.logs import setup
from advcgcnn.packed import run_pack
from advcgcnn.training import TrainSettings

setup(snakemake.log[0])
use_deterministic_algorithms(snakemake.params.train["deterministic"])
members = [tuple(m) for m in snakemake.params.members]
run_pack(
    graph_paths=list(snakemake.input.graphs),
    labels_csv=snakemake.input.labels,
    folds_csv=snakemake.input.folds,
    members=members,
    # The scheduler's thread allocation wins over the config.
    settings=TrainSettings.from_config(train=snakemake.params.train, cutoff=snakemake.params.cutoff, threads=snakemake.threads),
    outputs=[
        {"model": m, "metrics": x, "predictions": p}
        for m, x, p in zip(snakemake.output.models, snakemake.output.metrics, snakemake.output.predictions, strict=True)
    ],
)
