"""Every ci/*-values.yaml scenario renders, and every object it renders would be admitted."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptopulse_common.contract import TICKS_TOPIC
from tests.k8s.conftest import SCENARIOS
from tests.k8s.podsecurity import object_violations
from tests.k8s.render import KUBE_VERSION, by_kind, one, render
from tests.k8s.schemas import Validator, all_errors, describe
from tests.k8s.tools import CHART_DIR

Scenario = tuple[str, list[dict[str, Any]]]


def test_the_four_scenarios_of_the_issue_exist() -> None:
    names = {path.name for path in SCENARIOS}
    assert {
        "minimal-values.yaml",
        "existing-kafka-values.yaml",
        "strimzi-auth-values.yaml",
        "full-values.yaml",
    } <= names


def test_validation_uses_the_kubernetes_version_asked_for(validator: Validator) -> None:
    assert validator.validated_version() == KUBE_VERSION.rsplit(".", 1)[0]


def test_every_object_is_valid_against_its_schema(validator: Validator, scenario: Scenario) -> None:
    name, objects = scenario
    assert objects, f"{name} rendered nothing"
    errors = list(all_errors(validator, objects))
    assert not errors, f"{name}:\n" + "\n".join(errors)


def test_every_pod_meets_the_restricted_pod_security_standard(scenario: Scenario) -> None:
    name, objects = scenario
    problems = [problem for obj in objects for problem in object_violations(obj)]
    assert not problems, f"{name}:\n" + "\n".join(problems)


def test_every_container_is_hardened_and_bounded(scenario: Scenario) -> None:
    """Beyond the restricted profile: read-only root, /tmp emptyDir, requests and limits."""
    name, objects = scenario
    for obj in by_kind(objects, "Deployment") + by_kind(objects, "Pod"):
        spec = obj["spec"]["template"]["spec"] if obj["kind"] == "Deployment" else obj["spec"]
        tmp_volumes = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for container in spec["containers"]:
            where = f"{name} {describe(obj)} {container['name']}"
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, where
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert mounts.get("/tmp") in tmp_volumes, f"{where}: no emptyDir at /tmp"
            assert container["resources"]["requests"], where
            assert container["resources"]["limits"]["memory"], where
    for app in by_kind(objects, "SparkApplication"):
        for role in ("driver", "executor"):
            part = app["spec"][role]
            assert part["securityContext"]["readOnlyRootFilesystem"] is True
            assert {m["mountPath"] for m in part["volumeMounts"]} >= {"/tmp", "/opt/spark/work-dir"}
            assert part["memory"]
            assert part["coreLimit"]


def test_long_running_containers_have_both_probes(scenario: Scenario) -> None:
    name, objects = scenario
    for deployment in by_kind(objects, "Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            where = f"{name} {describe(deployment)}"
            readiness, liveness = container["readinessProbe"], container["livenessProbe"]
            assert readiness["httpGet"]["path"], where
            assert liveness["httpGet"]["path"], where


def test_the_spark_driver_is_probed_on_its_health_endpoint_without_a_readiness_gate() -> None:
    """Executors resolve the driver through a headless Service that lists Ready pods only: a
    readiness probe on the driver would keep its own executors from reaching it."""
    driver = one(render(), "SparkApplication")["spec"]["driver"]
    (container,) = driver["template"]["spec"]["containers"]
    assert container["name"] == "spark-kubernetes-driver"
    assert "readinessProbe" not in container
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": 8002}
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[1:3] == ["-m", "cryptopulse_stream.stop"]
    grace = driver["template"]["spec"]["terminationGracePeriodSeconds"]
    assert float(command[command.index("--timeout-seconds") + 1]) < grace


def test_no_two_objects_share_a_name_and_no_kafka_user_names_a_chart_secret(
    scenario: Scenario,
) -> None:
    """Strimzi's User Operator owns the Secret named after each KafkaUser (in its namespace)."""
    name, objects = scenario
    keys = [
        (o["kind"], o["metadata"].get("namespace", "cryptopulse"), o["metadata"]["name"])
        for o in objects
    ]
    assert len(keys) == len(set(keys)), name
    secrets = {
        (o["metadata"].get("namespace", "cryptopulse"), o["metadata"]["name"])
        for o in by_kind(objects, "Secret")
    }
    secrets |= {
        ("cryptopulse", env["valueFrom"]["secretKeyRef"]["name"])
        for d in by_kind(objects, "Deployment")
        for c in d["spec"]["template"]["spec"]["containers"]
        for env in c.get("env", [])
        if "secretKeyRef" in env.get("valueFrom", {}) and env["name"] != "KAFKA_SASL_PASSWORD"
    }
    for user in by_kind(objects, "KafkaUser"):
        owned = (user["metadata"].get("namespace", "cryptopulse"), user["metadata"]["name"])
        assert owned not in secrets, f"{name}: KafkaUser {owned} would take over that Secret"


