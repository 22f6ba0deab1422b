"""General (not disorder-aware) composition and cell features of every ingested configuration."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

from advcgcnn.graphs import read_structures
from advcgcnn.interpret import general_features_all
from advcgcnn.io import write_csv
from advcgcnn.logs import setup

log = setup(snakemake.log[0])  # noqa: F821
table = general_features_all(read_structures(snakemake.input.structures))  # noqa: F821
write_csv(snakemake.output.features, table)  # noqa: F821
log.info("%d general features of %d configurations", table.shape[1] - 1, len(table))
