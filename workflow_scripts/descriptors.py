"""Structural disorder descriptors of every ingested configuration."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

from advcgcnn.descriptors import describe_all
from advcgcnn.graphs import read_structures
from advcgcnn.io import write_csv
from advcgcnn.logs import setup

log = setup(snakemake.log[0])  # noqa: F821
p = snakemake.params  # noqa: F821
table = describe_all(
    read_structures(snakemake.input.structures),  # noqa: F821
    b_site=p.b_site,
    host=p.host,
    substituent=p.substituent,
    symprec=p.symprec,
    parent_grid=p.parent_grid,
)
write_csv(snakemake.output.descriptors, table)  # noqa: F821
log.info("descriptors of %d configurations", len(table))
