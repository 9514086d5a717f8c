"""deploy/k8s: the overlays render (kubectl kustomize), core kinds validate against the
Kubernetes schemas (kubernetes-validate), ScaledObjects against KEDA's (the schema of PyPI
cloudcoil-models-keda, vendored in schemas/), and the Strimzi resources against the rules
below: no registry package ships Strimzi's CRD schemas, so the fields we use are checked by
hand. Then the properties the operators rely on: probes, resources, PDBs, secrets only
referenced, topics in sync with the registry, departments confined to their own topic,
each service its own Kafka user with the access table's ACLs, no anonymous super user."""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from deploy_support import DEPLOY, ROOT, tool
from yiwang.common.dead_letter_replay import REPLAY_LOG
from yiwang.common.departments import Department
from yiwang.common.kafka_acls import ACCESS, SERVICES, Operation, consumes, produces
from yiwang.common.topics import DEPT_REPLIES, all_topic_names, dead_letter_topic, department_topic

K8S = DEPLOY / "k8s"
OVERLAYS = ("dev", "prod")
KEDA_SCHEMA = Path(__file__).resolve().parent / "schemas/keda-scaledobject.schema.json"
STRIMZI_KINDS = {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}
KEDA_KINDS = {"ScaledObject", "TriggerAuthentication"}
ACL_OPERATIONS = {"Read", "Write", "Create", "Delete", "Alter", "Describe", "All"}
ACL_OPERATIONS |= {"ClusterAction", "AlterConfigs", "DescribeConfigs", "IdempotentWrite"}


@cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    done = subprocess.run(
        [tool("kubectl"), "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return tuple(d for d in yaml.safe_load_all(done.stdout) if d)


def of_kind(overlay: str, kind: str) -> list[dict[str, Any]]:
    return [d for d in rendered(overlay) if d["kind"] == kind]


def test_the_strimzi_resources_are_in_sync_with_the_topic_registry() -> None:
    done = subprocess.run(
        ["python", str(K8S / "generate.py"), "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_core_kinds_validate_against_the_kubernetes_schemas(overlay: str) -> None:
    version = kubernetes_validate.latest_version()
    core = [d for d in rendered(overlay) if d["kind"] not in STRIMZI_KINDS | KEDA_KINDS]
    assert {d["kind"] for d in core} >= {"Deployment", "Service", "PodDisruptionBudget"}
    for doc in core:
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_scaled_objects_validate_against_the_keda_schema(overlay: str) -> None:
    schema = json.loads(KEDA_SCHEMA.read_text())
    spec_fields = set(schema["$defs"]["ScaledObjectSpec"]["properties"])
    deployments = {d["metadata"]["name"] for d in of_kind(overlay, "Deployment")}
    scaled = of_kind(overlay, "ScaledObject")
    assert {s["spec"]["scaleTargetRef"]["name"] for s in scaled} == deployments
    for doc in scaled:
        jsonschema.validate(doc, schema)
        assert set(doc["spec"]) <= spec_fields, doc["metadata"]["name"]
        assert doc["spec"]["maxReplicaCount"] <= 6  # the busiest topic's partitions
        for trigger in doc["spec"]["triggers"]:
            assert trigger["type"] == "kafka"
            assert trigger["metadata"]["topic"] in all_topic_names()
            assert trigger["metadata"]["consumerGroup"] == f"yiwang-{doc['metadata']['name']}"
            # KEDA reads the lag as the service's own user, over TLS
            assert trigger["metadata"]["sasl"] == "scram_sha512"
            assert trigger["metadata"]["tls"] == "enable"
            assert trigger["authenticationRef"]["name"] == f"{doc['metadata']['name']}-kafka"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_keda_authenticates_as_each_services_own_user(overlay: str) -> None:
    auths = {a["metadata"]["name"]: a["spec"] for a in of_kind(overlay, "TriggerAuthentication")}
    assert set(auths) == {f"{s}-kafka" for s in SERVICES}
    containers = {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]
        for d in of_kind(overlay, "Deployment")
    }
    for service in SERVICES:
        spec = auths[f"{service}-kafka"]
        assert set(spec) == {"env", "secretTargetRef"}
        [username] = spec["env"]
        assert username == {
            "parameter": "username", "name": "KAFKA_SASL_USERNAME", "containerName": service
        }  # fmt: skip
        assert {"name": "KAFKA_SASL_USERNAME", "value": f"yiwang-{service}"} in containers[service][
            "env"
        ]
        assert sorted(spec["secretTargetRef"], key=lambda r: r["parameter"]) == [
            {"parameter": "ca", "name": "yiwang-cluster-ca-cert", "key": "ca.crt"},
            {"parameter": "password", "name": f"kafka-yiwang-{service}", "key": "password"},
        ]


def check_strimzi(doc: dict[str, Any]) -> None:
    assert doc["apiVersion"] == "kafka.strimzi.io/v1beta2"
    spec = doc["spec"]
    if doc["kind"] != "Kafka":
        assert doc["metadata"]["labels"]["strimzi.io/cluster"] == "yiwang"
    if doc["kind"] == "KafkaTopic":
        assert set(spec) <= {"topicName", "partitions", "replicas", "config"}
        assert isinstance(spec["partitions"], int)
        assert spec["partitions"] >= 1
        assert isinstance(spec["replicas"], int)
        assert 1 <= spec["replicas"] <= 32767
        assert all(isinstance(v, str | int | bool) for v in spec["config"].values())
    elif doc["kind"] == "KafkaUser":
        assert spec["authentication"]["type"] in {"tls", "tls-external", "scram-sha-512"}
        assert set(spec) <= {"authentication", "authorization"}
        authorization = spec.get("authorization", {"type": "simple", "acls": []})
        assert authorization["type"] == "simple"
        for acl in authorization["acls"]:
            assert acl["type"] in {"allow", "deny"}
            assert acl["resource"]["type"] in {"topic", "group", "cluster", "transactionalId"}
            assert acl["resource"]["patternType"] in {"literal", "prefix"}
            assert set(acl["operations"]) <= ACL_OPERATIONS
    elif doc["kind"] == "KafkaNodePool":
        assert set(spec["roles"]) <= {"controller", "broker"}
        assert spec["replicas"] >= 1
    elif doc["kind"] == "Kafka":
        assert doc["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
        for listener in spec["kafka"]["listeners"]:
            assert listener["type"] in {"internal", "route", "loadbalancer", "nodeport", "ingress"}
            assert {"name", "port", "type", "tls"} <= set(listener)
            # No anonymous way in: every listener is TLS and authenticates its clients.
            assert listener["tls"] is True, listener["name"]
            assert listener["authentication"]["type"] in {"scram-sha-512", "tls"}
        assert spec["kafka"]["authorization"] == {"type": "simple", "superUsers": ["yiwang-admin"]}
        assert spec["entityOperator"]["userOperator"] == {"secretPrefix": "kafka-"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_strimzi_resources_are_well_formed_and_cover_the_registry(overlay: str) -> None:
    strimzi = [d for d in rendered(overlay) if d["kind"] in STRIMZI_KINDS]
    for doc in strimzi:
        check_strimzi(doc)
    topics = {d["spec"]["topicName"] for d in strimzi if d["kind"] == "KafkaTopic"}
    assert topics == {*all_topic_names(), REPLAY_LOG}
    replicas = {d["spec"]["replicas"] for d in strimzi if d["kind"] == "KafkaTopic"}
    assert replicas == ({1} if overlay == "dev" else {3})


def test_each_department_reads_only_its_own_topic_and_writes_only_replies() -> None:
    users = {u["metadata"]["name"]: u for u in of_kind("prod", "KafkaUser")}
    for department in Department:
        acls = users[f"dept-{department.value}"]["spec"]["authorization"]["acls"]
        topics = [a for a in acls if a["resource"]["type"] == "topic"]
        assert all(
            a["type"] == "allow" and a["resource"]["patternType"] == "literal" for a in topics
        )
        read = {a["resource"]["name"] for a in topics if "Read" in a["operations"]}
        write = {a["resource"]["name"] for a in topics if "Write" in a["operations"]}
        assert read == {department_topic(department)}
        assert write == {DEPT_REPLIES}
        assert all("All" not in a["operations"] for a in acls)


def test_each_service_has_its_own_kafka_user_with_the_access_tables_acls() -> None:
    users = {u["metadata"]["name"]: u["spec"] for u in of_kind("prod", "KafkaUser")}
    for service in SERVICES:
        spec = users[f"yiwang-{service}"]
        assert spec["authentication"] == {"type": "scram-sha-512"}
        acls = spec["authorization"]["acls"]
        assert all(a["type"] == "allow" and a["host"] == "*" for a in acls)
        topics = [a for a in acls if a["resource"]["type"] == "topic"]
        assert all(a["resource"]["patternType"] == "literal" for a in topics)
        read = {a["resource"]["name"] for a in topics if Operation.READ in a["operations"]}
        write = {a["resource"]["name"] for a in topics if Operation.WRITE in a["operations"]}
        assert read == set(consumes(service))
        assert write == set(produces(service)) | {dead_letter_topic(t) for t in consumes(service)}
        assert {op for a in acls for op in a["operations"]} <= {"Read", "Write"}, "no Create, All"
        groups = [a["resource"] for a in acls if a["resource"]["type"] == "group"]
        assert groups == [{"type": "group", "name": f"yiwang-{service}", "patternType": "prefix"}]
    assert "authorization" not in users["yiwang-admin"], "the super user needs no ACLs"
    assert not [n for n in users if "anonymous" in n.lower()]


def test_the_dead_letter_desk_reads_dead_letters_and_writes_only_where_they_came_from() -> None:
    users = {u["metadata"]["name"]: u["spec"] for u in of_kind("prod", "KafkaUser")}
    spec = users["yiwang-dead-letters"]
    assert spec["authentication"] == {"type": "scram-sha-512"}
    acls = spec["authorization"]["acls"]
    assert {a["resource"]["type"] for a in acls} == {"topic"}, "reads by assignment: no group"
    origins = {t for t, access in ACCESS.items() if access.consumers}
    read = {a["resource"]["name"] for a in acls if "Read" in a["operations"]}
    write = {a["resource"]["name"] for a in acls if "Write" in a["operations"]}
    assert read == {dead_letter_topic(t) for t in origins} | {REPLAY_LOG}
    assert write == origins | {REPLAY_LOG}
    assert {op for a in acls for op in a["operations"]} <= {"Read", "Write"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_connects_as_its_own_user_over_tls(overlay: str) -> None:
    [config] = of_kind(overlay, "ConfigMap")
    assert config["data"]["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["data"]["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    ca_file = config["data"]["KAFKA_SSL_CA_FILE"]
    for deployment in of_kind(overlay, "Deployment"):
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        [container] = pod["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["KAFKA_SASL_USERNAME"]["value"] == f"yiwang-{name}"
        assert env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": f"kafka-yiwang-{name}", "key": "password"
        }  # fmt: skip
        [mount] = [m for m in container["volumeMounts"] if m["name"] == "kafka-ca"]
        assert ca_file == mount["mountPath"] + "/ca.crt"
        [volume] = [v for v in pod["volumes"] if v["name"] == "kafka-ca"]
        assert volume["secret"]["secretName"] == "yiwang-cluster-ca-cert"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployments_have_probes_resources_pdbs_and_referenced_secrets(overlay: str) -> None:
    docs = rendered(overlay)
    assert not [d for d in docs if d["kind"] == "Secret"], "secrets are referenced, never inlined"
    pdbs = {
        p["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for p in of_kind(overlay, "PodDisruptionBudget")
    }
    deployments = of_kind(overlay, "Deployment")
    assert {d["metadata"]["name"] for d in deployments} == {
        "intake",
        "grid-routing",
        "department-dispatch",
        "mediation",
        "oversight",
    }
    for deployment in deployments:
        name = deployment["metadata"]["name"]
        assert name in pdbs
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert probe in container, (name, probe)
        assert container["resources"]["requests"]
        assert container["resources"]["limits"]["memory"]
        for env in container["env"]:
            if any(word in env["name"] for word in ("KEY", "PASSWORD", "DATABASE_URL")):
                assert "secretKeyRef" in env.get("valueFrom", {}), (name, env["name"])
    namespaces = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
    assert namespaces == {"yiwang-dev" if overlay == "dev" else "yiwang"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_deny_by_default(overlay: str) -> None:
    policies = {p["metadata"]["name"]: p for p in of_kind(overlay, "NetworkPolicy")}
    deny = policies["default-deny-ingress"]["spec"]
    assert deny["podSelector"] == {}
    assert deny["policyTypes"] == ["Ingress"]
    assert "ingress" not in deny
