"""GitHub Actions output: annotations, the job summary, and the step's outputs.

On with ``--output-format github``, or by itself where GitHub Actions runs the
command (``GITHUB_ACTIONS=true``) unless ``--output-format text`` says otherwise.
Then, besides the usual output:

- ``::error file=...,line=...::`` annotations for every file that would be
  reformatted (``reformat --check``/``--diff``, and the run's reformat step in a dry
  run), every file that could not be formatted, and every failed step; on stdout, as
  ruff prints them, or on stderr with ``--json`` (stdout stays one JSON document);
- where the runner provides them: the run's table in Markdown appended to
  ``$GITHUB_STEP_SUMMARY``; the JSON report written under ``$RUNNER_TEMP`` and
  ``report=PATH`` and ``changed-files=["a.py", ...]`` appended to ``$GITHUB_OUTPUT``.

File paths in annotations are relative to ``$GITHUB_WORKSPACE`` (the repository)
when the project is inside it, as GitHub needs them to place the annotation.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from routine_workflow import output
from routine_workflow.output import plural

FORMATS = ("text", "github")
TITLE = "routine-workflow"
#: A hunk header of a unified diff: the old file's first line in the hunk.
_HUNK = re.compile(r"^@@ -(\d+)")


def enabled(output_format: str | None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether to speak GitHub's language: asked for, or detected and not refused."""
    if output_format is not None:
        return output_format == "github"
    return (os.environ if environ is None else environ).get("GITHUB_ACTIONS") == "true"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(message: str, *, file: str | None = None, line: int | None = None) -> str:
    """One ``::error`` workflow command, escaped as GitHub's toolkit escapes it."""
    props = {"title": TITLE}
    if file is not None:
        props["file"] = file
        props["line"] = str(line or 1)
    shown = ",".join(f"{key}={_escape_property(value)}" for key, value in props.items())
    return f"::error {shown}::{_escape_data(message)}"


def repo_path(root: Path, rel: str, environ: Mapping[str, str] | None = None) -> str:
    """``rel`` (relative to the project root) relative to the repository checkout."""
    workspace = (os.environ if environ is None else environ).get("GITHUB_WORKSPACE")
    if workspace:
        try:
            return (root / rel).relative_to(Path(workspace).resolve()).as_posix()
        except ValueError:
            pass  # the project is not in the workspace: its own relative path is the best guess
    return rel


def first_changed_lines(diffs: Iterable[str]) -> dict[str, int]:
    """For each file's unified diff, the first line (of the current file) that would change."""
    found: dict[str, int] = {}
    for diff in diffs:
        rel, line = None, None
        old = 0
        for text in diff.splitlines():
            if text.startswith("--- a/") and rel is None:
                rel = text[len("--- a/") :]
            elif (match := _HUNK.match(text)) is not None:
                old = int(match.group(1))
            elif text.startswith(("-", "+")) and not text.startswith(("---", "+++")) and old:
                line = max(old, 1)
                break
            elif text.startswith(" "):
                old += 1
        if rel is not None:
            found[rel] = line or 1
    return found


# --- reformat --------------------------------------------------------------------------------


def reformat_annotations(
    root: Path, changed: Iterable[str], failures: Iterable[tuple[str, str]], diffs: Iterable[str]
) -> list[str]:
    """Annotations for the files ``reformat --check`` would change, and those it could not read."""
    lines = first_changed_lines(diffs)
    found = [
        annotation(f"{rel} would be reformatted", file=repo_path(root, rel), line=lines.get(rel))
        for rel in sorted(changed)
    ]
    found += [annotation(f"{rel}: {reason}", file=repo_path(root, rel)) for rel, reason in failures]
    return found


def after_reformat(
    report: dict[str, Any], annotations: list[str], *, as_json: bool, check: bool
) -> None:
    """Print the annotations, then the summary and outputs (``report``: the --json document)."""
    _print(annotations, as_json)
    changed = report.get("changed_files", [])
    verb = "would change" if check else "changed"
    rows = [[f"`{name}`", verb] for name in changed]
    rows += [[f"`{f['path']}`", f"error: {f['reason']}"] for f in report.get("failures", [])]
    summary = [f"### {TITLE} reformat", "", f"{plural(len(changed), 'file')} {verb}", ""]
    if rows:
        summary += _markdown_table(["file", "status"], rows)
    _publish(summary, report, changed)


# --- a workflow run --------------------------------------------------------------------------


def after_run(root: Path, report: dict[str, Any], as_json: bool, asked: str | None) -> None:
    """The one hook a run calls: annotations, job summary and outputs for ``report``
    (``RunReport.as_dict()``), when GitHub output is on."""
    if not enabled(asked):
        return
    changed: list[str] = []
    annotations = []
    for step in report.get("steps", []):
        for detail in step.get("details", []):
            if step["name"] == "reformat" and detail.startswith("error: "):
                rel, _, reason = detail[len("error: ") :].partition(": ")
                annotations.append(annotation(f"{rel}: {reason}", file=repo_path(root, rel)))
            for verb in ("would reformat ", "reformatted "):
                if detail.startswith(verb):
                    rel = detail[len(verb) :]
                    changed.append(rel)
                    if verb.startswith("would"):
                        annotations.append(
                            annotation(f"{rel} would be reformatted", file=repo_path(root, rel))
                        )
        if step.get("status") == "failed" and not step.get("allowed_failure"):
            annotations.append(annotation(f"step {step['name']} failed: {step.get('summary', '')}"))
    _print(annotations, as_json)
    rows = [
        [s["name"], s["status"], f"{s.get('duration', 0):.1f}s", _cell(s.get("summary", ""))]
        for s in report.get("steps", [])
    ]
    dry = " (dry run)" if report.get("dry_run") else ""
    summary = [
        f"### {TITLE}: {report.get('status')}{dry}, exit {report.get('exit_code')}",
        "",
        *_markdown_table(["step", "status", "time", "summary"], rows),
    ]
    _publish(summary, report, changed)


# --- where it goes ---------------------------------------------------------------------------


def _print(annotations: list[str], as_json: bool) -> None:
    for line in annotations:
        (output.error_line if as_json else output.write_line)(line)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return lines + ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]


def _publish(summary: list[str], report: dict[str, Any], changed: list[str]) -> None:
    """The job summary, and the report file and outputs, where the runner provides them."""
    _append(os.environ.get("GITHUB_STEP_SUMMARY"), "\n".join(summary) + "\n\n")
    temp = os.environ.get("RUNNER_TEMP")
    outputs = [f"changed-files={json.dumps(sorted(set(changed)))}"]
    if temp:
        path = Path(temp, "routine-workflow", f"report-{time.time_ns()}-{os.getpid()}.json")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
            outputs.append(f"report={path}")
        except OSError as exc:
            output.error_line(f"{TITLE}: cannot write the JSON report {path}: {exc.strerror}")
    _append(os.environ.get("GITHUB_OUTPUT"), "".join(f"{line}\n" for line in outputs))


def _append(path: str | None, text: str) -> None:
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:  # the runner's file: say so, never fail the command over it
        output.error_line(f"{TITLE}: cannot write {path}: {exc.strerror}")
