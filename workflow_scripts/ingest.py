"""Merge the chunks, check, de-duplicate and label: labels.csv, structures.h5, quarantine.csv, summary.json."""

from advcgcnn.ingest import run_ingest
from advcgcnn.logs import setup
from advcgcnn.parent import ParentSpec

setup(snakemake.log[0])
chunks = [
    {"structures": s, "entries": e, "rejected": r}
    for s, e, r in zip(snakemake.input.structures, snakemake.input.entries, snakemake.input.rejected, strict=True)
]
run_ingest(
    chunks=chunks,
    source=snakemake.params.source,
    elements=snakemake.params.elements,
    parent=ParentSpec.from_config(snakemake.params.parent, elements=snakemake.params.elements),
    label=snakemake.params.label,
    labels_out=snakemake.output.labels,
    structures_out=snakemake.output.structures,
    quarantine_out=snakemake.output.quarantine,
    summary_out=snakemake.output.summary,
)
