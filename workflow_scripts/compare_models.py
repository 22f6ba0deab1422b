"""Every classifier on identical folds: one table with paired tests against the interpretable model."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

import pandas as pd

from advcgcnn.compare import compare_models, sweep_predictions
from advcgcnn.io import write_csv
from advcgcnn.logs import setup

log = setup(snakemake.log[0])  # noqa: F821
sm = snakemake  # noqa: F821
gbm = dict(zip(sm.params.gbm_models, sm.input.gbm))
models = {
    "cgcnn_baseline": ("CGCNN baseline", pd.read_csv(sm.input.cgcnn_baseline)),
    "cgcnn_perturbed": (
        f"CGCNN trained and tested on inputs perturbed at sigma = {sm.params.sigma} A",
        sweep_predictions(list(sm.input.cgcnn_perturbed)),
    ),
    "gbc_general": ("LightGBM on general composition and cell features", pd.read_csv(gbm["gbc_general"])),
    "interpretable": ("LightGBM on disorder descriptors and x (interpretable)", pd.read_csv(gbm["interpretable"])),
}
table = compare_models(models, pd.read_csv(sm.input.folds), reference="interpretable")
write_csv(sm.output.comparison, table)
log.info("\n%s", table.to_string())
