# Adversarial examples (random and gradient-based) and their structural comparison.


rule adversarial_examples:
    input:
        baseline=rules.aggregate_baseline.output.predictions,
        sweep=sweep_outputs("predictions.csv", modes=["train"], sigmas=[ADV_SIGMA]),
    output:
        examples=result("adversarial/examples.csv"),
        groups=result("adversarial/groups.csv"),
    log:
        result("logs/adversarial/examples.log"),
    conda:
        "../envs/core.yaml"
    params:
        sigma=config["adversarial"]["sigma"],
        min_wrong=config["adversarial"]["min_wrong"],
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
