# Two commands for a fresh machine:
#   make demo   install everything, fit the built-in camera image, write runs/demo
#   make test   install everything, run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: install demo test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# Pin the CPU build here first: a bare "torch" would pull a multi-GB CUDA build.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev,codec,shapes,medical,audio,video,view-test,log]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/inrkit fit camera --size 128 --steps 300 --out runs/demo --overwrite
	@echo "open runs/demo/report.html"

test: install
	# One worker process per core (pytest-xdist), each computing on one thread.
	$(PY) -m pytest -q -n auto

bench: install
	$(PY) benchmarks/arch_speed.py

clean:
	rm -rf $(VENV) runs .pytest_cache
