"""Compose `benchmarks/RESULTS.md` from the benchmarks' JSON records, and nothing else.

    python benchmarks/report.py            # write benchmarks/RESULTS.md (atomically)
    python benchmarks/report.py --check    # exit 1 if RESULTS.md differs from the records

Every benchmark script stores its latest run as `benchmarks/results/<name>.json` (see
`benchinfo.Record`: command, UTC start, wall seconds, load average, machine, versions, settings,
per-case figures with median and min-max spread, summary figures). This module only formats them:
no figure is typed here. `results/reported.json` holds the figures the issues' closing notes
reported (transcribed by hand, labelled so) and is shown next to the same figures of these runs.
A missing or unreadable record is one `ReportError` naming the file and the command that makes it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report_sections import SECTIONS, Section, Table  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
OUTPUT = HERE / "RESULTS.md"


class ReportError(Exception):
    """A benchmark record is missing or unreadable."""


def _stat(v: Any, digits: int = 1) -> str:
    return f"{v['median']:.{digits}f} ({v['min']:.{digits}f}–{v['max']:.{digits}f})"


FORMATS: dict[str, Callable[[Any], str]] = {
    "text": str,
    "int": lambda v: str(int(v)),
    "f1": lambda v: f"{v:.1f}",
    "f2": lambda v: f"{v:.2f}",
    "f3": lambda v: f"{v:.3f}",
    "g2": lambda v: f"{v:.2g}",
    "pct": lambda v: f"{v:.1%}",
    "ratio": lambda v: f"**{v:.2f}**",
    "ratio1": lambda v: f"**{v:.1f}**",
    "ms": _stat,
    "ms2": lambda v: _stat(v, 2),
    "yes": lambda v: "yes" if v else "**NO**",
    "frac": lambda v: f"{v[0]}/{v[1]}",
    "dict": lambda v: ", ".join(f"{k} {n}" for k, n in v.items()),
}


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def cell(value: Any, fmt: str) -> str:
    """`value` in format `fmt`; '–' when absent (e.g. a peer that failed)."""
    if value is None or value in ("", "-"):
        return "–"
    try:
        return FORMATS[fmt](value)
    except (TypeError, ValueError, KeyError, IndexError):
        return str(value)


def headline(template: str, record: dict[str, Any]) -> str:
    """The section's headline from its summary (and settings); names absent in this run → '–'."""

    def fill(match: re.Match[str]) -> str:
        key, spec = match.group(1), match.group(2) or ""
        value = _get(record["summary"], key)
        if value is None:
            value = _get(record["settings"], key)
        return "–" if value is None else format(value, spec)

    return re.sub(r"\{([\w.]+)(?::([^}]*))?\}", fill, template)


def render_table(table: Table, record: dict[str, Any]) -> list[str]:
    rows = [record["summary"]] if table.rows == "summary" else record.get(table.rows) or []
    if not rows:
        return []
    lines = [table.caption, ""] if table.caption else []
    lines.append("| " + " | ".join(h for h, _, _ in table.columns) + " |")
    lines.append(
        "|" + "|".join("---" if f == "text" else "---:" for _, _, f in table.columns) + "|"
    )
    for row in rows:
        lines.append("| " + " | ".join(cell(_get(row, k), f) for _, k, f in table.columns) + " |")
    return [*lines, ""]


def load_record(name: str, folder: Path = RESULTS_DIR, script: str = "") -> dict[str, Any]:
    """The JSON record `folder/<name>.json`; ReportError if it is missing or not a record."""
    path = folder / f"{name}.json"
    maker = f"`python benchmarks/{script}` with its record option" if script else "its script"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: missing; run `make bench` (or {maker}) to create it") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: not a readable JSON record ({exc})") from None
    kinds = {"command": str, "started_utc": str, "machine": dict, "versions": dict,
             "settings": dict, "cases": list, "summary": dict}  # fmt: skip
    if not isinstance(record, dict):
        raise ReportError(f"{path}: not a benchmark record (a JSON {type(record).__name__})")
    missing = [k for k, kind in kinds.items() if not isinstance(record.get(k), kind)]
    if missing:
        raise ReportError(f"{path}: not a benchmark record (no {', '.join(missing)})")
    return record


def provenance(record: dict[str, Any], main_machine: str) -> list[str]:
    load = record.get("load_avg") or {}
    start, end = load.get("start"), load.get("end")
    loads = (f"load average (1/5/15 min) {'/'.join(f'{x:.1f}' for x in start)} at start, "
             f"{'/'.join(f'{x:.1f}' for x in end)} at end" if start and end
             else "load average not recorded")  # fmt: skip
    wall = record.get("wall_s")
    lines = [f"Command: `{record['command']}` — run {record['started_utc']} UTC"
             + (f", {wall:.0f} s wall" if wall is not None else "") + f"; {loads}.  "]  # fmt: skip
    machine = record["machine"].get("line", "")
    if machine != main_machine:
        lines.append(f"Machine: {machine.rstrip('.')}.  ")
    lines.append("Versions: " + ", ".join(f"{k} {v}" for k, v in record["versions"].items()) + ".")
    if record.get("transcribed"):
        lines.append(f"Transcribed: {record['transcribed']}.")
    return lines