def token_and_checksums(set_values: list[str]) -> tuple[str, set[str]]:
    objects = render(set_values=set_values)
    secret = one(objects, "Secret", "cryptopulse")
    token = base64.b64decode(secret["data"]["ingest-token"]).decode()
    annotations = [
        d["spec"]["template"]["metadata"]["annotations"] for d in by_kind(objects, "Deployment")
    ]
    annotations.append(one(objects, "SparkApplication")["spec"]["driver"]["annotations"])
    return token, {a["checksum/secret"] for a in annotations}


def test_the_secret_checksum_is_the_effective_token_so_a_new_token_rolls_the_pods() -> None:
    """`helm template` (GitOps) cannot look the Secret up: a generated token is new on each
    render, and the pods' checksum/secret must change with it, never stay put."""
    first_token, first = token_and_checksums([])
    second_token, second = token_and_checksums([])
    assert first_token != second_token
    assert len(first) == 1
    assert len(second) == 1
    assert first != second
    expected = json.dumps(
        {"coingecko-api-key": "", "ingest-token": first_token}, separators=(",", ":")
    )
    assert first == {hashlib.sha256(expected.encode()).hexdigest()}
    fixed = token_and_checksums(["secrets.ingestToken=s3cret"])
    assert fixed == token_and_checksums(["secrets.ingestToken=s3cret"])
    assert fixed[0] == "s3cret"


def test_the_api_is_ready_on_ready_and_alive_on_health() -> None:
    api = one(render(), "Deployment", "-api")["spec"]["template"]["spec"]["containers"][0]
    assert api["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert api["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}


def test_pods_roll_when_their_config_changes() -> None:
    def checksums(set_values: list[str]) -> dict[str, str]:
        objects = render(set_values=set_values)
        return {
            describe(d): d["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            for d in by_kind(objects, "Deployment")
        }

    before = checksums([])
    after = checksums(["api.maxConnections=50"])
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"Deployment/cryptopulse-api"}


