"""Resolve jars from Maven Central with Maven itself, cached, checksums enforced.

Maven runs with ``--strict-checksums``: a jar whose SHA-1 does not match the ``.sha1`` Maven
Central publishes beside it fails the resolution instead of being used. Resolved jars are copied
into ``<cache>/<name>/`` with a ``resolved.txt`` marker listing them, so a second call is a
directory read.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptopulse_common.logs import event

log = logging.getLogger(__name__)

_MARKER = "resolved.txt"


class MavenError(RuntimeError):
    pass


@dataclass(frozen=True)
class Artifact:
    group: str
    artifact: str
    version: str

    @property
    def coordinate(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"


def _pom(artifacts: list[Artifact]) -> str:
    deps = "\n".join(
        f"    <dependency><groupId>{a.group}</groupId><artifactId>{a.artifact}</artifactId>"
        f"<version>{a.version}</version></dependency>"
        for a in artifacts
    )
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>cryptopulse.local</groupId>
  <artifactId>jar-resolution</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{deps}
  </dependencies>
</project>
"""


def cached_jars(name: str, cache_dir: Path) -> list[Path] | None:
    """The jars of set ``name`` already in the cache (every one listed by its marker present),
    else None."""
    marker = cache_dir / name / _MARKER
    if not marker.exists():
        return None
    jars = [cache_dir / name / line for line in marker.read_text().split() if line]
    return jars if jars and all(jar.exists() for jar in jars) else None


def resolve_jars(
    name: str,
    artifacts: list[Artifact],
    cache_dir: Path,
    include_artifact_ids: list[str] | None = None,
) -> list[Path]:
    """Jars of ``artifacts`` and their runtime dependencies (optionally only the listed ids)."""
    target = cache_dir / name
    marker = target / _MARKER
    cached = cached_jars(name, cache_dir)
    if cached is not None:
        return cached
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MavenError("Maven (mvn) is not on PATH; install it (apt-get install maven)")
    coordinates = ", ".join(a.coordinate for a in artifacts)
    event(log, f"resolving {name} jars from Maven Central: {coordinates}", jar_set=name)
    with tempfile.TemporaryDirectory(prefix=f"cryptopulse-{name}-") as work:
        work_dir = Path(work)
        (work_dir / "pom.xml").write_text(_pom(artifacts))
        out_dir = work_dir / "jars"
        command = [
            mvn,
            "--batch-mode",
            "--quiet",
            "--strict-checksums",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={out_dir}",
            "-DincludeScope=runtime",
        ]
        if include_artifact_ids:
            command.append("-DincludeArtifactIds=" + ",".join(include_artifact_ids))
        result = subprocess.run(command, cwd=work_dir, capture_output=True, text=True)
        if result.returncode != 0:
            raise MavenError(
                f"Maven could not resolve {coordinates} (exit {result.returncode}):\n"
                + (result.stdout + result.stderr)[-4000:]
            )
        jars = sorted(out_dir.glob("*.jar"))
        if not jars:
            raise MavenError(f"Maven resolved no jars for {coordinates}")
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for jar in jars:
            shutil.copy2(jar, target / jar.name)
    marker.write_text("\n".join(jar.name for jar in jars) + "\n")
    event(log, f"cached {len(jars)} {name} jars", jar_set=name, path=str(target))
    return [target / jar.name for jar in jars]
