"""Calibrate the gaps and write the demo dataset with its provenance."""

from advcgcnn import demo
from advcgcnn.labelling import Protocol
from advcgcnn.logs import setup
from advcgcnn.parent import ParentSpec

log = setup(snakemake.log[0])
demo.assemble(
    frame_paths=list(snakemake.input.frames),
    record_paths=list(snakemake.input.records),
    spec=ParentSpec.from_config(snakemake.params.parent),
    protocol=Protocol(**snakemake.params.protocol),
    settings=snakemake.params.settings,
    dataset_out=snakemake.output.dataset,
    provenance_out=snakemake.output.provenance,
    log=log.info,
)
