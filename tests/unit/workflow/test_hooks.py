"""``workflow.hooks``: after-run commands and the webhook report; they never change the outcome."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from routine_workflow.config import WorkflowConfig, load_config
from routine_workflow.workflow.hooks import notify, run_hooks

LOGGER = "test.hooks"


def _report(exit_code: int) -> dict[str, Any]:
    status = "ok" if exit_code == 0 else "failed"
    return {"run_id": "r-1", "status": status, "exit_code": exit_code, "root": Path("/p")}


def _config(project: Path, **hooks: str) -> WorkflowConfig:
    return load_config({"project_root": project, **hooks}, env={})


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@pytest.fixture
def logger(caplog: pytest.LogCaptureFixture) -> logging.Logger:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    return logging.getLogger(LOGGER)


class Receiver:
    """A real HTTP server on localhost that keeps what it is sent and answers ``status``."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.headers: list[dict[str, str]] = []
        self.status = 204
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                receiver.headers.append(dict(self.headers))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass  # keep the test output clean

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    thread = threading.Thread(target=rec.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()
    thread.join(timeout=10)


HOOK = "sh -c \"printf '%s %s %s %s' $0 $ROUTINE_WORKFLOW_STATUS $ROUTINE_WORKFLOW_EXIT_CODE $ROUTINE_WORKFLOW_RUN_ID > {out}\" {which}"


def test_success_runs_on_success_only_with_the_outcome_in_its_environment(
    project: Path, logger: logging.Logger
) -> None:
    config = _config(
        project,
        on_success=HOOK.format(out="success.txt", which="success"),
        on_failure=HOOK.format(out="failure.txt", which="failure"),
    )
    run_hooks(config, _report(0), logger)
    assert (project / "success.txt").read_text() == "success ok 0 r-1"  # cwd: the project
    assert not (project / "failure.txt").exists()


def test_failure_runs_on_failure_only(project: Path, logger: logging.Logger) -> None:
    config = _config(
        project,
        on_success=HOOK.format(out="success.txt", which="success"),
        on_failure=HOOK.format(out="failure.txt", which="failure"),
    )
    run_hooks(config, _report(124), logger)
    assert (project / "failure.txt").read_text() == "failure failed 124 r-1"
    assert not (project / "success.txt").exists()


@pytest.mark.parametrize(
    ("command", "warning"),
    [
        ("sh -c 'exit 7'", "hook \"sh -c 'exit 7'\" failed: exit 7"),
        ("no-such-command-xyz --flag", "hook 'no-such-command-xyz --flag' could not start: "),
    ],
)
def test_a_failing_hook_is_a_warning_not_an_error(
    project: Path,
    logger: logging.Logger,
    caplog: pytest.LogCaptureFixture,
    command: str,
    warning: str,
) -> None:
    run_hooks(_config(project, on_success=command), _report(0), logger)
    [message] = _warnings(caplog)
    assert message.startswith(warning)


def test_the_report_is_posted_as_json(
    project: Path, logger: logging.Logger, receiver: Receiver
) -> None:
    run_hooks(_config(project, notify_url=receiver.url), _report(1), logger)
    # values JSON cannot carry (a Path) go as text
    assert receiver.bodies == [{"run_id": "r-1", "status": "failed", "exit_code": 1, "root": "/p"}]
    assert receiver.headers[0]["Content-Type"] == "application/json"
    assert receiver.headers[0]["User-Agent"] == "routine-workflow"


def test_notify_is_true_only_for_a_2xx_answer(
    logger: logging.Logger, caplog: pytest.LogCaptureFixture, receiver: Receiver
) -> None:
    assert notify(receiver.url, _report(0), logger) is True
    assert _warnings(caplog) == []
    receiver.status = 500
    assert notify(receiver.url, _report(0), logger) is False
    [message] = _warnings(caplog)
    assert message.startswith(f"could not notify {receiver.url}: ") and "500" in message


def test_notify_refuses_urls_that_are_not_http(
    logger: logging.Logger, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    target = tmp_path / "report.json"
    assert notify(f"file://{target}", _report(0), logger) is False
    assert not target.exists()
    assert _warnings(caplog) == [f"notify_url 'file://{target}' is not an http(s) URL; not sent"]


def test_an_unreachable_server_is_a_warning(
    logger: logging.Logger, caplog: pytest.LogCaptureFixture, receiver: Receiver
) -> None:
    url = receiver.url
    receiver.server.shutdown()
    receiver.server.server_close()  # nobody listens on that port any more
    assert notify(url, _report(0), logger) is False
    [message] = _warnings(caplog)
    assert message.startswith(f"could not notify {url}: ")
