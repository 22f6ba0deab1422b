"""The study's claims tested on this run's files, and the self-contained HTML report."""

from advcgcnn.logs import setup
from advcgcnn.report import run_report

log = setup(snakemake.log[0])
claims = run_report(
    files={name: snakemake.input[name] for name in snakemake.input.keys()},
    alpha=snakemake.params.alpha,
    unequal_atoms=snakemake.params.unequal_atoms,
    n_boot=snakemake.params.n_boot,
    seed=snakemake.params.seed,
    config=snakemake.config,
    workflow_dir=snakemake.params.workflow_dir,
    html_out=snakemake.output.html,
    claims_out=snakemake.output.claims,
)
for claim in claims:
    log.info("(%s) %s -> %s: %s", claim["id"], claim["text"], claim["verdict"], claim["statistic"])
