"""Enumerate the symmetry-distinct arrangements of the configured parent supercell."""

from advcgcnn.configspace import write_orbits
from advcgcnn.logs import setup
from advcgcnn.parent import ParentSpec

log = setup(snakemake.log[0])
write_orbits(path=snakemake.output.orbits, spec=ParentSpec.from_config(snakemake.params.parent), log=log.info)
