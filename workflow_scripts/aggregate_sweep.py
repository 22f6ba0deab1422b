"""Accuracy and ROC-AUC against sigma, with the trend test and a plot."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

from advcgcnn.logs import setup
from advcgcnn.sweep import aggregate_curve

setup(snakemake.log[0])  # noqa: F821
out = snakemake.output  # noqa: F821
aggregate_curve(list(snakemake.input.metrics), out.curve, out.trend, out.figure)  # noqa: F821
