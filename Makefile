# soundcloud-sync — the two commands of the README are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export SOUNDCLOUD_SYNC_HOME ?= $(CURDIR)/.soundcloud_sync
export NUMBA_CACHE_DIR ?= $(SOUNDCLOUD_SYNC_HOME)/cache/numba

.PHONY: install run test dev lint bench clean

$(BIN)/soundcloud-sync: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --no-compile -e '.[test,scale]'
	@# pip compiles the environment one file at a time; compileall uses every core: a new
	@# install takes 35 s instead of 51. Its errors are ignored, as pip ignores them.
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib >/dev/null || true
	touch $@

install: $(BIN)/soundcloud-sync

# Sync a playlist end to end. With no credentials in the environment (or .env) and no
# PLAYLIST given, it runs offline against the bundled SoundCloud/Notion/Eagle emulators.
run: install
	$(BIN)/python -m soundcloud_sync_tests.demo $(PLAYLIST)

# The whole test suite; the 15 slowest tests are listed at the end, so a test that grows
# slow is seen. Three workers on two cores: the longest tests mostly wait (rate limits,
# daemons, servers) and run beside the others; conftest.py starts them first
# (LONGEST_FIRST), in its order. numba's kernels are compiled by the first analysis that
# needs them (under a file lock: the others wait, then load the cache) while the other
# workers go on, not before the suite starts (a minute on a new machine).
# Python keeps a module's compiled bytecode in __pycache__ for the next process unless
# PYTHONDONTWRITEBYTECODE is set (some machines' images set it); the suite starts hundreds
# of Python processes, and with it set each would compile the project's modules again.
test: export PYTHONDONTWRITEBYTECODE :=
test: install
	$(BIN)/pytest -n 3 --dist loadgroup --no-loadscope-reorder -q --durations=15

# The Dagster UI on the same instance the CLI uses.
dev: install
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/soundcloud-sync dev

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy soundcloud_sync

# Every benchmark at full size (their seconds-long `--quick` runs are part of `make test`).
bench: install
	$(BIN)/python bench/extraction.py
	$(BIN)/python bench/notion_sync.py
	$(BIN)/python bench/analysis.py
	$(BIN)/python bench/synth_styles.py
	$(BIN)/python bench/audio_pipeline.py
	$(BIN)/python bench/resync.py
	$(BIN)/python bench/soundcloud_listings.py
	$(BIN)/python bench/spotify.py
	$(BIN)/python bench/export.py
	$(BIN)/python bench/reanalysis.py
	$(BIN)/python bench/djay.py
	$(BIN)/python bench/download_requests.py
	$(BIN)/python bench/scale.py sensor
	$(BIN)/python bench/scale.py backfill --playlists 5 --tracks 200
	$(BIN)/python bench/run_cost.py
	$(BIN)/python bench/scale.py backfill --with-audio

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
	find soundcloud_sync soundcloud_sync_tests bench -name __pycache__ -prune -exec rm -rf {} +
