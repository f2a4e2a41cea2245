# Two entry points on a fresh machine (Python 3.11 + pip): `make demo` and `make test`.
# Both create .venv once and reuse it; re-installing happens only when a requirements file changes.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export GLOG_v := 3

.PHONY: demo test venv clean-demo

venv: $(STAMP)

$(STAMP): requirements.txt requirements-data.txt requirements-test.txt
	test -x "$(PY)" || "$(PYTHON)" -m venv "$(VENV)"
	"$(PY)" -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-test.txt
	"$(PY)" -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-data.txt
	touch "$(STAMP)"

# The main job on the shipped sample, locally (grows with each stage of the chain).
demo: $(STAMP)
	"$(PY)" -m bert.demo --output outputs/demo

test: $(STAMP)
	"$(PY)" -m pytest -q tests

clean-demo:
	rm -rf outputs/demo
