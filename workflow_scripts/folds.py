"""Stratified K-fold assignment per seed, shared by every model that is compared."""

import pandas as pd

from advcgcnn.folds import stratified_folds
from advcgcnn.io import write_csv
from advcgcnn.logs import setup

setup(snakemake.log[0])
folds = stratified_folds(labels=pd.read_csv(snakemake.input.labels), n_folds=snakemake.params.folds, seeds=snakemake.params.seeds)
write_csv(snakemake.output.folds, folds)
