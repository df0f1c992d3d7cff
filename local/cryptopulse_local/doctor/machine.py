"""This machine: processes of ours (or not) on the pipeline's ports, and the jars in the cache."""

from __future__ import annotations

import shutil

from cryptopulse_local.doctor.report import Finding, combine
from cryptopulse_local.doctor.target import (
    LocalTarget,
)
from cryptopulse_local.kafka_broker import KAFKA_JAR_SET
from cryptopulse_local.maven import cached_jars
from cryptopulse_local.ownership import LiveProcess, live_processes, port_holders, run_dir


def check_processes(target: LocalTarget) -> Finding:
    """Processes of ours left running by an earlier run, and ports held by someone else."""
    directory = run_dir(target.state_dir)
    live = live_processes(directory)
    ports = target.ports()
    holders = port_holders(ports)
    ours = {process.record.pid: process for process in live}
    findings: list[Finding] = []
    for process in live:
        if process.orphaned:
            findings.append(_orphan_finding(process, ports))
    seen: set[int] = set()
    for _port, holder in sorted(holders.items()):
        pid = holder.pid
        if pid is None or pid in ours or pid in seen or _child_of_ours(pid, ours):
            continue
        seen.add(pid)
        held = [f"{ports[p]} {p}" for p, h in sorted(holders.items()) if h.pid == pid]
        if any(str(target.state_dir) in word for word in holder.cmdline):
            findings.append(_unrecorded_finding(holder.describe(), pid, held))
        else:
            findings.append(
                Finding.warned(
                    f"{holder.describe()} holds {', '.join(held)}: not a process of "
                    f"{target.state_dir}",
                    "Another pipeline or program owns this port: give this pipeline other ports "
                    "(KAFKA_BOOTSTRAP_SERVERS, KAFKA_CONTROLLER_PORT, API_PORT, "
                    "PRODUCER_METRICS_PORT, STREAM_METRICS_PORT), or stop it if it is a leftover.",
                )
            )
    running = [p.record.describe() for p in live if not p.orphaned]
    evidence = [f"running: {', '.join(running)}" if running else "no recorded process running"]
    evidence.append(f"records: {directory}")
    findings.append(Finding.passed("", *evidence))
    return combine(findings, "nothing left running by an earlier run")


def foreign_holder_fix(target: LocalTarget, port: int, setting: str) -> str | None:
    """The fix for a stage that does not answer because a program not of this pipeline holds its
    ``port`` (starting the stage would fail with "port already in use"): name the holder and
    ``setting``, the one that moves the pipeline off that port. None when nothing holds the
    port, or a process of this state folder does (the processes check tells about those)."""
    holder = port_holders([port]).get(port)
    if holder is None:
        return None
    if holder.pid is not None:
        ours = {
            process.record.pid: process for process in live_processes(run_dir(target.state_dir))
        }
        if (
            holder.pid in ours
            or _child_of_ours(holder.pid, ours)
            or any(str(target.state_dir) in word for word in holder.cmdline)
        ):
            return None
        who = holder.describe()
    else:
        who = "a process this user may not inspect"
    return (
        f"Port {port} is held by {who}, not by this pipeline: stop that program, or give this "
        f"pipeline another port ({setting}, the same for `up` and the doctor)."
    )


def _unrecorded_finding(described: str, pid: int, held: list[str]) -> Finding:
    """A process whose command line names this state folder but that has no record: started
    by a version of cryptopulse that kept none. Orphaned unless a cryptopulse process is its
    parent (then it is a running pipeline of that version)."""
    import psutil

    try:
        parent = psutil.Process(pid).parent()
        parent_command = " ".join(parent.cmdline()) if parent is not None else ""
    except psutil.Error:
        parent_command = ""
    if "cryptopulse" in parent_command:
        return Finding.passed("", f"{described} holds {', '.join(held)} (started without a record)")
    return Finding.failed(
        f"{described} holds {', '.join(held)}: a process of this state folder whose parent is "
        "gone (left by an earlier run)",
        f"Stop it: `kill {pid}` (a clean stop), then start the pipeline again.",
    )


def _child_of_ours(pid: int, ours: dict[int, LiveProcess]) -> bool:
    """True when ``pid`` descends from a recorded live process (the stream job's JVM, say)."""
    import psutil

    try:
        parents = psutil.Process(pid).parents()
    except psutil.Error:
        return False
    return any(parent.pid in ours for parent in parents)


def _orphan_finding(process: LiveProcess, ports: dict[int, str]) -> Finding:
    record = process.record
    held = ", ".join(f"{record.host}:{port}" for port in record.ports) or "no port"
    return Finding.failed(
        f"{record.describe()} was left running by an earlier run (its parent pid "
        f"{record.parent_pid} is gone); it holds {held}",
        f"Stop it: `kill {record.pid}` (SIGTERM, a clean stop); `cryptopulse up` also stops "
        "it by itself, after saying so.",
        f"command: {record.command}",
        f"record: {process.path}",
    )


def check_jars(target: LocalTarget) -> Finding:
    """The Kafka broker's and the Spark Kafka source's jars in the cache."""
    from cryptopulse_local.spark_jars import spark_jar_set

    cache = target.local.cache_dir
    sets = [("Kafka broker", KAFKA_JAR_SET)]
    if not target.stream.stream_spark_jars:
        sets.append(("Spark Kafka source", spark_jar_set()))
    missing, present = [], []
    for label, name in sets:
        jars = cached_jars(name, cache)
        if jars is None:
            missing.append(f"{label} ({name})")
        else:
            present.append(f"{label}: {len(jars)} jars in {cache / name}")
    if missing:
        maven = (
            ""
            if shutil.which("mvn")
            else " Maven is not on PATH: install it first (apt-get install maven)."
        )
        return Finding.failed(
            f"missing from {cache}: {', '.join(missing)}",
            "Download them: `cryptopulse jars` (Maven Central, checksums enforced; `make up` "
            f"does it too).{maven}",
            *present,
        )
    return Finding.passed(f"cached in {cache}", *present)
