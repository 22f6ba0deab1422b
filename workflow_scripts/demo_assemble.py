"""Calibrate the gaps and write the demo dataset with its provenance."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

from advcgcnn import demo
from advcgcnn.logs import setup

log = setup(snakemake.log[0])  # noqa: F821
demo.assemble(
    snakemake.input.frames,  # noqa: F821
    snakemake.input.records,  # noqa: F821
    demo.Protocol(**snakemake.params.protocol),  # noqa: F821
    snakemake.params.settings,  # noqa: F821
    snakemake.output.dataset,  # noqa: F821
    snakemake.output.provenance,  # noqa: F821
    log=log.info,
)
