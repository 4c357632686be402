.PHONY: deps run test test-fast lint typecheck

deps:
	scripts/deps.sh

run: deps
	.venv/bin/monlyceepro up

test:
	scripts/test.sh

# The quick loop while coding: the whole suite less the end-to-end, chaos, fuzz and benchmark
# runs and the Chromium tests (markers in pyproject.toml). `make test` (and so CI) runs them all.
test-fast:
	scripts/test.sh -m "not slow and not browser and not chaos"

lint:
	.venv/bin/ruff check .

# mypy on shared/ and services/ (settings in pyproject.toml); scripts/test.sh runs it before pytest.
typecheck:
	.venv/bin/mypy
