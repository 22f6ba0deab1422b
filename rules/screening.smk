# Screening of enumerated but unlabelled arrangements with both model families.

SCREENING = config["screening"]
PARENT = {
    "b_site": config["descriptors"]["b_site"],
    "host": config["mixing"]["host"],
    "substituent": config["mixing"]["substituent"],
}


rule screening_plan:
    input:
        orbits=rules.configspace.output.orbits,
        structures=rules.ingest.output.structures,
        labels=rules.ingest.output.labels,
    output:
        candidates=result("screening/candidates.csv"),
        summary=result("screening/summary.json"),
    params:
        parent=PARENT,
        parent_grid=config["descriptors"]["parent_grid"],
        max_candidates=SCREENING["max_candidates"],
        seed=SCREENING["seed"],
    log:
        result("logs/screening/plan.log"),
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/screening_plan.py"


rule screening_score:
    input:
        candidates=rules.screening_plan.output.candidates,
        summary=rules.screening_plan.output.summary,
        graphs=graph_shards,
        cgcnn_models=fold_seed_outputs("baseline", "model.pt"),
        interpretable_models=result("interpret/interpretable/models.json"),
        descriptors=rules.descriptors.output.descriptors,
        labels=rules.ingest.output.labels,
    output:
        scores=result("screening/chunks/scores_{chunk}.csv"),
    params:
        n_chunks=SCREENING["n_chunks"],
        parent=PARENT,
        graphs=config["graphs"],
        descriptors={
            "b_site": config["descriptors"]["b_site"],
            "host": config["mixing"]["host"],
            "substituent": config["mixing"]["substituent"],
            "symprec": config["descriptors"]["symprec"],
            "parent_grid": config["descriptors"]["parent_grid"],
        },
    wildcard_constraints:
        chunk=r"\d+",
    threads: TRAIN["threads"]
    log:
        result("logs/screening/score_{chunk}.log"),
    benchmark:
        result("benchmarks/screening/score_{chunk}.tsv")
    conda:
        "../envs/train.yaml"
    script:
        "../workflow_scripts/screening_score.py"


rule screening_rank:
    input:
        scores=expand(result("screening/chunks/scores_{chunk}.csv"), chunk=range(SCREENING["n_chunks"])),
        summary=rules.screening_plan.output.summary,
    output:
        ranked=result("screening/ranked.csv"),
        poscars=directory(result("screening/uncertain_poscars")),
    params:
        n_export=SCREENING["n_export"],
        parent=PARENT,
    log:
        result("logs/screening/rank.log"),
    conda:
        "../envs/core.yaml"
    script:
        "../workflow_scripts/screening_rank.py"
