# Two entry points on a fresh machine (Python 3.11 + pip): `make demo` and `make test`
# (`make test-quick`: the unit tier, no Slurm, a few minutes). All create .venv once, with the
# `bert` package installed editable, and reuse it; re-installing happens only when a requirements
# file or pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export GLOG_v := 3

.PHONY: demo test test-quick venv clean-demo

venv: $(STAMP)

$(STAMP): requirements.txt requirements-data.txt requirements-test.txt pyproject.toml
	test -x "$(PY)" || "$(PYTHON)" -m venv "$(VENV)"
	"$(PY)" -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-test.txt
	"$(PY)" -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-data.txt
	"$(PY)" -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch "$(STAMP)"

# The main job: the whole chain on the enwiki sample shipped in gensim's wheel, with submitit's
# local executor (data → 8k vocab → MindRecord → L2-H128 pretraining → SST-2-layout finetuning →
# distillation of the finetuned model into the pretrained checkpoint).
demo: $(STAMP)
	"$(PY)" jobs/submit_pipeline.py --cluster local --name demo --workdir outputs/demo \
	  --input "$$("$(PY)" -c 'from bert import assets; print(assets.enwiki_sample())')" --build-vocab 8000 --distill \
	  data.dupe_factor=2 pretrain.model.name=L2-H128 pretrain.total_steps=300 pretrain.save_steps=100 \
	  pretrain.optim.learning_rate=2e-4 pretrain.optim.warmup_steps=30 pretrain.log_interval=25 \
	  finetune.model.name=L2-H128 finetune.epochs=3 finetune.optim.learning_rate=5e-4 \
	  distill.model.name=L2-H128 distill.epochs=2 distill.optim.learning_rate=5e-4

test: $(STAMP)
	"$(PY)" -m pytest -q --durations=20 tests

# The unit tier: no Slurm, nothing that trains for more than a few seconds (markers in pyproject.toml).
test-quick: $(STAMP)
	"$(PY)" -m pytest -q --durations=10 -m "not slow and not slurm" tests

clean-demo:
	rm -rf outputs/demo
