# Adversarial examples (random and gradient-based) and their structural comparison.


rule adversarial_examples:
    input:
        sweep=sweep_outputs("predictions.csv", modes=["train"]),
        null=null_outputs("predictions.csv"),
    output:
        examples=result("adversarial/examples.csv"),
        groups=result("adversarial/groups.csv"),
        null_control=result("adversarial/null_control.json"),
        counts=result("adversarial/counts_by_sigma.csv"),
    log:
        result("logs/adversarial/examples.log"),
    conda:
        "../envs/core.yaml"
    params:
        sigma=config["adversarial"]["sigma"],
        sigmas=PERTURB["sigmas"],
        seeds=PERTURB["seeds"],
        null_seeds=NULL_SEEDS,
        min_wrong=config["adversarial"]["min_wrong"],
        alpha=ALPHA,
    script:
        "../workflow_scripts/adversarial_examples.py"


rule gradient_attack:
    input:
        graphs=graph_shards,
        labels=rules.ingest.output.labels,
        folds=rules.folds.output.folds,
        models=baseline_models(TRAIN["seeds"][0]),
    output:
        attack=result("adversarial/gradient_attack.csv"),
        saliency=result("adversarial/saliency_atoms.csv"),
        by_element=result("adversarial/saliency_by_element.csv"),
    log:
        result("logs/adversarial/gradient_attack.log"),
    benchmark:
        result("benchmarks/adversarial/gradient_attack.tsv")
    conda:
        "../envs/train.yaml"
    threads: TRAIN["threads"]
    params:
        seed=TRAIN["seeds"][0],
        epsilons=config["adversarial"]["attack_epsilons"],
        steps=config["adversarial"]["attack_steps"],
        deterministic=TRAIN["deterministic"],
    script:
        "../workflow_scripts/gradient_attack.py"


rule fragility:
    input:
        graphs=graph_shards,
        labels=rules.ingest.output.labels,
        folds=rules.folds.output.folds,
        models=baseline_models(TRAIN["seeds"][0]),
    output:
        flips=result("adversarial/fragility_flips.csv"),
    log:
        result("logs/adversarial/fragility.log"),
    benchmark:
        result("benchmarks/adversarial/fragility.tsv")
    conda:
        "../envs/train.yaml"
    threads: TRAIN["threads"]
    params:
        seed=TRAIN["seeds"][0],
        sigmas=PERTURB["sigmas"],
        n_draws=config["adversarial"]["fragility_draws"],
        deterministic=TRAIN["deterministic"],
    script:
        "../workflow_scripts/fragility.py"


rule fragility_associations:
    input:
        flips=rules.fragility.output.flips,
        attack=rules.gradient_attack.output.attack,
        descriptors=rules.descriptors.output.descriptors,
        labels=rules.ingest.output.labels,
    output:
        table=result("adversarial/fragility.csv"),
    log:
        result("logs/adversarial/fragility_associations.log"),
    conda:
        "../envs/core.yaml"
    params:
        n_boot=config["interpret"]["bootstrap"],
        seed=config["interpret"]["seed"],
        alpha=ALPHA,
    script:
        "../workflow_scripts/fragility_associations.py"


rule compare_adversarial:
    input:
        descriptors=rules.descriptors.output.descriptors,
        groups=rules.adversarial_examples.output.groups,
    output:
        comparison=result("adversarial/comparison.csv"),
        figure=report(result("adversarial/comparison.png"), category="Adversarial examples"),
    log:
        result("logs/adversarial/compare.log"),
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/compare_adversarial.py"
