"""Commit what one run changed, and only that: the ``git_snapshot`` step's engine.

Which files: the run's undo journal (``undo/``) lists every file the run replaced, with
the bytes each held just before (recorded before the replacement, whatever the step).
A file goes into the commit only if all of this holds, else the snapshot is refused
and nothing is committed:

- it holds, now, exactly what the run wrote (no edit of someone else's since);
- git tracks it, and its staged version is its committed one (no ``git add`` of yours);
- what it held before the run is what is committed (``git hash-object`` of the
  journal's copy, through the file's own filters, against ``HEAD``): the run never
  commits a user's work in progress.

An untracked file the run changed is refused too (a new file of yours), unless git
ignores it: an ignored file is never committed, only listed. A file already committed
as it is (a retried snapshot) is left out. The commit is made with ``--no-verify`` (a
hook would run the formatters the run just ran, or prompt) on the current branch, or,
with ``branch``, on that branch without touching the checkout: the branch's tip must
hold the same version of each file as ``HEAD`` did, so the commit is exactly the run's
change.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from routine_workflow.checks.git import Git, GitError, push_message, zero_split
from routine_workflow.output import plural
from routine_workflow.undo.layout import project_journals, sha256
from routine_workflow.undo.reader import read_journal


class SnapshotRefused(Exception):
    """The snapshot was not taken; ``details`` names each file and why."""

    def __init__(self, summary: str, details: list[str] | None = None) -> None:
        super().__init__(summary)
        self.details = details or []


@dataclass(frozen=True)
class Change:
    """A file the run replaced: its bytes before (None: created) and the digest of what
    the run wrote (None: deleted)."""

    rel: str  # relative to the project root, "/"-separated
    before: bytes | None
    after: str | None


@dataclass
class Snapshot:
    """What the snapshot did."""

    commit: str = ""
    branch: str = ""
    committed: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # committed as they are already
    ignored: list[str] = field(default_factory=list)  # ignored by git: never committed
    pushed: str = ""  # the remote pushed to


def run_changes(root: Path, run_id: str) -> list[Change]:
    """The files run ``run_id`` changed, in journal order, from its undo journal."""
    directory = project_journals(root) / run_id
    if not directory.is_dir():
        return []  # a run that changed nothing writes no journal
    journal = read_journal(directory)
    if journal.damage:
        raise SnapshotRefused(
            f"the run's undo journal is damaged ({journal.damage[0]}); not committing"
        )
    first: dict[str, Change] = {}
    last_sha: dict[str, str | None] = {}
    for record in journal.records:
        if record.path not in first:
            try:
                before = record.original() if record.old is not None else None
            except ValueError as exc:
                raise SnapshotRefused(
                    f"the run's undo journal is damaged ({record.path}: {exc}); not committing"
                ) from None
            first[record.path] = Change(record.path, before, record.new)
        last_sha[record.path] = record.new
    return [Change(c.rel, c.before, last_sha[c.rel]) for c in first.values()]


def take(
    git: Git,
    changes: list[Change],
    message: str,
    branch: str | None = None,
    push: bool = False,
    remote: str = "origin",
) -> Snapshot:
    """Commit ``changes`` (see the module's docstring); raises SnapshotRefused or GitError."""
    _in_repository(git)
    current = _current_branch(git)
    target = branch or current
    if target is None:
        raise SnapshotRefused(
            'HEAD is detached: not committing on no branch (set branch = "..." to name one)'
        )
    if branch:
        _check_branch_name(git, branch)
    head = _commit_of(git, "HEAD")
    if head is None:
        raise SnapshotRefused("the repository has no commit yet: nothing to commit onto")
    existing = _commit_of(git, f"refs/heads/{target}")
    tip = existing or head
    snap = Snapshot(branch=target)
    to_commit = _vet(git, changes, head, tip, snap)
    if to_commit:
        if target == current:
            git.ok("commit", "--only", "--no-verify", "--quiet", "-m", message, "--", *to_commit)
            snap.commit = git.ok("rev-parse", "HEAD").strip()
        else:
            snap.commit = _commit_beside(git, to_commit, tip, existing, target, message)
        snap.committed = to_commit
    # Pushed only when this run has a commit to push (one made now, or by an attempt
    # before whose push failed): never the user's own commits alone.
    if push and (snap.committed or snap.already):
        code, out, err = git.run(
            "push", "--porcelain", remote, f"refs/heads/{target}:refs/heads/{target}"
        )
        if code != 0:
            what = f"committed {snap.commit[:12]} on {target}, but " if snap.commit else ""
            raise GitError(f"{what}git push to {remote} failed: {push_message(out, err)}")
        snap.pushed = remote
    return snap


def _in_repository(git: Git) -> None:
    code, out, _ = git.run("rev-parse", "--is-inside-work-tree")
    if code != 0 or out.strip() != "true":
        raise SnapshotRefused(f"{git.cwd} is not in a git working tree: nothing to commit to")


def _current_branch(git: Git) -> str | None:
    code, out, _ = git.run("symbolic-ref", "--quiet", "--short", "HEAD")
    return out.strip() if code == 0 else None


def _check_branch_name(git: Git, branch: str) -> None:
    code, _, _ = git.run("check-ref-format", "--branch", branch)
    if code != 0 or branch.startswith("-"):
        raise SnapshotRefused(f"branch {branch!r} is not a valid branch name")


def _commit_of(git: Git, ref: str) -> str | None:
    code, out, _ = git.run("rev-parse", "--quiet", "--verify", f"{ref}^{{commit}}")
    return out.strip() if code == 0 else None


def _entries(listing: str, with_stage: bool) -> dict[str, tuple[str, str, str]]:
    """``path -> (mode, object, stage)`` from ``ls-files -s -z`` or ``ls-tree -z``."""
    found = {}
    for record in zero_split(listing):
        meta, path = record.split("\t", 1)
        parts = meta.split()
        if with_stage:  # "<mode> <object> <stage>"
            found[path] = (parts[0], parts[1], parts[2])
        else:  # "<mode> <type> <object>"
            found[path] = (parts[0], parts[2], "0")
    return found


def _vet(git: Git, changes: list[Change], head: str, tip: str, snap: Snapshot) -> list[str]:
    """The paths to commit; refuses the whole snapshot if any file holds the user's work."""
    prefix = git.ok("rev-parse", "--show-prefix").strip()
    rels = [c.rel for c in changes]
    if not rels:
        return []
    index = _entries(git.ok("ls-files", "-s", "-z", "--full-name", "--", *rels), True)
    at_head = _entries(git.ok("ls-tree", "-r", "-z", "--full-name", head, "--", *rels), False)
    at_tip = (
        at_head
        if tip == head
        else _entries(git.ok("ls-tree", "-r", "-z", "--full-name", tip, "--", *rels), False)
    )
    present = [c.rel for c in changes if c.after is not None and os.path.lexists(git.cwd / c.rel)]
    now = (
        dict(zip(present, git.ok("hash-object", "--", *present).split(), strict=True))
        if present
        else {}
    )
    refused: list[str] = []
    commit: list[str] = []
    none = ("", "", "")
    for change in changes:
        full = prefix + change.rel
        staged, committed, target = index.get(full), at_head.get(full), at_tip.get(full, none)
        why = _edited_since(git.cwd, change)
        if why is None and staged is None and committed is None:
            if _ignored(git, change.rel):
                snap.ignored.append(change.rel)
                continue
            why = "not tracked by git (a new file of yours?)"
        if why is None and now.get(change.rel) == target[1] and staged == committed:
            snap.already.append(change.rel)  # a snapshot retried after its push failed
            continue
        if why is None:
            why = _staged_or_dirty(git, change, staged, committed)
        if why is None and target[1] != (committed or none)[1]:
            why = f"branch {snap.branch} holds another version of it than HEAD"
        if why is not None:
            refused.append(f"{change.rel}: {why}")
        else:
            commit.append(change.rel)
    if refused:
        names = ", ".join(line.split(":", 1)[0] for line in refused[:3])
        more = ", ..." if len(refused) > 3 else ""
        raise SnapshotRefused(
            f"refused: {plural(len(refused), 'file')} this run changed hold work of yours that is not "
            f"committed ({names}{more}); commit or stash it, then run again",
            refused,
        )
    return commit


def _edited_since(root: Path, change: Change) -> str | None:
    """Why the file is no longer what the run left, or None if it is."""
    path = root / change.rel
    if change.after is None:
        return "recreated since the run deleted it" if os.path.lexists(path) else None
    try:
        if path.is_symlink() or not path.is_file():
            return "no longer a regular file"
        data = path.read_bytes()
    except OSError as exc:
        return f"cannot read it: {exc.strerror}"
    return None if sha256(data) == change.after else "edited since this run changed it"


def _ignored(git: Git, rel: str) -> bool:
    # check-ignore takes no pathspec magic; its arguments are plain paths anyway.
    code, _, _ = git.run("check-ignore", "--quiet", "--", rel, env={"GIT_LITERAL_PATHSPECS": "0"})
    return code == 0


def _staged_or_dirty(
    git: Git,
    change: Change,
    staged: tuple[str, str, str] | None,
    committed: tuple[str, str, str] | None,
) -> str | None:
    """Why the file held uncommitted work of the user's before the run, or None."""
    if staged is None:
        return "deleted from the index (git rm --cached) but not committed"
    if committed is None:
        return "added (git add) but not committed"
    if staged[2] != "0":
        return "has an unresolved merge conflict"
    if staged[1] != committed[1]:
        return "has staged changes (git add) that are not committed"
    if change.before is None:
        return "did not exist before the run, but git tracks it"
    if _blob_of(git, change.rel, change.before) != committed[1]:
        return "had uncommitted changes before this run"
    return None


def _blob_of(git: Git, rel: str, data: bytes) -> str:
    """The object id git would give ``data`` stored at ``rel`` (its filters applied)."""
    with _temporary(data) as path:
        return git.ok("hash-object", f"--path={rel}", "--", str(path)).strip()


@contextlib.contextmanager
def _temporary(data: bytes) -> Iterator[Path]:
    fd, name = tempfile.mkstemp(prefix="routine-workflow-snapshot-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        yield Path(name)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


def _commit_beside(
    git: Git, paths: list[str], tip: str, existing: str | None, branch: str, message: str
) -> str:
    """Commit ``paths`` as they are in the working tree onto ``branch`` (created at ``tip``
    if it does not exist) through a private index: the checkout and the user's index are
    not touched."""
    with tempfile.TemporaryDirectory(prefix="routine-workflow-index-") as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        git.ok("read-tree", tip, env=env)
        present = [p for p in paths if os.path.lexists(git.cwd / p)]
        gone = [p for p in paths if p not in present]
        if present:
            git.ok("add", "--", *present, env=env)
        if gone:
            git.ok("update-index", "--force-remove", "--", *gone, env=env)
        tree = git.ok("write-tree", env=env).strip()
    commit = git.ok("commit-tree", tree, "-p", tip, "-m", message).strip()
    # Compare-and-swap: if the branch moved (or was created) since we read it, git refuses
    # and nothing is overwritten; "" means "must not exist yet".
    ref = f"refs/heads/{branch}"
    git.ok("update-ref", "-m", "routine-workflow: git_snapshot", ref, commit, existing or "")
    return commit
