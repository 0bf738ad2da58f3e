"""What a pytest run says: its exit code and its last lines, in one summary line.

pytest's exit codes (``pytest.ExitCode``): 0 all passed, 1 some failed, 2 interrupted
(a collection error, Ctrl-C), 3 internal error, 4 usage error, 5 no tests collected.
A run that collected nothing fails: the step was switched on to run tests, and a green
run that ran none (a wrong path, a renamed directory) is the failure-open this tool
exists to avoid. The coverage gate is pytest-cov's ``--cov-fail-under``; its line
("Required test coverage of 85% not reached. Total coverage: 72.34%") gives the figure.
"""

from __future__ import annotations

import re

from routine_workflow.checks import Reading

EXIT_MEANING = {
    2: "interrupted",
    3: "internal error",
    4: "usage error",
}
#: The closing line: "==== 2 failed, 3 passed, 1 warning in 0.12s ====" (or "no tests ran").
_FINAL = re.compile(r"^=*\s*(?P<body>.*?)\s+in\s+[\d.]+s\b.*$")
_COUNT = re.compile(r"(\d+) (failed|passed|skipped|deselected|xfailed|xpassed|errors?|warnings?)")
_COVERAGE = re.compile(
    r"Required test coverage of [\d.]+% (not )?reached\. Total coverage: ([\d.]+)%"
)
_ORDER = ("failed", "errors", "passed", "skipped", "xfailed", "xpassed", "deselected")


def counts(output: str) -> dict[str, int]:
    """The tallies of pytest's closing line (``{"passed": 3, "failed": 2, ...}``)."""
    for line in reversed(output.splitlines()):
        match = _FINAL.match(line.strip())
        if match and (_COUNT.search(match["body"]) or "no tests ran" in match["body"]):
            found: dict[str, int] = {}
            for number, word in _COUNT.findall(match["body"]):
                key = "errors" if word.startswith("error") else word
                if not key.startswith("warning"):
                    found[key] = found.get(key, 0) + int(number)
            return found
    return {}


def coverage(output: str) -> tuple[float, bool] | None:
    """(total coverage, reached the threshold) from pytest-cov's gate line, if it printed one."""
    matches = _COVERAGE.findall(output)
    if not matches:
        return None
    missed, total = matches[-1]
    return float(total), not missed


def tally(found: dict[str, int]) -> str:
    """ "3 failed, 40 passed, 2 skipped": the counts in pytest's order."""
    return ", ".join(f"{found[k]} {k}" for k in _ORDER if found.get(k))


def read(returncode: int, output: str, threshold: float | None = None) -> Reading:
    """The verdict on one pytest run."""
    found = counts(output)
    shown = tally(found)
    cov = coverage(output) if threshold is not None else None
    figure = f"coverage {cov[0]:.2f}%" if cov else ""
    if returncode == 0 and threshold is not None and cov is None:
        # No gate line: the gate did not run (pytest-cov disabled by the project's own
        # options, say). Passing here would be passing a gate nobody checked.
        return Reading(
            f"{shown or 'passed'}, but coverage was not measured (is pytest-cov active?)",
            counts=found,
        )
    if returncode == 0:
        parts = [shown or "passed", figure]
        return Reading(None, ", ".join(p for p in parts if p), counts=found)
    if returncode == 5:
        return Reading("no tests collected (pytest exit 5)", counts=found)
    if returncode == 1 and not (found.get("failed") or found.get("errors")) and cov and not cov[1]:
        return Reading(
            f"coverage {cov[0]:.2f}% is below the threshold {threshold:g}% ({shown or 'passed'})",
            counts=found,
        )
    if returncode == 1 and shown:
        return Reading(", ".join(p for p in (shown, figure) if p), counts=found)
    meaning = EXIT_MEANING.get(returncode, "failed")
    reason = _reason(output) or shown
    return Reading(
        f"pytest {meaning} (exit {returncode})" + (f": {reason}" if reason else ""), counts=found
    )


def _reason(output: str) -> str:
    """The line that says why pytest stopped: "ERROR: ...", "Interrupted: ...", or the last."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if (
            line.startswith(("ERROR:", "Interrupted:", "INTERNALERROR>", "error:"))
            or "Interrupted:" in line
        ):
            return line.strip("= ")
    return lines[-1].strip("= ") if lines else ""
