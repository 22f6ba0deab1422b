# Perturbation sweep: one job per (mode, sigma, seed), then the accuracy curve.


rule sweep_point:
    input:
        graphs=graph_shards,
        labels=rules.ingest.output.labels,
        folds=rules.folds.output.folds,
        models=sweep_models,
    output:
        metrics=result("perturb/{mode}/sigma{sigma}/seed{seed}/metrics.json"),
        predictions=result("perturb/{mode}/sigma{sigma}/seed{seed}/predictions.csv"),
    log:
        result("logs/perturb/{mode}_sigma{sigma}_seed{seed}.log"),
    benchmark:
        result("benchmarks/perturb/{mode}_sigma{sigma}_seed{seed}.tsv")
    wildcard_constraints:
        mode="train|evaluate",
        sigma=r"[0-9.e-]+",
        seed=r"\d+",
    conda:
        "../envs/train.yaml"
    threads: TRAIN["threads"]
    params:
        train=TRAIN | {"epochs": PERTURB["epochs"]},
        cutoff=config["graphs"]["cutoff"],
        split_seed=sweep_split_seed,
    script:
        "../workflow_scripts/sweep_point.py"


rule aggregate_sweep:
    input:
        metrics=sweep_outputs("metrics.json"),
    output:
        curve=result("perturb/curve.csv"),
        trend=result("perturb/trend.json"),
        figure=report(result("perturb/curve.png"), category="Perturbation"),
    log:
        result("logs/perturb/aggregate.log"),
    conda:
        "../envs/core.yaml"
    params:
        alpha=ALPHA,
    script:
        "../workflow_scripts/aggregate_sweep.py"
