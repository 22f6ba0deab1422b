"""Ingest DFT labels: labels.csv, structures.h5, quarantine.csv, summary.json."""

from advcgcnn.ingest import run_ingest
from advcgcnn.logs import setup
from advcgcnn.parent import ParentSpec

setup(snakemake.log[0])
parent = ParentSpec.from_config(snakemake.params.parent)
run_ingest(
    source=snakemake.params.source,
    elements=snakemake.params.elements,
    host=parent.host,
    substituent=parent.substituent,
    label=snakemake.params.label,
    labels_out=snakemake.output.labels,
    structures_out=snakemake.output.structures,
    quarantine_out=snakemake.output.quarantine,
    summary_out=snakemake.output.summary,
)