def test_the_stream_job_is_a_restarting_spark_application_on_a_claim() -> None:
    objects = render()
    app = one(objects, "SparkApplication")
    spec = app["spec"]
    assert spec["restartPolicy"]["type"] == "Always"
    assert spec["mainApplicationFile"] == "local:///opt/cryptopulse/stream_main.py"
    claim = one(objects, "PersistentVolumeClaim")["metadata"]["name"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["checkpoints"]["persistentVolumeClaim"]["claimName"] == claim
    for role in ("driver", "executor"):
        mounts = {m["name"]: m["mountPath"] for m in spec[role]["volumeMounts"]}
        assert mounts["checkpoints"] == "/var/lib/cryptopulse/checkpoints"
    config = one(objects, "ConfigMap", "-stream")["data"]
    assert config["STREAM_CHECKPOINT_DIR"] == "/var/lib/cryptopulse/checkpoints/stream"
    assert config["STREAM_INGEST_URL"] == ("http://cryptopulse-api.cryptopulse.svc:8000/ingest")


def test_a_read_write_once_claim_keeps_executors_on_the_drivers_node() -> None:
    rwo = one(render(), "SparkApplication")["spec"]["executor"]
    assert rwo["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    rwx = render(set_values=["stream.checkpoints.accessMode=ReadWriteMany"])
    assert "affinity" not in one(rwx, "SparkApplication")["spec"]["executor"]


def test_a_ticks_topic_the_producer_creates_is_the_one_its_kafka_topic_asks_for(
    scenario: Scenario,
) -> None:
    """On a cold install the producer reaches the broker before Strimzi's Topic Operator has
    created the topics (the Entity Operator starts after the brokers), and creates the ticks
    topic itself when it is missing. The Topic Operator then adopts that topic, but can neither
    change its replication factor nor decrease its partitions ("Replication factor change not
    supported", strimzi-kafka-operator BatchingTopicController): the KafkaTopic would stay
    NotReady for good. So the producer creates it exactly as the KafkaTopic asks."""
    name, objects = scenario
    topics = [t for t in by_kind(objects, "KafkaTopic") if t["spec"]["topicName"] == TICKS_TOPIC]
    if not topics:
        return  # no KafkaTopic (topics managed elsewhere): the broker's defaults apply
    producer = one(objects, "ConfigMap", "-producer")["data"]
    spec = topics[0]["spec"]
    assert producer.get("PRODUCER_TOPIC_PARTITIONS") == str(spec["partitions"]), name
    assert producer.get("PRODUCER_TOPIC_REPLICATION_FACTOR") == str(spec["replicas"]), name


def test_the_producer_creates_the_ticks_topic_like_a_changed_kafka_topic() -> None:
    objects = render(
        set_values=[
            "kafka.cluster.replicas=3",
            "kafka.topics.replicas=2",
            "kafka.topics.partitions=1",
        ]
    )
    producer = one(objects, "ConfigMap", "-producer")["data"]
    assert producer["PRODUCER_TOPIC_PARTITIONS"] == "1"
    assert producer["PRODUCER_TOPIC_REPLICATION_FACTOR"] == "2"
    unmanaged = render(set_values=["kafka.topics.create=false"])
    producer = one(unmanaged, "ConfigMap", "-producer")["data"]
    assert "PRODUCER_TOPIC_REPLICATION_FACTOR" not in producer  # the cluster's default


def kafka_password_and_checksums(set_values: list[str]) -> tuple[str, set[str]]:
    """A KafkaUser in an existing cluster's namespace (ci/existing-kafka), GitOps-style: the
    chart writes the user's password, and `helm template` cannot look the last one up."""
    existing = CHART_DIR / "ci" / "existing-kafka-values.yaml"
    objects = render([existing], set_values=set_values)
    secrets = [s for s in by_kind(objects, "Secret") if s["metadata"]["name"].endswith("-password")]
    passwords = {base64.b64decode(s["data"]["password"]).decode() for s in secrets}
    assert len(secrets) == 2  # one beside the KafkaUser, one for the clients
    assert len(passwords) == 1
    annotations = [
        d["spec"]["template"]["metadata"]["annotations"] for d in by_kind(objects, "Deployment")
    ]
    annotations.append(one(objects, "SparkApplication")["spec"]["driver"]["annotations"])
    return passwords.pop(), {a["checksum/secret"] for a in annotations}


def test_a_new_kafka_password_rolls_the_pods_and_gitops_can_pin_it() -> None:
    """With secrets.existingSecret (what docs/kubernetes.md tells GitOps installs to use) the
    token no longer changes between renders, but a generated SCRAM password still does: the
    User Operator then sets the new one, and pods that kept the old one in their environment
    could no longer authenticate. The checksum must follow the password, and
    kafka.user.password pins it."""
    gitops = ["secrets.existingSecret=cryptopulse-credentials"]
    first_password, first = kafka_password_and_checksums(gitops)
    second_password, second = kafka_password_and_checksums(gitops)
    assert first_password != second_password
    assert len(first) == len(second) == 1
    assert first != second
    pinned = [*gitops, "kafka.user.password=Sc4am-pw"]
    assert kafka_password_and_checksums(pinned) == kafka_password_and_checksums(pinned)
    assert kafka_password_and_checksums(pinned)[0] == "Sc4am-pw"
