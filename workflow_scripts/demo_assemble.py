"""Calibrate the gaps and write the demo dataset with its provenance (stability, protocols, PBE)."""

from advcgcnn import demo
from advcgcnn.logs import setup
from advcgcnn.parent import ParentSpec
from advcgcnn.relaxation import Protocol

log = setup(snakemake.log[0])
demo.assemble(
    frame_paths=list(snakemake.input.frames),
    record_paths=list(snakemake.input.records),
    stability_paths=list(snakemake.input.stability),
    pbe_paths=list(snakemake.input.pbe),
    spec=ParentSpec.from_config(snakemake.params.parent),
    protocol=Protocol(**snakemake.params.protocol),
    settings=snakemake.params.settings,
    dataset_out=snakemake.output.dataset,
    provenance_out=snakemake.output.provenance,
    log=log.info,
)
