"""The study's claims tested on this run's files, and the self-contained HTML report."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (the package beside this folder)

from advcgcnn.logs import setup
from advcgcnn.report import run_report

log = setup(snakemake.log[0])  # noqa: F821
sm = snakemake  # noqa: F821
files = {name: sm.input[name] for name in sm.input.keys()}
claims = run_report(files, sm.output.html, sm.output.claims)
for claim in claims:
    log.info("(%s) %s -> %s: %s", claim["claim"], claim["text"], claim["verdict"], claim["statistic"])
