# Adversarial-CGCNN pipeline for mixed-halide perovskites: see README.md.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/ingest.smk"
include: "rules/graphs.smk"
include: "rules/train.smk"
include: "rules/perturb.smk"
include: "rules/descriptors.smk"
include: "rules/adversarial.smk"
include: "rules/configspace.smk"
include: "rules/interpret.smk"
include: "rules/screening.smk"
include: "rules/report.smk"
include: "rules/demo_dataset.smk"


rule all:
    default_target: True
    input:
        rules.report_html.output.html,
        rules.aggregate_baseline.output.summary,
        rules.aggregate_sweep.output.curve,
        rules.compare_adversarial.output.comparison,
        rules.gradient_attack.output.attack,
        rules.configspace.output.orbits,
