"""General (not disorder-aware) composition and cell features of every ingested configuration."""

from advcgcnn.graphs import read_structures
from advcgcnn.interpret import general_features_all
from advcgcnn.io import write_csv
from advcgcnn.logs import setup

log = setup(snakemake.log[0])
table = general_features_all(read_structures(snakemake.input.structures))
write_csv(snakemake.output.features, table)
log.info("%d general features of %d configurations", table.shape[1] - 1, len(table))
