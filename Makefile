# Two entry points that work on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# Small matrices: one BLAS thread is as fast, and immune to a busy neighbour.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1

.PHONY: demo test lint bench crosscheck graphviz pictures clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev,examples]'
	touch $@

# System Graphviz renders SVG/PNG; DOT export works without it.
graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && apt-get install -y -qq graphviz >/dev/null) || echo "graphviz not installed; rendering tests skip"; \
	  else echo "no system graphviz (dot); rendering tests skip"; fi; }

demo: $(VENV)/.installed graphviz
	$(VENV)/bin/autograd-core demo

test: $(VENV)/.installed graphviz
	$(VENV)/bin/ruff check .
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(PY) -m pytest

# The README's pictures (docs/*.svg), drawn by the code as it is now.
pictures: $(VENV)/.installed graphviz
	PYTHONPATH=. $(PY) docs/make_pictures.py  # this checkout, whatever the venv has installed

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

# Competitors live in their own venv, never in .venv (torch pinned: a CPU build).
.bench-venv/.installed: pyproject.toml
	python3 -m venv .bench-venv
	.bench-venv/bin/pip install -q torch==2.13.0 autograd mygrad numpy scipy pyinstrument threadpoolctl graphviz
	.bench-venv/bin/pip install -q --no-deps -e .
	touch $@

bench: .bench-venv/.installed
	.bench-venv/bin/python benchmarks/run.py

# The optional cross-checks against PyTorch (skipped by `make test`, which never installs it).
crosscheck: $(VENV)/.installed .bench-venv/.installed
	PYTHONPATH=$$(ls -d .bench-venv/lib/python3*/site-packages) $(PY) -m pytest -q \
	  tests/test_activations.py tests/test_losses.py tests/test_conv.py \
	  tests/test_optim.py tests/test_lr_scheduler.py tests/test_gan.py \
	  tests/test_nn_layers.py tests/test_edges_against_torch.py

clean:
	rm -rf $(VENV) .bench-venv build *.egg-info

# The GPU check (issue 17): CuPy against numpy, training parity, sync and speed; under
# 5 minutes on one GPU. Uses .venv's python if there is one, else python3 (no install:
# the GPU machine may have no network); without CuPy or a GPU it says so and exits 0.
.PHONY: gpu-check
GPU_PY ?= $(shell test -x $(PY) && echo $(PY) || echo python3)
gpu-check:
	PYTHONPATH=. $(GPU_PY) benchmarks/gpu_check.py --device $${GPU_DEVICE:-cuda} --out $${GPU_REPORT:-gpu-check.md}
