"""Mean and spread of the (fold, seed) metrics; all held-out predictions in one table."""

from advcgcnn.logs import setup
from advcgcnn.training import aggregate

log = setup(snakemake.log[0])
summary = aggregate(
    metrics_paths=list(snakemake.input.metrics),
    predictions_paths=list(snakemake.input.predictions),
    summary_out=snakemake.output.summary,
    predictions_out=snakemake.output.predictions,
)
log.info("summary: %s", {k: v for k, v in summary.items() if isinstance(v, dict)})
