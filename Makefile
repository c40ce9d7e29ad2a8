# The two commands of a newcomer: `make demo` and `make test`. Both create .venv and install
# what they need on a fresh clone.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: all demo test lint typecheck unit bench fuzz native clean

all: test

$(STAMP): pyproject.toml setup.py nlcore/_build.py $(wildcard csrc/*.c csrc/*.h)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip setuptools wheel cffi
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	$(BIN)/python setup.py -q build_ext --inplace
	touch $@

native: $(STAMP)

demo: $(STAMP)
	$(BIN)/nlcore decode '[64, 0, 0, 0, 20, 0, 5, 5, 19, 0, 0, 0, 0, 0, 0, 0, 10, 64, 0, 0, 2, 0, 0, 0, 20, 0, 1, 0, 254, 128, 0, 0, 0, 0, 0, 0, 196, 76, 28, 255, 254, 132, 246, 183, 20, 0, 2, 0, 254, 128, 0, 0, 0, 0, 0, 0, 196, 76, 28, 255, 254, 132, 246, 183]' --errno 13

lint: $(STAMP)
	$(BIN)/ruff check nlcore tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict nlcore

unit: $(STAMP)
	NLCORE_REQUIRE_NATIVE=1 $(BIN)/python -m pytest -q -ra

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[bench]'
	$(BIN)/python -m pytest -q bench

fuzz: $(STAMP)
	NLCORE_FUZZ_EXAMPLES=100000 NLCORE_REQUIRE_NATIVE=1 $(BIN)/python -m pytest -q -ra -m fuzz tests

clean:
	rm -rf $(VENV) build *.egg-info nlcore/_native*.so nlcore/_native.c tests/_bin bench/_bin
