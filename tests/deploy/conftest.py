"""Offline checks of deploy/ and docker-compose.yml: no Kafka, PostgreSQL or network.
Tools: promtool and kubectl (tests/deploy/install_tools.sh installs them)."""

from __future__ import annotations

import sys
from pathlib import Path

# --import-mode=importlib puts no test directory on sys.path; the helpers live here.
sys.path.insert(0, str(Path(__file__).resolve().parent))
