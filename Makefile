# The two commands of the README: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format uv

uv:
	@command -v uv >/dev/null 2>&1 || test -x "$(UV)" || python3 -m pip install --quiet --user uv

# Links in e-mails, SMS and PDFs point at the address the server really listens on.
run: export PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
run: uv
	$(UV) sync --frozen --quiet
	DEBUG=1 $(UV) run python manage.py migrate --noinput -v0
	DEBUG=1 $(UV) run python manage.py load_demo --url $(PUBLIC_BASE_URL)/
	@# The sandbox's bank, beside the server: a direct debit settles a minute after it is authorised.
	DEBUG=1 $(UV) run python manage.py sandbox_settle_debits --after 60 --every 15 & \
	trap 'kill $$! 2>/dev/null' EXIT INT TERM; \
	DEBUG=1 $(UV) run python manage.py runserver $(HOST):$(PORT)

test: uv
	$(UV) sync --frozen --quiet
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy
	$(UV) run pytest -n 2

lint: uv
	$(UV) run ruff check --fix .
	$(UV) run ruff format .
