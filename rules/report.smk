# The report a scientist opens after a run: results/report/report.html.


rule report_html:
    input:
        unpack(label_provenance),
        dataset_summary=rules.ingest.output.summary,
        labels=rules.ingest.output.labels,
        quarantine=rules.ingest.output.quarantine,
        baseline_summary=rules.aggregate_baseline.output.summary,
        baseline_predictions=rules.aggregate_baseline.output.predictions,
        trend=rules.aggregate_sweep.output.trend,
        sweep_figure=rules.aggregate_sweep.output.figure,
        adversarial_comparison=rules.compare_adversarial.output.comparison,
        adversarial_figure=rules.compare_adversarial.output.figure,
        null_control=rules.adversarial_examples.output.null_control,
        adversarial_counts=rules.adversarial_examples.output.counts,
        fragility=rules.fragility_associations.output.table,
        gradient_attack=rules.gradient_attack.output.attack,
        descriptors=rules.descriptors.output.descriptors,
        model_comparison=rules.compare_models.output.comparison,
        importance=result("interpret/interpretable/importance.csv"),
        run_ranks=result("interpret/interpretable/run_ranks.csv"),
        shap_figure=result("interpret/interpretable/shap_summary.png"),
        pd_figure=result("interpret/interpretable/partial_dependence.png"),
        power_density=rules.power_density.output.table,
        power_figure=rules.power_density.output.figure,
        screening_ranked=rules.screening_rank.output.ranked,
        screening_next_round=rules.screening_next_round.output.table,
        screening_summary=rules.screening_plan.output.summary,
    output:
        html=report(result("report/report.html"), category="Report", caption="../report/report.rst"),
        claims=result("report/claims.json"),
    log:
        result("logs/report.log"),
    conda:
        "../envs/core.yaml"
    params:
        alpha=ALPHA,
        unequal_atoms=config["verdicts"]["unequal_atoms"],
        n_boot=config["interpret"]["bootstrap"],
        seed=config["interpret"]["seed"],
        workflow_dir=workflow.basedir,
    script:
        "../workflow_scripts/report.py"
