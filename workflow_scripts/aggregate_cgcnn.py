"""Mean and spread of the (fold, seed) metrics; all held-out predictions in one table."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

from advcgcnn.logs import setup
from advcgcnn.train import aggregate

log = setup(snakemake.log[0])  # noqa: F821
summary = aggregate(
    list(snakemake.input.metrics),  # noqa: F821
    list(snakemake.input.predictions),  # noqa: F821
    snakemake.output.summary,  # noqa: F821
    snakemake.output.predictions,  # noqa: F821
)
log.info("summary: %s", {k: v for k, v in summary.items() if isinstance(v, dict)})
