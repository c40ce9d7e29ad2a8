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

# The main job: the benchmark against the kernel's limit, ip -batch and pyroute2, then the
# Kata failure reproduced and explained.
demo: $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check pyroute2 || \
		echo "pyroute2 not installable here: its rows are skipped"
	$(BIN)/nlcore bench --quick
	$(BIN)/nlcore repro kata-11200 --ext-ack

lint: $(STAMP)
	$(BIN)/ruff check nlcore tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy --strict nlcore

unit: $(STAMP)
	NLCORE_REQUIRE_NATIVE=1 NLCORE_SLOW=1 $(BIN)/python -m pytest -q -ra

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[bench]'
	$(BIN)/python -m pytest -q bench

# The long run: 100,000 examples per property test, the sanitizer harnesses at full length.
fuzz: $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check atheris
	NLCORE_FUZZ_EXAMPLES=100000 NLCORE_REQUIRE_NATIVE=1 $(BIN)/python -m pytest -q -ra \
		tests/test_fuzz.py tests/test_decode.py tests/test_backend_equiv.py \
		tests/test_sock_fastpath.py tests/test_native_sanitizers.py tests/test_supervise_native.py

clean:
	rm -rf $(VENV) build *.egg-info nlcore/_native*.so nlcore/_native.c tests/_bin bench/_bin
