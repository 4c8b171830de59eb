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

# The whole production shape through 7 simulated days on PostgreSQL (docs/reliability.md); make test
# runs its 2-day form (tests/soak/test_soak.py).
TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
soak: $(STAMP)
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python tests/soak/run.py --days 7

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
