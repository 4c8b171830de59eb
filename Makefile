# The two commands a new user needs: `make run` and `make test`. Each creates .venv when it is
# missing and installs the project with its dev extras; nothing is installed by hand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test bench soak clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/bookings-ledger demo

test: $(STAMP)
	$(BIN)/python -m pytest

# The whole production shape through 7 simulated days on PostgreSQL (docs/reliability.md); its 2-day
# form is tests/soak/test_soak.py, part of make test (`pytest -m soak tests/soak` runs it alone).
TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
soak: $(STAMP)
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python tests/soak/run.py --days 7

# Every benchmark in bench/, one after another, then one table of every figure (11 minutes on a
# quiet 2-core machine, 30 or more on a shared one); the table is also written to var/bench/performance.md,
# which docs/performance.md keeps.
bench: $(STAMP)
	$(BIN)/python bench/support/run_all.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
