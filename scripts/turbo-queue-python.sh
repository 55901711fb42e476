#!/usr/bin/env bash
# Prints the path of a Python that has Turbo Queue (the PyPI package) installed, creating a
# virtualenv for it in the cache the first time. The interoperability tests run Turbo Queue
# itself against scouter-queue's batch files.
set -euo pipefail
venv="${SCOUTER_QUEUE_CACHE:-$HOME/.cache/scouter-queue}/turbo-queue-venv"
# Checked from the venv's folder: importing turbo_queue writes ./test_multi.log.
if ! (cd "$venv" 2>/dev/null && "$venv/bin/python" -c 'import turbo_queue') 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'turbo-queue==0.8.0' confluent-kafka >&2  # its package imports confluent_kafka
fi
echo "$venv/bin/python"
