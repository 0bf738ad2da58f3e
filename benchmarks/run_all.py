"""Every row of the speed table (issue 19) in one command: ours against its anchor, paired.

    python benchmarks/run_all.py --setup      # once: the anchors' virtualenvs (pip)
    python benchmarks/run_all.py --quick      # a few minutes: small trees, fewer pairs
    python benchmarks/run_all.py              # the table for docs/performance.md (< 15 min)
    python benchmarks/run_all.py --rows dry_run,startup --pairs 9

Trees (copied under $RW_BENCH_WORK, default <tmp>/routine-workflow-bench: outside this
repository, whose ruff settings ruff would otherwise apply to them): django 5.1.4's ``django/`` package
with its sdist's pyproject.toml, setup.cfg and tox.ini at the root (from
``$RW_BENCH_DJANGO`` when it names a copy, else downloaded by ``bench_reformat``), a copy of
this interpreter's standard library without its tests, and, with ``--quick``, the
``django/db`` and ``django/utils`` parts only. Each tree is a git repository of its own.

Anchors: ``python -c pass``, ``black --version``, ``black --check .`` with black's
cache warm, the autoflake + isort + black CLIs, ``tar czf``, files-to-prompt 0.6 and
upstream routine-workflow 10.0.1 (the last two from ``--setup``'s virtualenvs; a row
whose anchor is missing is printed as skipped, with the reason). The ruff engine's
rows come from ``bench_ruff.py`` when it exists.

Every figure is paired and interleaved (``pairs.py``): medians, ranges, wall and CPU,
and the ratios. On a loaded machine, read the CPU ratios.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from bench_reformat import (  # the CLIs exactly as it runs them
    CLI_STEPS,
    django_pristine,
    stdlib_tree,
)
from benchenv import child_env
from pairs import Row, Sample, interleave, table, timed

HERE = Path(__file__).resolve().parent
#: Outside this repository: ruff looks for its settings up to the file system's root (a
#: pyproject.toml without [tool.ruff] does not stop it), and would take ours for the trees'.
WORK = Path(
    os.environ.get("RW_BENCH_WORK") or Path(tempfile.gettempdir()) / "routine-workflow-bench"
)
VENVS = HERE / ".work" / "venvs"
BIN = Path(sys.executable).parent
OURS = (
    [str(BIN / "routine-workflow")]
    if (BIN / "routine-workflow").exists()
    else [
        sys.executable,
        "-m",
        "routine_workflow",
    ]
)
PY = sys.executable
RACY_WINDOW_S = 3.0  # reformat.cache.RACY_NS, walkrecord's window
UPSTREAM_STEPS = ["delete_dump", "reformat", "clean", "backup", "create_dump"]


# --- trees -----------------------------------------------------------------------------------


def _git_init(tree: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tree)], check=True)
    return tree


def pristine_django(parts: tuple[str, ...] = ()) -> Path:
    """django/ (or only ``parts`` of it) with the sdist's configuration, made once."""
    return django_pristine(WORK, parts)


def pristine_stdlib() -> Path:
    """This interpreter's standard library, .py files, no tests, as a project."""
    tree = stdlib_tree(False, WORK)
    if not (tree / "pyproject.toml").exists():
        (tree / "pyproject.toml").write_text('[project]\nname = "stdlib"\n')
    return tree


def copy_to(pristine: Path, target: Path) -> Path:
    """A fresh copy of ``pristine`` at ``target`` (mtimes kept)."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(pristine, target, symlinks=True)
    return target


def count_files(tree: Path, suffix: str = "") -> int:
    """Regular files under ``tree`` outside .git (ending in ``suffix``)."""
    return sum(
        1
        for dirpath, dirnames, filenames in os.walk(tree)
        for name in filenames
        if ".git" not in Path(dirpath).relative_to(tree).parts and name.endswith(suffix)
    )


def size_mib(tree: Path) -> float:
    """Bytes of the files under ``tree`` outside .git, in MiB."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        total += sum(os.lstat(os.path.join(dirpath, n)).st_size for n in filenames)
    return total / (1 << 20)


# --- environments ----------------------------------------------------------------------------


def ours_env(home: Path, **extra: str) -> dict[str, str]:
    """Our state (logs, locks, backups, dumps, caches, history) all under ``home``."""
    return child_env(ROUTINE_WORKFLOW_HOME=str(home), BLACK_CACHE_DIR=str(home / "black"), **extra)


