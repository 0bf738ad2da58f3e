"""The ``audit`` check: real pip-audit, never the network.

The vulnerability service is a local one: an address where nothing listens (offline),
or a small OSV server in this process that knows one vulnerability.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import run_cli
from test_checks_security import without_packages

BUILTINS_OFF = "".join(
    f"[tool.routine-workflow.steps.{name}]\nenabled = false\n"
    for name in ("prune_dumps", "backup", "reformat", "clean_caches", "dumps")
)
NOWHERE = "http://127.0.0.1:9/v1/query"  # the discard port: nothing listens


def _project(root: Path, table: str, osv_url: str) -> None:
    (root / "requirements.txt").write_text("requests==2.19.0\nclick==8.1.7\n")
    args = f'args = ["--no-deps", "--disable-pip", "-s", "osv", "--osv-url", "{osv_url}"]'
    (root / "pyproject.toml").write_text(
        f"{BUILTINS_OFF}[tool.routine-workflow.steps.audit]\nenabled = true\n"
        f'requirements = ["requirements.txt"]\n{args}\n{table}\n'
    )


def _step(project: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    result = run_cli(["--yes", "--json"], project, timeout=120)
    assert result.stdout, result.stderr
    (step,) = json.loads(result.stdout)["steps"]
    return result, step


class _OSV(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body: dict = {}
        if query["package"]["name"] == "requests":
            body = {
                "vulns": [
                    {
                        "id": "GHSA-test-0001",
                        "summary": "a test vulnerability",
                        "affected": [
                            {
                                "package": {"name": "requests", "ecosystem": "PyPI"},
                                "ranges": [
                                    {
                                        "type": "ECOSYSTEM",
                                        "events": [{"introduced": "0"}, {"fixed": "2.20.0"}],
                                    }
                                ],
                            }
                        ],
                    }
                ]
            }
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def osv_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OSV)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    server.shutdown()
    server.server_close()


def test_offline_is_one_line_and_a_warning_by_default(project: Path) -> None:
    _project(project, "", NOWHERE)
    result, step = _step(project)
    assert result.returncode == 0, result.stderr
    assert step["status"] == "skipped"
    assert step["summary"] == (
        "cannot reach the vulnerability service (127.0.0.1): nothing was audited"
    )
    assert "Traceback" not in result.stderr


def test_offline_fail_makes_it_a_failure(project: Path) -> None:
    _project(project, 'offline = "fail"', NOWHERE)
    result, step = _step(project)
    assert result.returncode == 1
    assert step["status"] == "failed"
    assert step["summary"] == (
        "cannot reach the vulnerability service (127.0.0.1): nothing was audited"
    )


def test_known_vulnerability_fails_and_names_it(project: Path, osv_url: str) -> None:
    _project(project, "", osv_url)
    result, step = _step(project)
    assert result.returncode == 1
    assert step["summary"] == "1 known vulnerability in 1 package(s): requests 2.19.0"
    assert "requests 2.19.0: GHSA-test-0001 (fixed in 2.20.0)" in step["details"]
    assert step["counts"]["packages"] == 2


def test_no_known_vulnerability_passes(project: Path, osv_url: str) -> None:
    _project(project, "", osv_url)
    (project / "requirements.txt").write_text("click==8.1.7\n")
    result, step = _step(project)
    assert result.returncode == 0, result.stderr
    assert step["summary"] == "no known vulnerabilities in 1 package(s)"


def test_missing_requirements_file_is_one_line(project: Path) -> None:
    _project(project, "", NOWHERE)
    (project / "requirements.txt").unlink()
    result, step = _step(project)
    assert result.returncode == 1
    assert step["summary"] == "the audit step's requirements file requirements.txt does not exist"


def test_bad_offline_value_is_a_config_error(project: Path) -> None:
    _project(project, 'offline = "ignore"', NOWHERE)
    result = run_cli(["--yes"], project)
    assert result.returncode == 2
    assert "offline: invalid value 'ignore': expected one of warn, fail" in result.stderr


def test_missing_pip_audit_is_one_line(project: Path, tmp_path: Path) -> None:
    python, env = without_packages(tmp_path, "pip_audit")
    _project(project, "", NOWHERE)
    result = subprocess.run(
        [python, "-m", "routine_workflow", "--yes", "--json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    (step,) = json.loads(result.stdout)["steps"]
    assert result.returncode == 1
    assert step["summary"] == "the audit step needs pip-audit: pip install pip-audit"


@pytest.mark.slow
def test_the_environment_is_audited_without_requirements(project: Path, osv_url: str) -> None:
    # No requirements: the packages of the interpreter the tests step would use.
    (project / "pyproject.toml").write_text(
        f"{BUILTINS_OFF}[tool.routine-workflow.steps.audit]\nenabled = true\n"
        f'args = ["-s", "osv", "--osv-url", "{osv_url}"]\n'
    )
    result, step = _step(project)
    assert step["counts"]["packages"] > 5, step  # ours: click, black, bandit, requests...
    assert result.returncode == 1  # the fake service flags every version of requests
    assert step["summary"].startswith("1 known vulnerability in 1 package(s): requests ")