def render_section(section: Section, record: dict[str, Any], main_machine: str) -> list[str]:
    lines = [f"## {section.title}", ""]
    if section.gpu and record["machine"].get("line") != main_machine:
        lines += [f"**Not run by this `make bench`** (it needs a CUDA device): the last recorded "
                  f"run, {record['started_utc']} on {record.get('device', '?')}.", ""]  # fmt: skip
    lines += [f"*Reading:* {section.reading}", "", *provenance(record, main_machine), ""]
    for table in section.tables:
        lines += render_table(table, record)
    for title, rows in (record.get("tables") or {}).items():
        if rows:
            lines += [f"The `--{title}` run's table, as the script wrote it:", "", *rows, ""]
    return lines


def _resolve(record: dict[str, Any], path: str) -> Any:
    """`cases[model=resnet200,batch=1].ratio` or `summary.key` in a record."""
    match = re.fullmatch(r"(\w+)\[([^\]]*)\]\.(.+)", path)
    if not match:
        return _get(record, path)
    where = dict(kv.split("=", 1) for kv in match.group(2).split(","))
    for row in record.get(match.group(1)) or []:
        if all(str(row.get(k)) == v for k, v in where.items()):
            return _get(row, match.group(3))
    return None


def reported_section(records: dict[str, dict[str, Any]], folder: Path) -> list[str]:
    path = folder / "reported.json"
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        items = data["figures"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ReportError(f"{path}: not a readable list of reported figures ({exc})") from None
    lines = ["## Figures the issues reported, next to these runs", "", data.get("note", ""), "",
             "| benchmark | figure | reported | stop | these records |",
             "|---|---|---:|---|---:|"]  # fmt: skip
    for item in items:
        record = records.get(item["benchmark"], {})
        now = cell(_resolve(record, item["path"]), item.get("format", "f2"))
        if item.get("of"):
            now += f" of {cell(_resolve(record, item['of']), 'int')}"
        lines.append(f"| {item['benchmark']} | {item['figure']} | {item['reported']} | "
                     f"{item['stop']} | {now} |")  # fmt: skip
    return [*lines, ""]


def render(folder: Path = RESULTS_DIR) -> str:
    """RESULTS.md's text from the records in `folder`."""
    records = {s.name: load_record(s.name, folder, s.script) for s in SECTIONS}
    lines_by_machine: dict[str, int] = {}
    for s in SECTIONS:
        if not s.gpu:
            line = records[s.name]["machine"].get("line", "")
            lines_by_machine[line] = lines_by_machine.get(line, 0) + 1
    main_machine = max(lines_by_machine, key=lines_by_machine.__getitem__)
    local = [records[s.name] for s in SECTIONS if not s.gpu]
    dates = sorted(r["started_utc"] for r in local)
    wall = sum(r.get("wall_s") or 0.0 for r in local)
    out = [
        "# Benchmark results",
        "",
        "Generated by `make bench` (each benchmark, then `python benchmarks/report.py`) from the "
        "JSON records in `benchmarks/results/`; do not edit by hand. Each section gives its own "
        "command, date, load average and versions; the markdown files beside the records keep "
        "every earlier run.",
        "",
        f"Machine: {main_machine}. Runs from {dates[0]} to {dates[-1]} UTC; the benchmarks' own "
        f"wall time adds up to {wall / 60:.1f} min.",
        "",
        "| benchmark | headline | better |",
        "|---|---|---|",
    ]
    for s in SECTIONS:
        out.append(f"| [{s.title}](#{_anchor(s.title)}) | {headline(s.headline, records[s.name])}"
                   f" | {s.better} |")  # fmt: skip
    out.append("")
    for s in SECTIONS:
        out += render_section(s, records[s.name], main_machine)
    out += reported_section(records, folder)
    return "\n".join(out).rstrip() + "\n"


def _anchor(title: str) -> str:
    slug = re.sub(r"[^\w\- ]", "", title.lower()).strip()
    return slug.replace(" ", "-")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if RESULTS.md is stale")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=OUTPUT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        text = render(args.results)
    except ReportError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} differs from what the records give: run "
                  "`python benchmarks/report.py`", file=sys.stderr)  # fmt: skip
            return 1
        return 0
    from benchinfo import write_text

    write_text(args.output, text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
