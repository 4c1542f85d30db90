# cardshield: set-up, test, lint and bench. `make test` works on a fresh Debian machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Debian packages the test suite and benchmarks use; installed when missing and running as root.
DEBIAN_PACKAGES := ripgrep softhsm2 espeak-ng sox multimon-ng libspandsp-dev gcc chromium \
	sphinxtrain sphinxbase-utils pocketsphinx

.PHONY: venv system-deps test lint bench demo speech-model clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = "0" ]; then \
			echo "installing Debian packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
		else \
			echo "missing Debian packages:$$missing (run 'sudo make system-deps')" >&2; exit 1; \
		fi; \
	fi

test: venv system-deps
	$(BIN)/pytest -n 2 --dist loadfile

lint: venv
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy

bench: venv system-deps
	@set -e; for b in bench/*_bench.py; do echo "== $$b"; $(BIN)/python $$b; done

demo: venv system-deps
	$(BIN)/cardshield demo

# Rebuild the shipped telephone-band speech model (about three minutes on two cores).
speech-model: venv system-deps
	$(BIN)/python tools/build_telephone_model.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
