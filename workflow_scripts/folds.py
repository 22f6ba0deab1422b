"""Stratified K-fold assignment per seed, shared by every model that is compared."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

import pandas as pd

from advcgcnn.io import write_csv
from advcgcnn.logs import setup
from advcgcnn.train import stratified_folds

setup(snakemake.log[0])  # noqa: F821
labels = pd.read_csv(snakemake.input.labels)  # noqa: F821
write_csv(snakemake.output.folds, stratified_folds(labels, snakemake.params.folds, snakemake.params.seeds))  # noqa: F821
