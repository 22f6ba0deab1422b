"""Accuracy and ROC-AUC against sigma, with the trend test and a plot."""

from advcgcnn.logs import setup
from advcgcnn.sweep import aggregate_curve

setup(snakemake.log[0])
aggregate_curve(
    metrics_paths=list(snakemake.input.metrics),
    alpha=snakemake.params.alpha,
    curve_out=snakemake.output.curve,
    trend_out=snakemake.output.trend,
    figure_out=snakemake.output.figure,
)
