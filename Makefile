# Two commands (README): `make demo` sets up and runs the post-renderer on the bundled
# example; `make test` runs lint, types and the whole test suite (what CI runs).
VENV ?= .venv
BIN := $(VENV)/bin
EXAMPLE := testdata/examples

.PHONY: demo test e2e e2e-build argocd-image cluster-up cluster-down lint bench fuzz schemas catalogue docs clean slurm-chroot

demo: $(VENV)/.runtime
	$(BIN)/slinky explain --config $(EXAMPLE)/profiles.yaml $(EXAMPLE)/release.yaml

test: $(VENV)/.test lint slurm-chroot
	$(BIN)/python -m pytest

# The Slurm 26.05 chroot the real-Slurm tests run in (postrender/data/slurm-chroot.sh):
# built once into ~/.cache/slinky-pr/slurm, again only when its package list changes;
# a no-op when cached or when not root (those tests then skip, or fail under CI).
slurm-chroot:
	sh postrender/data/slurm-chroot.sh

# The end-to-end suite (tests/e2e): real Helm CLIs, kube-apiserver, operator, Slurm 26.05,
# the Argo CD sidecar image (README). Once per operator pin (tools/e2e/versions.env), each
# with that operator's chart.
e2e: $(VENV)/.test e2e-build slurm-chroot argocd-image
	rc=0; marker=e2e; for v in $$($(BIN)/python tools/e2e/devcluster.py versions); do \
	  echo "== e2e with slurm-operator $$v ($$marker)"; \
	  SLINKY_E2E_OPERATOR=$$v $(BIN)/python -m pytest -m "$$marker" tests/e2e || rc=1; \
	  marker="e2e and operator"; \
	done; exit $$rc

# Go-built stack at the pins of tools/e2e/versions.env, cached outside the repository
# (seconds when nothing changed). cluster-up prints a kubeconfig; cluster-down stops it.
e2e-build:
	tools/e2e/build.sh

# The Argo CD sidecar image as an OCI archive in build/, without a container engine
# (docs/argocd/README.md); as root, cached, a no-op (with a message) otherwise. The script
# builds the two Go tools it needs (helm3, umoci) itself.
argocd-image:
	tools/argocd/build-image.sh

cluster-up: $(VENV)/.test e2e-build
	$(BIN)/python tools/e2e/devcluster.py up

cluster-down: $(VENV)/.test
	$(BIN)/python tools/e2e/devcluster.py down

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The demo needs only the runtime dependencies; the tests add pytest, the Helm engine, linters.
$(VENV)/.runtime: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.test: $(VENV)/.runtime
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

schemas: $(VENV)/.test
	$(BIN)/python tools/crd2schema.py

catalogue: $(VENV)/.test
	$(BIN)/python tools/build_catalogue.py

# docs/profile-keys.md and docs/lint-rules.md, from the profile schema and the rule docstrings.
docs: $(VENV)/.test
	$(BIN)/python tools/gendocs.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

# The benchmark runs a regular (non-editable) install, as users and the Helm plugin get it.
bench:
	python3 -m venv bench/.venv
	bench/.venv/bin/pip install --quiet --disable-pip-version-check .
	bench/.venv/bin/python bench/bench.py --json bench/out/results.json

# Coverage-guided fuzzing of the stream reader, the profile loader and the fast YAML reader,
# FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60
fuzz: $(VENV)/.test
	$(BIN)/pip install --quiet --disable-pip-version-check atheris
	$(BIN)/python fuzz/fuzz_stream.py -max_total_time=$(FUZZ_SECONDS)
	$(BIN)/python fuzz/fuzz_profile.py -max_total_time=$(FUZZ_SECONDS)
	$(BIN)/python fuzz/fuzz_blockyaml.py -max_total_time=$(FUZZ_SECONDS)
