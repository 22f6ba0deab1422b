# One-command set-up: every target builds .venv with the pinned versions first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2

.PHONY: setup browser gpaw demo test test-fast lint dry-run demo-dataset bench clean slurm-profile

$(BIN)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU wheel of torch 2.13.0 lies on this machine kind's disk; install it first.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

setup: $(BIN)/.installed

## Debian's chromium, for the test that renders the HTML report (installed only as root).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium missing and not root: the report rendering test will be skipped (sudo make browser)"; fi

## Debian's GPAW and Open MPI for the system Python: the demo generator's PBE cross-check (installed only as root).
gpaw:
	@if /usr/bin/python3 -c "import gpaw" 2>/dev/null && command -v mpiexec >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gpaw openmpi-bin >/dev/null; \
	else echo "gpaw missing and not root: the PBE test will be skipped (sudo make gpaw)"; fi

## Run the whole default DAG on the embedded demo dataset.
demo: setup
	$(BIN)/snakemake --cores $(CORES)

## Every test, the end-to-end Snakemake runs included.
test: setup browser gpaw
	$(BIN)/python -m pytest -v

## Unit tests only (skips the end-to-end DAG runs marked slow).
test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

## Linters: Snakemake's own, snakefmt for the rule files, ruff for the Python (settings in pyproject.toml).
lint: setup
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile rules/
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

dry-run: setup
	$(BIN)/snakemake -n --quiet

## Regenerate the demo dataset (hours of CPU; chunks resume), then copy it into data/demo. Needs Debian gpaw (make gpaw).
demo-dataset: setup gpaw
	$(BIN)/snakemake make_demo_dataset --cores $(CORES) --rerun-triggers mtime --keep-going
	cp results/demo_dataset/cssnbr3-xix_demo.extxyz.gz results/demo_dataset/provenance.json data/demo/

clean:
	rm -rf results .snakemake

## Your named SLURM profile, from the site template (never overwrites an existing one):
## then `snakemake --profile slurm` from this folder. Edit the copy for your cluster.
SLURM_PROFILE := $(or $(XDG_CONFIG_HOME),$(HOME)/.config)/snakemake/slurm
slurm-profile:
	@if [ -e "$(SLURM_PROFILE)/config.yaml" ]; then \
		echo "$(SLURM_PROFILE)/config.yaml exists; compare it with profiles/slurm/config.yaml by hand"; \
	else \
		mkdir -p "$(SLURM_PROFILE)" && cp profiles/slurm/config.yaml "$(SLURM_PROFILE)/config.yaml" && \
		echo "installed $(SLURM_PROFILE)/config.yaml: set your partitions, QoS and account there"; \
	fi

## Benchmarks (bench/): each figure against its baseline measured in the same run.
bench: setup
	bench/run
