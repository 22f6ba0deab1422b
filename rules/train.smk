# CGCNN baseline: one job per (fold, seed), then an aggregation.


rule train_baseline:
    input:
        graphs=graph_shards,
        labels=rules.ingest.output.labels,
        folds=rules.folds.output.folds,
    output:
        model=result("cgcnn/baseline/seed{seed}/fold{fold}/model.pt"),
        metrics=result("cgcnn/baseline/seed{seed}/fold{fold}/metrics.json"),
        predictions=result("cgcnn/baseline/seed{seed}/fold{fold}/predictions.csv"),
    log:
        result("logs/cgcnn/baseline/seed{seed}_fold{fold}.log"),
    benchmark:
        result("benchmarks/cgcnn/baseline/seed{seed}_fold{fold}.tsv")
    wildcard_constraints:
        seed=r"\d+",
        fold=r"\d+",
    conda:
        "../envs/train.yaml"
    threads: TRAIN["threads"]
    params:
        train=TRAIN,
        cutoff=config["graphs"]["cutoff"],
    script:
        "../workflow_scripts/train_fold.py"


rule aggregate_baseline:
    input:
        metrics=fold_seed_outputs("baseline", "metrics.json"),
        predictions=fold_seed_outputs("baseline", "predictions.csv"),
    output:
        summary=result("cgcnn/baseline/summary.json"),
        predictions=result("cgcnn/baseline/predictions.csv"),
    log:
        result("logs/cgcnn/baseline/aggregate.log"),
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/aggregate_cgcnn.py"
