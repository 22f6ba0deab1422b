"""Train and score one (fold, seed) CGCNN; resumes from its checkpoint if restarted."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

import dataclasses

from advcgcnn.logs import setup
from advcgcnn.train import TrainSettings, run_fold

setup(snakemake.log[0])  # noqa: F821
out = snakemake.output  # noqa: F821
run_fold(
    list(snakemake.input.graphs),  # noqa: F821
    snakemake.input.labels,  # noqa: F821
    snakemake.input.folds,  # noqa: F821
    int(snakemake.wildcards.fold),  # noqa: F821
    int(snakemake.wildcards.seed),  # noqa: F821
    dataclasses.replace(
        TrainSettings.from_config(snakemake.params.train, snakemake.params.cutoff),  # noqa: F821
        threads=snakemake.threads,  # noqa: F821 (the scheduler's allocation wins over the config)
    ),
    out.model,
    out.metrics,
    out.predictions,
)
