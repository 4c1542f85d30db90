# cardshield: set-up, test, lint and bench. `make test` works on a fresh Debian machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Debian packages the test suite and benchmarks use (debian-packages.txt, with the versions the
# suite was verified with); installed when missing and running as root.
DEBIAN_PACKAGES := $(shell awk '$$1 ~ /^[a-z0-9]/ {print $$1}' debian-packages.txt)
AS_UID ?= $(shell id -u)

LOCK := requirements.lock
# One resolution for runtime, dev tools and the build backend, every file hash-pinned.
COMPILE := $(BIN)/pip-compile --quiet --extra dev --build-deps-for editable --generate-hashes \
	--allow-unsafe --strip-extras --no-emit-find-links --no-emit-index-url -o $(LOCK) pyproject.toml

.PHONY: venv system-deps system-versions check-lock lock upgrade audit test lint bench demo speech-model clean

# The venv holds exactly the lock: built anew whenever the lock or pyproject.toml changes, every
# file hash-checked, nothing resolved at install time (no deps, no build isolation: the build
# backend is locked too). Then the project itself, editable, and both checks that nothing drifted.
$(STAMP): $(LOCK) pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python tools/lockcheck.py pyproject
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	$(BIN)/python tools/lockcheck.py venv
	touch $(STAMP)

venv: $(STAMP)

# Fails with one line per package when pyproject.toml and the lock disagree, or the venv drifted.
check-lock: venv
	$(BIN)/python tools/lockcheck.py pyproject
	$(BIN)/python tools/lockcheck.py venv

# Re-resolve after editing pyproject.toml, keeping every pin that still fits; `make upgrade`
# moves everything to the newest releases. Review the diff of requirements.lock, then commit both.
lock:
	@test -x $(BIN)/pip-compile || { $(PYTHON) -m venv $(VENV) && \
		$(BIN)/pip install --quiet --require-hashes --no-deps -r $(LOCK); }
	$(COMPILE)

upgrade:
	@test -x $(BIN)/pip-compile || { $(PYTHON) -m venv $(VENV) && \
		$(BIN)/pip install --quiet --require-hashes --no-deps -r $(LOCK); }
	$(COMPILE) --upgrade

# Known vulnerabilities in the locked set (PyPI's advisory data): fails on one with a fixed release.
# AUDIT_PARTIAL_OK=1 lets a run pass whose packages could not all be audited (they are named).
audit: venv
	$(BIN)/python tools/dep_audit.py $(LOCK) $(if $(AUDIT_PARTIAL_OK),--partial-ok)

system-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$(AS_UID)" = "0" ]; then \
			echo "installing Debian packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
		else \
			echo "missing Debian packages:$$missing (run 'sudo make system-deps')" >&2; exit 1; \
		fi; \
	fi

# What this machine has beside what the suite was verified with.
system-versions:
	@awk '$$1 ~ /^[a-z0-9]/ {print $$1, $$2}' debian-packages.txt | while read -r p want; do \
		have=$$(dpkg-query -W -f='$${Version}' $$p 2>/dev/null || echo missing); \
		[ "$$have" = "$$want" ] && mark=same || mark=DIFFERS; \
		printf '%-18s verified %-28s here %-28s %s\n' $$p "$$want" "$$have" $$mark; \
	done

test: venv system-deps
	$(BIN)/pytest -n 2 --dist loadfile

lint: venv
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy
	@# Medium and high severity: each past result carries a reasoned nosec. The low-severity
	@# rules flag asserts (type narrowing), fixed-argv subprocess calls, key prefixes and
	@# retry jitter, and stay off.
	$(BIN)/bandit --quiet --recursive src --severity-level medium

bench: venv system-deps
	@set -e; for b in bench/*_bench.py; do echo "== $$b"; $(BIN)/python $$b; done

demo: venv system-deps
	$(BIN)/cardshield demo

# Rebuild the shipped telephone-band speech model (about three minutes on two cores).
speech-model: venv system-deps
	$(BIN)/python tools/build_telephone_model.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
