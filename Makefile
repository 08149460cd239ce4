# fw set-up and checks. Two commands for a fresh machine:
#   make demo   venv + torch (CPU) + core + every plugin that needs no compiled OpenMMLab stack,
#               then the main demo job
#   make test   everything (the OpenMMLab stack too: mmcv is built once, then reused), all tests
# Both are idempotent: stamps under .venv/.fw/ skip what is done; a changed setup.cfg redoes it.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
ST     := $(VENV)/.fw
PIP    := $(BIN)/pip --disable-pip-version-check
# Plugins built on mmdet/mmseg need mmcv's compiled ops (see tools/install_openmmlab.sh).
MM_PLUGINS   := damo_yolo semicd_vl
ALL_PLUGINS  := $(notdir $(patsubst %/setup.cfg,%,$(wildcard plugins/*/setup.cfg)))
PURE_PLUGINS := $(filter-out $(MM_PLUGINS),$(ALL_PLUGINS))
HAVE_MM      := $(filter $(MM_PLUGINS),$(ALL_PLUGINS))
# optional extras the tests exercise: damo_yolo's ONNX export is checked against PyTorch
MM_EXTRAS_damo_yolo := [onnx]
DEMO_PLUGIN  := $(if $(filter amcl,$(ALL_PLUGINS)),amcl,)
PYTEST_ARGS  ?=

.PHONY: demo test lint openmmlab setup setup-all clean-venv bench

demo: setup
ifeq ($(DEMO_PLUGIN),amcl)
	$(BIN)/fw train amcl amcl_simclr_mnist5k_taumin05
else
	rm -rf build/demo && $(BIN)/fw new-plugin demo --dir build/demo
	$(PIP) install --quiet --no-deps --no-build-isolation -e build/demo/fw-demo
	$(BIN)/fw train demo demo
endif

test: setup-all
	FW_STRICT_PLUGINS=$${FW_STRICT_PLUGINS:-1} $(BIN)/python -m pytest -m "not benchmark" \
	    tests $(wildcard plugins/*/tests) $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

setup: $(ST)/pure
setup-all: $(ST)/pure $(if $(HAVE_MM),$(ST)/mm-plugins)
openmmlab: $(ST)/openmmlab

$(ST)/venv:
	@echo "== creating $(VENV) with $(PYTHON) and torch==2.13.0 (the CPU wheel on this disk)"
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet "pip>=24" "setuptools>=61,<81" wheel ninja
	$(PIP) install --quiet torch==2.13.0
	mkdir -p $(ST) && touch $@

$(ST)/data: tools/fetch_wheels.sh $(ST)/venv
	tools/fetch_wheels.sh $(BIN)/pip
	$(PIP) install --quiet --no-deps $${FW_WHEEL_CACHE:-$$HOME/.cache/fw/wheels}/downloads/*.whl
	touch $@

$(ST)/core: setup.cfg $(ST)/venv
	$(PIP) install --quiet --no-build-isolation -e ".[llm,test]"
	touch $@

$(ST)/pure: $(ST)/core $(ST)/data $(foreach p,$(PURE_PLUGINS),plugins/$(p)/setup.cfg)
	$(if $(PURE_PLUGINS),$(PIP) install --quiet --no-build-isolation $(foreach p,$(PURE_PLUGINS),-e plugins/$(p)))
	touch $@

$(ST)/openmmlab: tools/install_openmmlab.sh $(ST)/core
	tools/install_openmmlab.sh $(VENV)
	touch $@

$(ST)/mm-plugins: $(ST)/openmmlab $(foreach p,$(HAVE_MM),plugins/$(p)/setup.cfg)
	$(PIP) install --quiet --no-build-isolation $(foreach p,$(HAVE_MM),-e 'plugins/$(p)$(MM_EXTRAS_$(p))')
	touch $@

bench: setup
	$(BIN)/python tools/bench/cli_startup.py

clean-venv:
	rm -rf $(VENV)
