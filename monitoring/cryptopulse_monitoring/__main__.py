"""``python -m cryptopulse_monitoring [--check]``: write (or check) every generated file.

Writes the chart's dashboards and rules file and the generated sections of README.md and docs/.
With ``--check`` nothing is written: it lists the files that differ from what the code generates
and exits 1 (the test suite runs it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cryptopulse_monitoring import docs, grafana, rules
from cryptopulse_monitoring.panels import DASHBOARDS

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "cryptopulse"
RULES_FILE = CHART / "rules" / "cryptopulse.rules.yaml"
DASHBOARDS_DIR = CHART / "dashboards"


def generated_files(root: Path = ROOT) -> dict[Path, str]:
    """Every generated file (path -> content) as the code generates it now."""
    chart = root / "charts" / "cryptopulse"
    files = {chart / "dashboards" / spec.file_name: grafana.render(spec) for spec in DASHBOARDS}
    files[chart / "rules" / "cryptopulse.rules.yaml"] = rules.render_rules()
    files.update(docs.render_documents(root))
    return files


def stale_files(root: Path = ROOT) -> list[Path]:
    """Generated files that differ from their checked-in version, and dashboards no code makes."""
    files = generated_files(root)
    stale = [path for path, text in files.items() if not path.is_file() or path.read_text() != text]
    made = {path.name for path in files if path.parent.name == "dashboards"}
    stale += [
        path
        for path in sorted((root / "charts" / "cryptopulse" / "dashboards").glob("*.json"))
        if path.name not in made
    ]
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cryptopulse_monitoring", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)}", file=sys.stderr)
        if stale:
            print("run: python -m cryptopulse_monitoring", file=sys.stderr)
        return 1 if stale else 0
    files = generated_files()
    made = {path.name for path in files if path.parent == DASHBOARDS_DIR}
    for old in DASHBOARDS_DIR.glob("*.json"):
        if old.name not in made:
            old.unlink()
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
