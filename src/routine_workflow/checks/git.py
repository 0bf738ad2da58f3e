"""Running git for the snapshot: in the project, never waiting for a password.

Every call has a time limit and runs as a recorded child of the run (killed with it),
with no terminal to prompt on: ``GIT_TERMINAL_PROMPT=0`` and, unless the user set their
own, an ssh that fails instead of asking (``BatchMode``). Pathspecs are literal, so a
file named ``*.py`` means that file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from routine_workflow.procs.children import child_env, run_captured


class GitError(Exception):
    """A git command failed; the message is git's own last lines."""


@dataclass
class Git:
    """git in one working directory, each call limited to ``timeout`` seconds (0: none)."""

    cwd: Path
    timeout: float = 0.0
    extra_env: Mapping[str, str] | None = None

    def env(self) -> dict[str, str]:
        """The environment of every git call."""
        env = child_env(self.extra_env)
        env["GIT_TERMINAL_PROMPT"] = "0"
        env["GIT_LITERAL_PATHSPECS"] = "1"
        env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
        return env

    def run(self, *args: str, env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
        """(exit code, stdout, stderr) of ``git args``; raises GitError on a time-out or
        when git cannot start."""
        full = {**self.env(), **(env or {})}
        try:
            code, out, err = run_captured(["git", *args], self.cwd, self.timeout, full)
        except OSError as exc:
            raise GitError(f"cannot run git: {exc.strerror or exc}") from None
        if code is None:
            raise GitError(f"git {args[0]} timed out after {self.timeout:g}s")
        return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def ok(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """stdout of ``git args``; raises GitError with git's message if it fails."""
        code, out, err = self.run(*args, env=env)
        if code != 0:
            raise GitError(last_lines(err or out) or f"git {args[0]} exited with {code}")
        return out


def last_lines(text: str, count: int = 3) -> str:
    """git's message, in one line: its last non-empty lines, hints left out."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("hint:")]
    return " | ".join(lines[-count:])


def push_message(out: str, err: str) -> str:
    """Why a ``git push --porcelain`` failed: its fatal/error lines and rejected refs
    (``!`` lines), else its last lines."""
    lines = [ln.strip() for ln in err.splitlines() if ln.startswith(("fatal:", "error:"))]
    lines += [" ".join(ln.split("\t")[1:]) for ln in out.splitlines() if ln.startswith("!")]
    return " | ".join(lines[:3]) if lines else last_lines(err or out)


def zero_split(text: str) -> list[str]:
    """The records of a ``-z`` listing."""
    return [part for part in text.split("\0") if part]
