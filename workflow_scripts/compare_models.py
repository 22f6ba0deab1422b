"""Every classifier on identical folds: one table with paired tests against the interpretable model."""

import pandas as pd

from advcgcnn.compare import compare_models, sweep_predictions
from advcgcnn.io import write_csv
from advcgcnn.logs import setup

log = setup(snakemake.log[0])
gbm = dict(zip(snakemake.params.gbm_models, snakemake.input.gbm))
models = {
    "cgcnn_baseline": ("CGCNN baseline", pd.read_csv(snakemake.input.cgcnn_baseline)),
    "cgcnn_perturbed": (
        f"CGCNN trained and tested on inputs perturbed at sigma = {snakemake.params.sigma} A",
        sweep_predictions(list(snakemake.input.cgcnn_perturbed)),
    ),
    "gbc_general": ("LightGBM on general composition and cell features", pd.read_csv(gbm["gbc_general"])),
    "interpretable": ("LightGBM on disorder descriptors and x (interpretable)", pd.read_csv(gbm["interpretable"])),
}
table = compare_models(models=models, folds=pd.read_csv(snakemake.input.folds), reference="interpretable")
write_csv(snakemake.output.comparison, table)
log.info("\n%s", table.to_string())
