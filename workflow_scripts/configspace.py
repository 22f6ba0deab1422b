"""Enumerate the symmetry-distinct arrangements of the configured supercell."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

from advcgcnn import configspace
from advcgcnn.logs import setup

log = setup(snakemake.log[0])  # noqa: F821 (injected by Snakemake)
configspace.write_orbits(snakemake.output.orbits, **snakemake.params.parent, log=log.info)  # noqa: F821
