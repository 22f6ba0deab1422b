# Config validation, result paths and input functions shared by every stage.
# The advcgcnn package is installed into the environment (`make setup`: pip install -e .;
# with --use-conda, envs/*.post-deploy.sh installs it into each rule environment).
from pathlib import Path

from snakemake.utils import validate

from advcgcnn.demo import label_chunks
from advcgcnn.ingest import n_chunks
from advcgcnn.sources import count_configurations
from advcgcnn.parent import ParentSpec

validate(config, "../schemas/config.schema.yaml", set_default=True)
# The parent crystal every stage reads; an inconsistent section stops here, naming its key.
PARENT = ParentSpec.from_config(config["parent"], elements=config["elements"])

RESULTS = config["results"]
TRAIN = config["train"]
ALPHA = config["verdicts"]["alpha"]
# Ingestion chunks and graph shards are sized from the source's configuration count, known
# before ingestion (a broken file counts as one configuration; its chunk job reports it).
N_INGEST_CHUNKS = n_chunks(config["source"])
N_GRAPH_SHARDS = max(1, -(-count_configurations(config["source"]) // config["graphs"]["shard_size"]))


def result(path):
    """A path under the configured results folder."""
    return f"{RESULTS}/{path}"


def label_provenance(wildcards=None):
    """How an extxyz source's labels were made (provenance.json beside it, as the demo ships), when present."""
    source = Path(config["source"]["path"])
    provenance = source.parent / "provenance.json"
    if config["source"]["kind"] == "extxyz" and provenance.is_file():
        return {"label_provenance": str(provenance)}
    return {}


def ingest_chunks(wildcards=None):
    """Files of every ingestion chunk job, by kind."""
    files = {
        "structures": "dataset/chunks/chunk_{chunk}.h5",
        "entries": "dataset/chunks/chunk_{chunk}.entries.csv",
        "rejected": "dataset/chunks/chunk_{chunk}.rejected.csv",
    }
    return {kind: expand(result(path), chunk=range(N_INGEST_CHUNKS)) for kind, path in files.items()}


def graph_shards(wildcards=None):
    return expand(result("graphs/shard_{shard}.h5"), shard=range(N_GRAPH_SHARDS))


def fold_seed_outputs(kind, name):
    """One file of every (fold, seed) job of a training family."""
    return expand(
        result(f"cgcnn/{kind}/seed{{seed}}/fold{{fold}}/{name}"),
        seed=TRAIN["seeds"],
        fold=range(TRAIN["folds"]),
    )


def baseline_packs():
    """The baseline's (seed, fold) models dealt into packs of train.models_per_job."""
    members = [(seed, fold) for seed in TRAIN["seeds"] for fold in range(TRAIN["folds"])]
    size = TRAIN["models_per_job"]
    return [members[i : i + size] for i in range(0, len(members), size)]


def baseline_member_files(members, name):
    return [result(f"cgcnn/baseline/seed{seed}/fold{fold}/{name}") for seed, fold in members]


PERTURB = config["perturb"]
SIGMAS = [f"{s:g}" for s in PERTURB["sigmas"]]
ADV_SIGMA = f"{config['adversarial']['sigma']:g}"
if ADV_SIGMA not in SIGMAS or "train" not in PERTURB["modes"]:
    raise ValueError(
        f"config: adversarial.sigma={ADV_SIGMA} must be one of perturb.sigmas {SIGMAS}, and perturb.modes must include 'train'"
    )


def baseline_seed(seed):
    """Baseline models scored in evaluate mode: same seed if it was trained, else the first."""
    return seed if seed in TRAIN["seeds"] else TRAIN["seeds"][0]


def baseline_models(seed):
    return expand(result("cgcnn/baseline/seed{seed}/fold{fold}/model.pt"), seed=seed, fold=range(TRAIN["folds"]))


def sweep_models(wildcards):
    if wildcards.mode != "evaluate":
        return []
    return baseline_models(baseline_seed(int(wildcards.seed)))


NULL_SEEDS = config["adversarial"]["null_seeds"]
if len(NULL_SEEDS) != len(PERTURB["seeds"]) or set(NULL_SEEDS) & set(PERTURB["seeds"]) or 0 not in PERTURB["sigmas"]:
    raise ValueError(
        f"config: adversarial.null_seeds {NULL_SEEDS} must be as many as, and disjoint from, perturb.seeds "
        f"{PERTURB['seeds']}, and perturb.sigmas must include 0 (the reference classifiers)"
    )


def sweep_split_seed(wildcards):
    """Fold split of a sweep point: the baseline's own split when scoring baseline models; a null
    seed trains on the split of the perturb seed it stands beside (only the initialisation differs)."""
    seed = int(wildcards.seed)
    if wildcards.mode == "evaluate":
        return baseline_seed(seed)
    return PERTURB["seeds"][NULL_SEEDS.index(seed)] if seed in NULL_SEEDS else seed


def null_outputs(name):
    """Files of the null-control classifiers: train mode at sigma 0, seeds disjoint from the sweep's."""
    return expand(result("perturb/train/sigma0/seed{seed}/{name}"), seed=NULL_SEEDS, name=name)


def sweep_outputs(name, modes=None, sigmas=None):
    return expand(
        result("perturb/{mode}/sigma{sigma}/seed{seed}/{name}"),
        mode=modes or PERTURB["modes"],
        sigma=sigmas or SIGMAS,
        seed=PERTURB["seeds"],
        name=name,
    )


GBM_MODELS = ["interpretable", "gbc_general"]


def gbm_feature_tables(wildcards):
    """Tables the feature columns of one gradient-boosting model come from."""
    if wildcards.model == "interpretable":
        return [rules.descriptors.output.descriptors, rules.ingest.output.labels]
    return [rules.general_features.output.features]


def scorer_inputs(wildcards):
    """Models and tables a screening job scores candidates with."""
    return {
        "graphs": graph_shards(),
        "cgcnn_models": fold_seed_outputs("baseline", "model.pt"),
        "interpretable_models": result("interpret/interpretable/models.json"),
        "descriptors": rules.descriptors.output.descriptors,
        "labels": rules.ingest.output.labels,
    }
