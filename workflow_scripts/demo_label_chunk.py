"""Relax (CHGNet) and label (GFN1-xTB) one chunk of the demo dataset."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

from advcgcnn import demo
from advcgcnn.logs import setup

log = setup(snakemake.log[0])  # noqa: F821
demo.label_chunk_file(
    snakemake.input.plan,  # noqa: F821
    int(snakemake.wildcards.chunk),  # noqa: F821
    demo.Protocol(**snakemake.params.protocol),  # noqa: F821
    snakemake.output.frames,  # noqa: F821
    snakemake.output.records,  # noqa: F821
    log=log.info,
)
