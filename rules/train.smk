# CGCNN baseline: one job per (fold, seed), then an aggregation.


if TRAIN["models_per_job"] == 1:

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

else:
    # train.models_per_job > 1: one job trains a pack of (seed, fold) models at once (advcgcnn.packed)
    # and writes each model's files where its own job would, so nothing downstream changes.
    # Resources sit in the rule: the workflow profile addresses rules by name, and these are numbered.
    for pack, members in enumerate(baseline_packs()):

        rule:
            name:
                f"train_baseline_pack{pack}"
            input:
                graphs=graph_shards,
                labels=rules.ingest.output.labels,
                folds=rules.folds.output.folds,
            output:
                models=baseline_member_files(members, "model.pt"),
                metrics=baseline_member_files(members, "metrics.json"),
                predictions=baseline_member_files(members, "predictions.csv"),
            log:
                result(f"logs/cgcnn/baseline/pack{pack}.log"),
            benchmark:
                result(f"benchmarks/cgcnn/baseline/pack{pack}.tsv")
            conda:
                "../envs/train.yaml"
            threads: TRAIN["threads"]
            resources:
                gres="gpu:1",
                mem_mb=3000,
                runtime=240,
            params:
                members=members,
                train=TRAIN,
                cutoff=config["graphs"]["cutoff"],
            script:
                "../workflow_scripts/train_pack.py"


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
