"""Ingest DFT labels: labels.csv, structures.h5, quarantine.csv, summary.json."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

from advcgcnn.ingest import run_ingest
from advcgcnn.logs import setup

setup(snakemake.log[0])  # noqa: F821 (injected by Snakemake)
p, out = snakemake.params, snakemake.output  # noqa: F821
run_ingest(p.source, p.elements, p.mixing, p.label, out.labels, out.structures, out.quarantine, out.summary)
