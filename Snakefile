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


# Seconds of work each: run by the main Snakemake process, never queued on the cluster.
localrules:
    all,
    folds,
    configspace,
    aggregate_baseline,
    aggregate_sweep,
    adversarial_examples,
    compare_adversarial,
    fragility_associations,
    compare_models,
    power_density,
    screening_rank,
    report_html,
    demo_plan,
    make_demo_dataset,


rule all:
    default_target: True
    input:
        rules.report_html.output.html,
        rules.aggregate_baseline.output.summary,
        rules.aggregate_sweep.output.curve,
        rules.compare_adversarial.output.comparison,
        rules.gradient_attack.output.attack,
        rules.configspace.output.orbits,
