.PHONY: install check test run format

install:
	scripts/install.sh

check test:
	scripts/test

format:
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

run:
	scripts/install.sh && .venv/bin/oee up
