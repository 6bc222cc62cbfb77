#!/bin/sh
# Installs Footfall and the scale-out clients (Redis, PostgreSQL, a ClickHouse server;
# the `scaleout` extra, without chdb's in-process engine) into a new virtual environment.
#
# The Dockerfile's build stage runs exactly this; tests/deploy/test_install.py runs it in
# a fresh venv on the test machine, since no Docker engine runs there.
#
# usage: deploy/install.sh VENV [SOURCE]   (SOURCE: the repository, default .)
set -eu
venv="$1"
src="${2:-.}"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet "$src[scaleout]"
# Fails here, not at the first request, if anything the server imports is missing.
"$venv/bin/python" -c "import footfall.app, footfall.shared.redis.limits, footfall.store.clickhouse.store, psycopg"
"$venv/bin/footfall" --version