def anchor_env(home: Path) -> dict[str, str]:
    """The anchors' caches under ``home`` (black's included)."""
    home.mkdir(parents=True, exist_ok=True)
    return child_env(BLACK_CACHE_DIR=str(home / "black"), XDG_CACHE_HOME=str(home / "cache"))


def venv_tool(venv: str, tool: str) -> Path | None:
    """A tool from one of ``--setup``'s virtualenvs, if it is installed."""
    path = VENVS / venv / "bin" / tool
    return path if path.exists() else None


def setup() -> None:
    """The anchors' virtualenvs: upstream routine-workflow 10.0.1, files-to-prompt 0.6."""
    for venv, requirement in (
        ("upstream", "routine-workflow==10.0.1"),
        ("files-to-prompt", "files-to-prompt==0.6"),
    ):
        target = VENVS / venv
        if not (target / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
        done = subprocess.run(
            [str(target / "bin" / "python"), "-m", "pip", "install", "-q", requirement],
            check=False,
        )
        print(f"{requirement}: {'installed' if done.returncode == 0 else 'NOT installed'}")


# --- rows ------------------------------------------------------------------------------------


class Bench:
    """The settings of one invocation and the rows it measures."""

    def __init__(self, quick: bool, pairs: int | None) -> None:
        self.quick = quick
        self.pairs = pairs or (3 if quick else 5)
        self.heavy = max(1, (pairs or (1 if quick else 2)))  # pairs for rows of cold runs
        self.django = pristine_django(("db", "utils") if quick else ())
        self.rows: list[Row] = []

    def say(self, text: str) -> None:
        print(f"[{datetime.now().strftime('%H:%M:%S')}] {text}", flush=True)

    # ----- start-up ---------------------------------------------------------------------------

    def startup(self) -> None:
        home = WORK / "home-startup"
        row = Row("`--version` (fixed start-up)", "`python -c pass`", "(floor)")
        env = ours_env(home)
        timed([*OURS, "--version"], WORK, env)  # compiled once, untimed
        self.rows.append(
            interleave(
                row,
                self.pairs * 2,
                lambda: timed([*OURS, "--version"], WORK, env),
                lambda: timed([PY, "-c", "pass"], WORK, env),
            )
        )

    def dry_run(self) -> None:
        tree = WORK / "one-file"
        shutil.rmtree(tree, ignore_errors=True)
        tree.mkdir(parents=True)
        (tree / "pyproject.toml").write_text('[project]\nname = "one"\n')
        (tree / "app.py").write_text("x = 1\n")
        _git_init(tree)
        env = ours_env(WORK / "home-one-file")
        argv = [*OURS, "--dry-run", "--yes", "--quiet"]
        timed(argv, tree, env)  # warm: the reformat cache knows app.py
        row = Row("`--dry-run` on a one-file repo (warm)", "`black --version`", "<= 1x")
        self.rows.append(
            interleave(
                row,
                self.pairs * 2,
                lambda: timed(argv, tree, env),
                lambda: timed([str(BIN / "black"), "--version"], tree, env),
            )
        )

    # ----- warm paths -------------------------------------------------------------------------

    def warm(self) -> None:
        trees = [("django", self.django)] + ([] if self.quick else [("stdlib", pristine_stdlib())])
        for name, pristine in trees:
            self._warm_tree(name, pristine)

    def _warm_tree(self, name: str, pristine: Path) -> None:
        tree = copy_to(pristine, WORK / f"warm-{name}")
        home = WORK / f"home-warm-{name}"
        shutil.rmtree(home, ignore_errors=True)
        env = ours_env(home)
        self.say(f"warm {name}: three runs of the workflow first (the first is cold)")
        for _ in range(3):
            timed([*OURS, "--yes", "--quiet"], tree, env)
        # Stats of a file or directory changed less than 3 s ago are never trusted (the
        # racy window, docs/reformat.md); a warm run comes after it, as cron's next does.
        time.sleep(RACY_WINDOW_S + 0.5)
        timed([*OURS, "--yes", "--quiet"], tree, env)  # records what it may now trust
        files = count_files(tree, ".py")
        row = Row(
            f"reformat, warm, {name} ({files:,} .py)",
            "`python -c pass`, per 1,000 files",
            "<= 0.1 s / 1k files",
            kind=f"per1k:{files}",
        )
        argv = [*OURS, "reformat"]
        self.rows.append(
            interleave(
                row,
                self.pairs,
                lambda: timed(argv, tree, env),
                lambda: timed([PY, "-c", "pass"], tree, env),
            )
        )
        if name != "django":
            return
        black_env = anchor_env(WORK / "home-black-check")
        self.say("warm django: black --check once to fill black's cache")
        black = [str(BIN / "black"), "--check", "-q", "."]
        timed(black, tree, black_env, ok=(0, 1))
        row = Row(
            f"whole workflow, nothing changed (4th run), {name}",
            "`black --check .`, black's cache warm",
            "<= 0.5x",
        )
        self.rows.append(
            interleave(
                row,
                self.pairs,
                lambda: timed([*OURS, "--yes", "--quiet"], tree, env),
                lambda: timed(black, tree, black_env, ok=(0, 1)),
            )
        )

    # ----- the run right after a cold run ----------------------------------------------------

    def second_run(self) -> None:
        row = Row(
            "whole workflow, the run right after a cold run",
            "upstream routine-workflow 10.0.1, same run",
            "<= 0.1x",
        )
        upstream = venv_tool("upstream", "routine-workflow")
        if upstream is None:
            row.skipped = "upstream 10.0.1 not installed (run with --setup)"
            self.rows.append(row)
            return
        ours = _Snapshotted(
            "ours", self.django, lambda tree, home: ([*OURS, "--yes", "--quiet"], ours_env(home))
        )
        theirs = _Snapshotted(
            "upstream",
            self.django,
            lambda tree, home: (
                [
                    str(upstream),
                    "-nd",
                    "-y",
                    "-p",
                    str(tree),
                    "-l",
                    str(home / "logs"),
                    "--lock-dir",
                    str(home / "lock"),
                    "-s",
                    *UPSTREAM_STEPS,
                ],
                {**anchor_env(home), "HOME": str(home), "PATH": f"{BIN}:{os.environ['PATH']}"},
            ),
        )
        self.say("second run: one cold run of each side, kept as a snapshot")
        ours.prepare()
        theirs.prepare()
        row.note = (
            "ours: backup, reformat, clean_caches, dumps, prune_dumps; upstream: the same "
            "steps (" + " ".join(UPSTREAM_STEPS) + "), whose tools here are ruff, autoflake and "
            "isort (autoimport, projectclone and create-dump are not installed, so it skips them)"
        )
        self.rows.append(
            interleave(row, self.heavy + (0 if self.quick else 1), ours.second, theirs.second)
        )

    # ----- cold reformat ----------------------------------------------------------------------

    def cold_black(self) -> None:
        files = count_files(self.django, ".py")
        row = Row(
            f"black engine cold, django ({files:,} .py)",
            "autoflake + isort + black CLIs, black's cache empty",
            "CPU <= 0.8x",
        )

        def ours() -> Sample:
            tree = copy_to(self.django, WORK / "cold-ours")
            home = WORK / "home-cold-ours"
            shutil.rmtree(home, ignore_errors=True)
            return timed([*OURS, "reformat"], tree, ours_env(home), ok=(0, 1))

        def theirs() -> Sample:
            tree = copy_to(self.django, WORK / "cold-cli")
            home = WORK / "home-cold-cli"
            shutil.rmtree(home, ignore_errors=True)
            env = anchor_env(home)
            total = Sample(0.0, 0.0)
            for argv in CLI_STEPS:
                one = timed([str(BIN / argv[0]), *argv[1:]], tree, env, ok=(0, 1))
                total = Sample(total.wall + one.wall, total.cpu + one.cpu)
            return total

        self.say("cold black engine (a fresh copy per run; copying is not timed)")
        self.rows.append(interleave(row, self.heavy, ours, theirs))

    # ----- backup and dumps -------------------------------------------------------------------

    def backup(self) -> None:
        self._backup_tree("django", self.django)
        self._backup_tree("small (django/utils)", pristine_django(("utils",)))

    def _backup_tree(self, name: str, pristine: Path) -> None:
        tree = copy_to(pristine, WORK / f"backup-{name.split()[0]}")
        mib, files = size_mib(tree), count_files(tree)
        row = Row(f"backup, new, {name}: {files:,} files, {mib:.0f} MiB", "`tar czf`", "<= 1.3x")
        home, out = WORK / "home-backup", WORK / "backup-out"

        def ours() -> Sample:
            shutil.rmtree(out, ignore_errors=True)  # a new backup each time, never "unchanged"
            env = ours_env(home, ROUTINE_WORKFLOW_BACKUP_DIR=str(out))
            return timed([*OURS, "--steps", "backup", "--yes", "--quiet"], tree, env)

        def theirs() -> Sample:
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            return timed(["tar", "czf", str(out / "t.tar.gz"), "."], tree, child_env())

        self.rows.append(interleave(row, self.pairs, ours, theirs))

    def dumps(self) -> None:
        row = Row("dumps, django", "files-to-prompt 0.6 (`--markdown`)", "<= 0.9x")
        peer = venv_tool("files-to-prompt", "files-to-prompt") or (
            Path(found) if (found := shutil.which("files-to-prompt")) else None
        )
        if peer is None:
            row.skipped = "files-to-prompt not installed (run with --setup)"
            self.rows.append(row)
            return
        tree = copy_to(self.django, WORK / "dumps-django")
        home = WORK / "home-dumps"
        out = WORK / "dumps-out"

        def ours() -> Sample:
            shutil.rmtree(out, ignore_errors=True)  # a new dump each time, never "unchanged"
            env = ours_env(home, ROUTINE_WORKFLOW_DUMP_DIR=str(out))
            return timed([*OURS, "--steps", "dumps", "--yes", "--quiet"], tree, env)

        def theirs() -> Sample:
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            argv = [str(peer), ".", "--markdown", "--include-hidden", "-o", str(out / "d.md")]
            return timed(argv, tree, child_env())

        timed([*OURS, "--version"], tree, ours_env(home))
        self.rows.append(interleave(row, self.pairs, ours, theirs))

    def ruff(self) -> None:
        script = HERE / "bench_ruff.py"
        if not script.exists():
            row = Row(
                "ruff engine cold / warm",
                "`ruff check --fix --select F401,I .; ruff format .`",
                "<= 1.5x / <= 1.2x",
            )
            row.skipped = "benchmarks/bench_ruff.py is not there yet"
            self.rows.append(row)
            return
        self.say("ruff engine: bench_ruff.py prints its own rows")
        args = [PY, str(script), *(["--quick"] if self.quick else [])]
        subprocess.run(args, cwd=HERE, env=child_env(), check=False)


class _Snapshotted:
    """One side of "the run right after a cold run": the state after its cold run, kept, and
    put back (same paths: the project id is a hash of the path) before each timed run."""

    def __init__(
        self,
        name: str,
        pristine: Path,
        command: Callable[[Path, Path], tuple[list[str], dict[str, str]]],
    ) -> None:
        self.tree = WORK / f"second-{name}" / "django-project"
        self.home = WORK / f"second-{name}-home"
        self.pristine = pristine
        self.argv, self.env = command(self.tree, self.home)

    def prepare(self) -> None:
        """A fresh copy, its cold run (untimed), then the snapshot of tree and state."""
        shutil.rmtree(self.home, ignore_errors=True)
        self.home.mkdir(parents=True)
        copy_to(self.pristine, self.tree)
        timed(self.argv, self.tree, self.env, ok=(0, 1))
        copy_to(self.tree, self._snap(self.tree))
        copy_to(self.home, self._snap(self.home))

    def second(self) -> Sample:
        """Back to just after the cold run, then the timed second run."""
        copy_to(self._snap(self.tree), self.tree)
        copy_to(self._snap(self.home), self.home)
        return timed(self.argv, self.tree, self.env, ok=(0, 1))

    @staticmethod
    def _snap(path: Path) -> Path:
        return path.with_name(path.name + ".snapshot")


ROWS = ("startup", "dry_run", "warm", "second_run", "cold_black", "backup", "dumps", "ruff")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small trees, fewer pairs")
    parser.add_argument("--setup", action="store_true", help="install the anchors, then exit")
    parser.add_argument("--pairs", type=int, help="pairs per row (default 5; --quick 3)")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"some of: {','.join(ROWS)}")
    args = parser.parse_args()
    if args.setup:
        setup()
        return 0
    WORK.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    bench = Bench(args.quick, args.pairs)
    for name in args.rows.split(","):
        if name not in ROWS:
            parser.error(f"unknown row {name!r}; rows: {', '.join(ROWS)}")
        bench.say(f"row {name}")
        getattr(bench, name)()
    minutes = (time.monotonic() - started) / 60
    print()
    print(
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, Python {platform.python_version()}, "
        f"{'--quick, ' if args.quick else ''}{minutes:.1f} min"
    )
    print(table(bench.rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
