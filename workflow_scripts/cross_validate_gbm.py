"""LightGBM on one feature set, cross-validated on the CGCNN folds, with TreeSHAP and partial dependence."""

import pandas as pd

from advcgcnn.interpret import feature_table, run_cross_validation
from advcgcnn.logs import setup

log = setup(snakemake.log[0])
tables = [pd.read_csv(path) for path in snakemake.input.tables]
ids = list(pd.read_csv(snakemake.input.labels)["id"])
names = snakemake.params.features or [c for c in tables[0].columns if c != "id"]
run_cross_validation(
    features=feature_table(tables=tables, names=names, ids=ids, source=", ".join(snakemake.input.tables)),
    labels_csv=snakemake.input.labels,
    folds_csv=snakemake.input.folds,
    seeds=snakemake.params.seeds,
    settings=snakemake.params.lightgbm,
    threads=snakemake.threads,
    outputs={name: snakemake.output[name] for name in snakemake.output.keys()},
    top_features=snakemake.params.top_features,
)
