"""LightGBM on one feature set, cross-validated on the CGCNN folds, with TreeSHAP and partial dependence."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

import pandas as pd

from advcgcnn.interpret import feature_table, run_cross_validation
from advcgcnn.logs import setup

log = setup(snakemake.log[0])  # noqa: F821
sm = snakemake  # noqa: F821
tables = [pd.read_csv(path) for path in sm.input.tables]
ids = list(pd.read_csv(sm.input.labels)["id"])
names = sm.params.features or [c for c in tables[0].columns if c != "id"]
features = feature_table(tables, names, ids, source=", ".join(sm.input.tables))
run_cross_validation(
    features,
    sm.input.labels,
    sm.input.folds,
    sm.params.seeds,
    sm.params.lightgbm,
    sm.threads,
    {name: sm.output[name] for name in sm.output.keys()},
    top_features=sm.params.top_features,
)
