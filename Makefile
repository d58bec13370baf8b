# agentdeck — two entry points: `make run` (try it) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test bench dist deb dist-test clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[test]'
	touch $@

run: $(VENV)/.installed
	sh scripts/system-deps.sh
	$(VENV)/bin/agentdeck --demo

test: $(VENV)/.installed
	sh scripts/system-deps.sh --test
	sh scripts/ensure-docker.sh
	sh scripts/install-agent-clis.sh
	sh scripts/build-agent-image.sh $(VENV)/bin/agentdeck
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -p no:cacheprovider -p no:pytest-qt -p tests.without_qt tests/engine tests/faults
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -p no:cacheprovider --ignore=tests/engine --ignore=tests/faults

# The frozen build and its .deb (packaging/); not part of `make test` (minutes).
$(VENV)/.installed-dist: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[dist]'
	touch $@

dist: $(VENV)/.installed-dist
	sh scripts/system-deps.sh
	sh packaging/build-dist.sh $(PY)

deb: dist
	sh scripts/system-deps.sh --dist
	sh packaging/build-deb.sh

dist-test: deb
	sh scripts/ensure-docker.sh
	sh packaging/dist-test.sh

bench: $(VENV)/.installed
	for b in benchmarks/*.py; do QT_QPA_PLATFORM=offscreen $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info
