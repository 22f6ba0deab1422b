"""Structural disorder descriptors of every ingested configuration."""

from advcgcnn.descriptors import describe_all
from advcgcnn.graphs import read_structures
from advcgcnn.io import write_csv
from advcgcnn.logs import setup
from advcgcnn.parent import ParentSpec

log = setup(snakemake.log[0])
table = describe_all(
    read_structures(snakemake.input.structures),
    parent=ParentSpec.from_config(snakemake.params.parent),
    symprec=snakemake.params.symprec,
)
write_csv(snakemake.output.descriptors, table)
log.info("descriptors of %d configurations", len(table))
