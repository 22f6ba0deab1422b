# Interpretable model and general-feature baseline on the CGCNN folds, the
# model comparison, and power density against disorder.


rule general_features:
    input:
        structures=rules.ingest.output.structures,
    output:
        features=result("interpret/general_features.csv"),
    log:
        result("logs/interpret/general_features.log"),
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/general_features.py"


rule cross_validate_gbm:
    input:
        tables=gbm_feature_tables,
        labels=rules.ingest.output.labels,
        folds=rules.folds.output.folds,
    output:
        predictions=result("interpret/{model}/predictions.csv"),
        contributions=result("interpret/{model}/contributions.csv"),
        importance=result("interpret/{model}/importance.csv"),
        run_ranks=result("interpret/{model}/run_ranks.csv"),
        summary=result("interpret/{model}/summary.json"),
        models=result("interpret/{model}/models.json"),
        partial_dependence=result("interpret/{model}/partial_dependence.csv"),
        shap_figure=report(
            result("interpret/{model}/shap_summary.png"),
            category="Interpretable model",
            labels={"model": "{model}", "figure": "TreeSHAP summary"},
        ),
        pd_figure=report(
            result("interpret/{model}/partial_dependence.png"),
            category="Interpretable model",
            labels={"model": "{model}", "figure": "partial dependence"},
        ),
    log:
        result("logs/interpret/{model}.log"),
    benchmark:
        result("benchmarks/interpret/{model}.tsv")
    wildcard_constraints:
        model="|".join(GBM_MODELS),
    conda:
        "../envs/core.yaml"
    threads: TRAIN["threads"]
    params:
        features=lambda wildcards: config["interpret"]["features"] if wildcards.model == "interpretable" else None,
        seeds=TRAIN["seeds"],
        lightgbm=config["interpret"]["lightgbm"],
        top_features=config["interpret"]["top_features"],
    script:
        "../workflow_scripts/cross_validate_gbm.py"


rule compare_models:
    input:
        folds=rules.folds.output.folds,
        cgcnn_baseline=rules.aggregate_baseline.output.predictions,
        cgcnn_perturbed=sweep_outputs("predictions.csv", modes=["train"], sigmas=[ADV_SIGMA]),
        gbm=expand(result("interpret/{model}/predictions.csv"), model=GBM_MODELS),
    output:
        comparison=result("interpret/comparison.csv"),
    log:
        result("logs/interpret/compare_models.log"),
    conda:
        "../envs/core.yaml"
    params:
        sigma=ADV_SIGMA,
        gbm_models=GBM_MODELS,
    script:
        "../workflow_scripts/compare_models.py"


rule power_density:
    input:
        labels=rules.ingest.output.labels,
        descriptors=rules.descriptors.output.descriptors,
    output:
        table=result("interpret/power_density_vs_disorder.csv"),
        figure=report(result("interpret/power_density_vs_disorder.png"), category="Power density"),
    log:
        result("logs/interpret/power_density.log"),
    conda:
        "../envs/core.yaml"
    params:
        n_boot=config["interpret"]["bootstrap"],
        seed=config["interpret"]["seed"],
        alpha=ALPHA,
    script:
        "../workflow_scripts/power_density.py"
