.PHONY: deps run test lint

deps:
	scripts/deps.sh

run: deps
	.venv/bin/monlyceepro up

test:
	scripts/test.sh

lint:
	.venv/bin/ruff check .
