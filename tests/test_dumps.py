"""The dumps step: the built-in Markdown dump (read back exactly) and create-dump integration."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_cli

from routine_workflow.config import WorkflowConfig, load_config
from routine_workflow.dumps import builtin as codedump
from routine_workflow.dumps import languages
from routine_workflow.dumps import names as dumpnames
from routine_workflow.dumps import writer as dumpwriter
from routine_workflow.dumps.external import create_dump_argv, external_commands
from routine_workflow.steps.base import Status, StepContext, StepResult
from routine_workflow.steps.dumps import DumpsStep

GIT = [
    "git",
    "-c",
    "user.name=Test",
    "-c",
    "user.email=test@example.com",
    "-c",
    "commit.gpgsign=false",
]
LIMIT = 4000

#: The UTF-8 files of the fixture repo, in the order the dump must list them.
TEXT_FILES: dict[str, bytes] = {
    ".gitignore": b"secret.env\ngenerated/\n",
    "README.md": b"# Demo\n\n```python\nprint('fenced')\n```\n\n````\nfour\n````\n",
    "crlf.txt": b"windows\r\nline endings\r\n",
    "empty.py": b"",
    "no_newline.txt": b"last line has no newline",
    "pyproject.toml": (
        f'[project]\nname = "demo"\n\n[tool.routine-workflow]\n'
        f'dump_max_file_size = {LIMIT}\ndump_engine = "builtin"\n'
    ).encode(),
    "src/pkg/__init__.py": b'"""Package."""\n',
    "src/pkg/mod.py": "def greet() -> str:\n    return 'héllo ✓ 世界'\n".encode(),
    "src/pkg/ticks `odd`.md": b"inline `code` and ``double``\n",
    "tabs\tand trailing spaces.txt": b"a  \n\tb\n\n\n",
}
#: Files that are in the tree but must not be inlined, with the reason given.
SKIPPED = {
    "blob.dat": "binary (contains NUL bytes)",
    "huge.txt": f"larger than {LIMIT:,} bytes",
    "logo.png": "binary (by extension)",
    "noise.dat": "binary (not decodable as text)",
    "src/link.py": "symlink (not followed)",
}


def make_repo(root: Path) -> Path:
    """A small real git repository with one commit and every kind of file the dump meets."""
    for rel, data in TEXT_FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "blob.dat").write_bytes(b"abc\0def" * 10)
    (root / "huge.txt").write_bytes(b"x" * (LIMIT + 1))
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (root / "noise.dat").write_bytes(bytes(range(128, 256)) * 4)
    (root / "latin1.txt").write_bytes("café crème\n".encode("latin-1"))
    (root / "src" / "link.py").symlink_to("pkg/mod.py")
    (root / "secret.env").write_text("TOKEN=do-not-dump\n")
    (root / "generated").mkdir()
    (root / "generated" / "out.py").write_text("GENERATED = 'do-not-dump'\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run([*GIT, "-C", str(root), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(root), "commit", "-q", "-m", "fixture"], check=True)
    return root


@pytest.fixture
def repo(project: Path) -> Path:
    return make_repo(project)


def config_for(root: Path, **flags: object) -> WorkflowConfig:
    return load_config({"project_root": root, **flags}, cwd=root)


def run_step(config: WorkflowConfig) -> StepResult:
    return DumpsStep().run(StepContext(config, logging.getLogger("test.dumps")))


def dumps_in(directory: Path, root: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if dumpnames.parse_dump_name(p.name, root))


# --- a parser, written from the format's description, that reads a dump back -----------------


def unspan(text: str) -> str:
    """Undo an inline code span (CommonMark rules)."""
    ticks = len(text) - len(text.lstrip("`"))
    inner = text[ticks:-ticks]
    if len(inner) >= 2 and inner[0] == inner[-1] == " " and inner.strip(" "):
        inner = inner[1:-1]
    return inner


def parse_dump(data: bytes) -> list[tuple[str, bytes, bool]]:
    """(path, content, flagged) for every file section, in order."""
    lines = data.decode("utf-8").split("\n")
    i = lines.index("## Files") + 1
    files = []
    while i < len(lines):
        if not lines[i].startswith("### "):
            i += 1
            continue
        rel = unspan(lines[i][4:])
        i += 2
        flagged = lines[i].startswith("> Not valid UTF-8")
        if flagged:
            i += 2
        fence = lines[i][: len(lines[i]) - len(lines[i].lstrip("`"))]
        assert len(fence) >= 3
        i += 1
        body = []
        while lines[i] != fence:
            body.append(lines[i] + "\n")
            i += 1
        i += 1
        content = "".join(body)
        if i < len(lines) and lines[i] == codedump.NO_NEWLINE:
            content = content[:-1]
            i += 1
        files.append((rel, content.encode("utf-8"), flagged))
    return files


# --- the built-in dump ------------------------------------------------------------------------


def test_dump_contains_every_text_file_once_in_order_and_round_trips(repo: Path) -> None:
    config = config_for(repo)
    result = run_step(config)
    assert result.status is Status.CHANGED, result.summary
    [dump] = dumps_in(config.dump_dir, repo)
    files = parse_dump(dump.read_bytes())
    names = [rel for rel, _, _ in files]
    assert names == sorted(set(names), key=names.index)  # each exactly once
    utf8 = {rel: data for rel, data, flagged in files if not flagged}
    assert utf8 == TEXT_FILES
    assert names == [
        ".gitignore",
        "README.md",
        "crlf.txt",
        "empty.py",
        "latin1.txt",
        "no_newline.txt",
        "pyproject.toml",
        "src/pkg/__init__.py",
        "src/pkg/mod.py",
        "src/pkg/ticks `odd`.md",
        "tabs\tand trailing spaces.txt",
    ]
    assert result.counts["files"] == len(names)


def test_order_is_stable_between_runs(repo: Path) -> None:
    config = config_for(repo)
    run_step(config)
    (repo / "src" / "pkg" / "mod.py").touch()  # a new mtime must not reorder anything
    # The same bytes again: the first dump is kept (tests/test_dumps_unchanged.py).
    assert run_step(config).status is Status.OK
    assert len(dumps_in(config.dump_dir, repo)) == 1


def test_binary_huge_ignored_and_symlinked_files_are_not_inlined(repo: Path) -> None:
    (repo / "bad\nname.py").write_text("x = 1\n")
    config = config_for(repo)
    result = run_step(config)
    [dump] = dumps_in(config.dump_dir, repo)
    text = dump.read_text(encoding="utf-8")
    inlined = {rel for rel, _, _ in parse_dump(dump.read_bytes())}
    skipped_section = text.split("\n## Skipped\n", 1)[1].split("\n## Files\n", 1)[0]
    for rel, reason in SKIPPED.items():
        assert rel not in inlined
        assert f"- `{rel}`: {reason}" in skipped_section
    assert "name contains a line break" in skipped_section
    assert "bad\nname.py" not in inlined
    assert "x" * (LIMIT + 1) not in text
    # ignored by .gitignore: not inlined, not even mentioned
    assert "do-not-dump" not in text
    assert "secret.env" not in text.replace("secret.env\n", "", 1)  # only inside .gitignore
    assert "generated/out.py" not in text
    assert result.counts["skipped"] == len(SKIPPED) + 1
    assert any("blob.dat" in line for line in result.details)


def test_likely_secrets_are_named_but_never_inlined(project: Path) -> None:
    secrets = {
        ".env": "API_TOKEN=s3cret-env\n",
        ".env.production": "API_TOKEN=s3cret-prod\n",
        "deploy/id_ed25519": "-----BEGIN OPENSSH PRIVATE KEY-----\ns3cret-key\n",
        "certs/server.pem": "-----BEGIN PRIVATE KEY-----\ns3cret-pem\n",
        "conf/vault.txt": "s3cret-by-path\n",
    }
    kept = {
        ".env.example": "API_TOKEN=changeme\n",
        "deploy/id_ed25519.pub": "ssh-ed25519 AAAA public\n",
        "vault.txt": "not the configured path\n",
        "src/keys.py": "KEY_NAMES = ['a']\n",
    }
    for rel, text in {**secrets, **kept}.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text)
    patterns = ["conf/vault.txt", *config_for(project).dump_secret_patterns]
    config = config_for(project, dump_engine="builtin").with_changes(
        dump_secret_patterns=tuple(patterns)
    )
    assert run_step(config).status is Status.CHANGED
    [dump] = dumps_in(config.dump_dir, project)
    text = dump.read_text(encoding="utf-8")
    inlined = {rel for rel, _, _ in parse_dump(dump.read_bytes())}
    assert "s3cret" not in text
    assert set(kept) <= inlined and not set(secrets) & inlined
    skipped_section = text.split("\n## Skipped\n", 1)[1]
    for rel in secrets:
        assert f"- `{rel}`: may hold secrets (dump_secret_patterns)" in skipped_section
    # An empty list drops the user's patterns; the built-in credential names still hold.
    builtin_only = config.with_changes(dump_secret_patterns=(), dump_dir=project.parent / "none")
    run_step(builtin_only)
    [dump] = dumps_in(builtin_only.dump_dir, project)
    inlined = {rel for rel, _, _ in parse_dump(dump.read_bytes())}
    assert inlined & set(secrets) == {"conf/vault.txt"}
    # "!*" is the user saying "inline them all" (none of these holds a real key's body).
    everything = config.with_changes(dump_secret_patterns=("!*",), dump_dir=project.parent / "all")
    run_step(everything)
    [dump] = dumps_in(everything.dump_dir, project)
    assert set(secrets) - {"conf/vault.txt"} <= {rel for rel, _, _ in parse_dump(dump.read_bytes())}


def test_non_utf8_text_is_decoded_with_replacement_and_flagged(repo: Path) -> None:
    config = config_for(repo)
    result = run_step(config)
    [dump] = dumps_in(config.dump_dir, repo)
    flagged = {rel: data for rel, data, flag in parse_dump(dump.read_bytes()) if flag}
    assert flagged == {"latin1.txt": "caf\ufffd cr\ufffdme\n".encode()}
    assert "- **Not UTF-8:** 1 file(s)" in dump.read_text(encoding="utf-8")
    assert result.counts["not_utf8"] == 1


def test_header_names_project_commit_time_counts_and_size(repo: Path) -> None:
    config = config_for(repo)
    run_step(config)
    [dump] = dumps_in(config.dump_dir, repo)
    head = dump.read_text(encoding="utf-8").split("\n## Tree\n", 1)[0]
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    source = sum(len(d) for d in TEXT_FILES.values()) + len("caf\ufffd cr\ufffdme\n".encode())
    assert head.startswith("# Code dump: project\n")
    assert f"- **Git commit:** `{commit}`" in head
    stamp = dumpnames.parse_dump_name(dump.name, repo)
    assert stamp is not None
    assert f"- **Created (UTC):** {stamp:%Y-%m-%dT%H:%M:%SZ}" in head
    assert f"- **Files:** {len(TEXT_FILES) + 1} inlined, {len(SKIPPED)} skipped" in head
    assert f"({source:,} bytes of source)" in head


def test_tree_lists_files_and_marks_skipped_ones(repo: Path) -> None:
    config = config_for(repo)
    run_step(config)
    [dump] = dumps_in(config.dump_dir, repo)
    tree = dump.read_text(encoding="utf-8").split("\n## Tree\n", 1)[1].split("\n## Skipped", 1)[0]
    assert "├── README.md\n" in tree
    assert "│   ├── link.py  [skipped: symlink (not followed)]" in tree
    assert "│   └── pkg/\n" in tree
    assert "│       └── ticks `odd`.md\n" in tree


def test_no_git_repository_is_fine(project: Path) -> None:
    (project / "a.py").write_text("a = 1\n")
    config = config_for(project).with_changes(dump_engine="builtin")
    result = run_step(config)
    [dump] = dumps_in(config.dump_dir, project)
    assert "- **Git commit:** none (not a git checkout)" in dump.read_text(encoding="utf-8")
    assert result.counts["files"] == 2


def test_a_project_below_a_repositorys_top_names_the_repositorys_commit(tmp_path: Path) -> None:
    top = tmp_path / "mono"
    (top / "service").mkdir(parents=True)
    (top / "service" / "app.py").write_text("app = 1\n")
    subprocess.run(["git", "init", "-q", str(top)], check=True)
    subprocess.run([*GIT, "-C", str(top), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(top), "commit", "-q", "-m", "one"], check=True)
    head = subprocess.run(
        ["git", "-C", str(top), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    config = config_for(top / "service").with_changes(dump_engine="builtin")
    run_step(config)
    [dump] = dumps_in(config.dump_dir, top / "service")
    assert f"- **Git commit:** `{head}`" in dump.read_text(encoding="utf-8")


def test_sidecar_is_in_sha256sum_format(repo: Path) -> None:
    config = config_for(repo)
    run_step(config)
    [dump] = dumps_in(config.dump_dir, repo)
    sidecar = dumpnames.sidecar(dump)
    digest = hashlib.sha256(dump.read_bytes()).hexdigest()
    assert sidecar.read_text() == f"{digest}  {dump.name}\n"
    if shutil.which("sha256sum"):
        check = subprocess.run(
            ["sha256sum", "-c", sidecar.name], cwd=dump.parent, capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout + check.stderr
    assert [p.name for p in config.dump_dir.iterdir() if p.name.startswith(".")] == []


# dump_dir = "." (the project root itself) is refused by the configuration: see
# tests/test_unattended_config.py::test_state_in_the_project_root_is_refused.
@pytest.mark.parametrize("dump_dir", ["dumps"])
def test_dump_dir_inside_the_project_never_dumps_earlier_dumps(repo: Path, dump_dir: str) -> None:
    with (repo / "pyproject.toml").open("a") as handle:
        handle.write(f'dump_dir = "{dump_dir}"\n')
    config = config_for(repo)
    assert config.dump_dir.resolve() == (repo / dump_dir).resolve()
    run_step(config)
    (repo / f".{dumpnames.dump_name(repo)}.x1y2.rw-tmp").write_text("left by a SIGKILL\n")
    run_step(config)
    _first, second = dumps_in(config.dump_dir, repo)
    inlined = [rel for rel, _, _ in parse_dump(second.read_bytes())]
    assert not any("_dump_" in rel for rel in inlined)
    assert b"# Code dump: project" not in second.read_bytes().split(b"## Files", 1)[1]


def test_dry_run_writes_nothing_and_estimates_the_real_size(repo: Path) -> None:
    config = config_for(repo)
    dry = run_step(config.with_changes(dry_run=True))
    assert dry.status is Status.OK
    assert not config.dump_dir.exists()
    pattern = r"would write project-[0-9a-f]{12}_dump_\d{8}T\d{6}Z\.md \(11 files, 5 skipped"
    assert re.search(pattern, dry.summary)
    real = run_step(config)
    [dump] = dumps_in(config.dump_dir, repo)
    assert dry.counts["bytes"] == real.counts["bytes"] == dump.stat().st_size
    assert dry.counts["files"] == real.counts["files"]


def test_two_dumps_in_the_same_second_do_not_overwrite(repo: Path) -> None:
    config = config_for(repo)
    for number in range(3):
        (repo / "counter.txt").write_text(f"{number}\n")  # a new dump each time
        run_step(config)
    assert len(dumps_in(config.dump_dir, repo)) == 3


def test_unreadable_files_are_skipped_not_fatal(repo: Path) -> None:
    fifo = repo / "pipe.txt"
    os.mkfifo(fifo)
    config = config_for(repo)
    plan = codedump.plan_dump(config)
    [item] = [i for i in plan.items if i.rel == "pipe.txt"]
    assert item.reason == "not a regular file"
    # A regular file swapped for a FIFO after discovery is neither read nor waited on.
    item = codedump.Item(fifo, "pipe.txt")
    assert codedump.read_source(item, LIMIT) is None
    assert item.reason == "not a regular file"
    gone = codedump.Item(repo / "gone.txt", "gone.txt")
    assert codedump.read_source(gone, LIMIT) is None
    assert gone.reason is not None and gone.reason.startswith("unreadable:")


def test_a_file_over_the_limit_is_skipped_by_its_size_unread(repo: Path) -> None:
    item = codedump.Item(repo / "huge.txt", "huge.txt")
    assert codedump.read_source(item, LIMIT) is None
    assert item.reason == f"larger than {LIMIT:,} bytes ({LIMIT + 1:,} bytes)"


def test_end_to_end_through_the_cli(repo: Path, tmp_path: Path) -> None:
    dump_dir = tmp_path / "out"
    proc = run_cli(
        ["--steps", "dumps", "--yes"], repo, env={"ROUTINE_WORKFLOW_DUMP_DIR": str(dump_dir)}
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [dump] = dumps_in(dump_dir, repo)
    assert dumpnames.sidecar(dump).is_file()
    assert "dumps  changed" in proc.stdout
    assert {rel: d for rel, d, f in parse_dump(dump.read_bytes()) if not f} == TEXT_FILES


def test_end_to_end_dry_run(repo: Path, tmp_path: Path) -> None:
    dump_dir = tmp_path / "out"
    proc = run_cli(
        ["--steps", "dumps", "--dry-run"], repo, env={"ROUTINE_WORKFLOW_DUMP_DIR": str(dump_dir)}
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"would write project-[0-9a-f]{12}_dump_", proc.stdout)
    assert not dump_dir.exists()


# --- format helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fence"),
    [
        (b"plain", b"```"),
        (b"``two``", b"```"),
        (b"```", b"````"),
        (b"a\n`````\nb", b"``````"),
    ],
)
def test_fence_is_longer_than_any_backtick_run(data: bytes, fence: bytes) -> None:
    assert codedump.fence_for(data) == fence


@pytest.mark.parametrize("text", ["plain.py", "a`b", "`edge`", " both ", "  ", "x``y`"])
def test_code_span_round_trips(text: str) -> None:
    assert unspan(codedump.code_span(text)) == text


@pytest.mark.parametrize(
    ("rel", "lang"),
    [
        ("a/b.py", "python"),
        ("Makefile", "makefile"),
        ("x/Dockerfile.dev", "dockerfile"),
        ("README", "text"),
        (".bashrc", "text"),
        ("q.YAML", "yaml"),
        ("odd.unknown", "text"),
    ],
)
def test_language_tags(rel: str, lang: str) -> None:
    assert languages.language(rel) == lang


# --- create-dump ------------------------------------------------------------------------------


FAKE = """#!/bin/sh
printf '%s\\n' "$@" > "$FAKE_ARGS"
pwd >> "$FAKE_ARGS"
echo "fake create-dump: writing"
"""


def fake_create_dump(bin_dir: Path, tail: str) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "create-dump"
    script.write_text(FAKE + tail)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def plain_project(project: Path) -> Path:
    (project / "a.py").write_text("a = 1\n")
    return project


def test_create_dump_on_path_is_used(project: Path, tmp_path: Path) -> None:
    root = plain_project(project)
    fake_create_dump(tmp_path / "bin", 'touch "$4/fake_all_create_dump.md"\n')
    dump_dir, args = tmp_path / "dumps", tmp_path / "args.txt"
    env = {
        "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "FAKE_ARGS": str(args),
        "ROUTINE_WORKFLOW_DUMP_DIR": str(dump_dir),
    }
    proc = run_cli(["--steps", "dumps", "--yes"], root, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert args.read_text().splitlines() == [
        "single",
        ".",
        "--dest",
        str(dump_dir),
        "--yes",
        "--no-progress",
        str(root),
    ]
    assert sorted(p.name for p in dump_dir.iterdir()) == ["fake_all_create_dump.md"]
    assert "create-dump succeeded: 1 new file in" in proc.stdout


def test_failing_create_dump_fails_the_step_with_its_message(project: Path, tmp_path: Path) -> None:
    root = plain_project(project)
    fake_create_dump(tmp_path / "bin", 'echo "error: cannot parse config" >&2\nexit 3\n')
    env = {
        "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "FAKE_ARGS": str(tmp_path / "args.txt"),
        "ROUTINE_WORKFLOW_DUMP_DIR": str(tmp_path / "dumps"),
    }
    proc = run_cli(["--steps", "dumps", "--yes"], root, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "create-dump exited with 3" in proc.stdout
    assert "error: cannot parse config" in proc.stdout
    assert dumps_in(tmp_path / "dumps", root) == []


def test_configured_create_dump_script_is_used(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = plain_project(project)
    script = fake_create_dump(tmp_path / "elsewhere", "")
    monkeypatch.setenv("FAKE_ARGS", str(tmp_path / "args.txt"))
    config = config_for(root, create_dump_script=str(script))
    result = run_step(config)
    assert result.status is Status.OK, result.summary
    assert "nothing new" in result.summary
    assert (tmp_path / "args.txt").read_text().splitlines()[:2] == ["single", "."]


def test_missing_create_dump_script_is_a_config_error(project: Path) -> None:
    proc = run_cli(
        ["--steps", "dumps", "--yes", "--create-dump-script", "no/such/create-dump"], project
    )
    assert proc.returncode == 2
    assert "--create-dump-script" in proc.stderr
    assert "does not exist" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_clean_cmd_runs_before_run_cmd(project: Path, tmp_path: Path) -> None:
    root = plain_project(project)
    log = tmp_path / "order.txt"
    py = sys.executable
    clean = f"{py} -c \"open(r'{log}', 'a').write('clean\\n')\""
    run = f"{py} -c \"import os; open(r'{log}', 'a').write('run ' + os.getcwd() + '\\n')\""
    config = config_for(root, create_dump_run_cmd=run).with_changes(create_dump_clean_cmd=clean)
    result = run_step(config)
    assert result.status is Status.OK, result.summary
    assert log.read_text().splitlines() == ["clean", f"run {root}"]


def test_failing_clean_cmd_stops_before_run_cmd(project: Path, tmp_path: Path) -> None:
    root = plain_project(project)
    marker = tmp_path / "ran"
    config = config_for(root).with_changes(
        create_dump_clean_cmd=f"{sys.executable} -c 'import sys; sys.exit(\"clean failed\")'",
        create_dump_run_cmd=f"touch {marker}",
    )
    result = run_step(config)
    assert result.status is Status.FAILED
    assert result.summary == "create_dump_clean_cmd exited with 1: clean failed"
    assert not marker.exists()


def test_create_dump_timeout_fails_the_step(project: Path) -> None:
    root = plain_project(project)
    config = config_for(root, create_dump_run_cmd="sleep 30").with_changes(script_timeout=0.5)
    result = run_step(config)
    assert result.status is Status.FAILED
    assert result.summary.startswith("create_dump_run_cmd timed out after 0.5s")


def test_run_cmd_that_cannot_start_fails_clearly(project: Path) -> None:
    config = config_for(plain_project(project), create_dump_run_cmd="no-such-program-xyz --go")
    result = run_step(config)
    assert result.status is Status.FAILED
    assert result.summary.startswith("create_dump_run_cmd: cannot run no-such-program-xyz")


def test_create_dump_dry_run_runs_nothing(project: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    config = config_for(plain_project(project), create_dump_run_cmd=f"touch {marker}")
    result = run_step(config.with_changes(dry_run=True))
    assert result.status is Status.SKIPPED
    assert result.summary == f"dry run: would run touch {marker}"
    assert not marker.exists()
    assert not config.dump_dir.exists()


def test_engine_choice(project: Path) -> None:
    base = config_for(project).with_changes(dump_engine="auto")
    found = {"create-dump": "/opt/bin/create-dump"}.get
    assert external_commands(base, which=lambda _: None) is None
    assert external_commands(base, which=found) == [
        ("create-dump", create_dump_argv(["/opt/bin/create-dump"], base.dump_dir))
    ]
    assert external_commands(base.with_changes(dump_engine="builtin"), which=found) is None
    with pytest.raises(ValueError, match="create-dump is not installed"):
        external_commands(base.with_changes(dump_engine="create-dump"), which=lambda _: None)
    with pytest.raises(ValueError, match="create-dump is not installed"):
        external_commands(base.with_changes(create_dump_clean_cmd="true"), which=lambda _: None)
    with pytest.raises(ValueError, match="create_dump_run_cmd: cannot parse"):
        external_commands(base.with_changes(create_dump_run_cmd="x 'unclosed"))
    with pytest.raises(ValueError, match="create_dump_run_cmd: empty command"):
        external_commands(base.with_changes(create_dump_run_cmd="   "))


def test_engine_create_dump_without_the_program_fails_the_step(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(project))  # no create-dump anywhere
    result = run_step(config_for(project).with_changes(dump_engine="create-dump"))
    assert result.status is Status.FAILED
    assert "create-dump is not installed" in result.summary


def test_builtin_engine_ignores_create_dump_on_path(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_create_dump(tmp_path / "bin", "exit 9\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    result = run_step(config_for(repo))  # the fixture's pyproject says dump_engine = "builtin"
    assert result.status is Status.CHANGED, result.summary


def test_a_body_larger_than_the_memory_limit_spills_to_disk_intact(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dumpwriter, "SPOOL_LIMIT", 64)  # spill after every file or two
    config = config_for(repo)
    run_step(config)
    [dump] = dumps_in(config.dump_dir, repo)
    assert {rel: d for rel, d, f in parse_dump(dump.read_bytes()) if not f} == TEXT_FILES
    digest = hashlib.sha256(dump.read_bytes()).hexdigest()
    assert dumpnames.sidecar(dump).read_text().split()[0] == digest


def test_without_git_on_path_the_header_says_so(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    config = config_for(repo)
    result = run_step(config)
    assert result.status is Status.CHANGED
    [dump] = dumps_in(config.dump_dir, repo)
    assert "- **Git commit:** none (not a git checkout)" in dump.read_text(encoding="utf-8")


def test_a_file_name_that_is_not_utf8_is_dumped_with_an_escaped_name(repo: Path) -> None:
    odd = os.fsencode(repo) + b"/caf\xe9.py"
    with open(odd, "wb") as handle:
        handle.write(b"x = 1\n")
    config = config_for(repo)
    result = run_step(config)
    assert result.status is Status.CHANGED
    [dump] = dumps_in(config.dump_dir, repo)
    files = {rel: data for rel, data, _ in parse_dump(dump.read_bytes())}
    assert files["caf\\udce9.py"] == b"x = 1\n"


def test_a_dump_dir_that_cannot_be_created_fails_the_step_cleanly(
    repo: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    config = config_for(repo).with_changes(dump_dir=blocker / "dumps")
    result = run_step(config)
    assert result.status is Status.FAILED
    assert result.summary.startswith(f"cannot write the dump: {blocker / 'dumps'}: ")


def test_long_skip_lists_are_summarised_in_the_result(project: Path) -> None:
    for n in range(60):
        (project / f"img{n:02}.png").write_bytes(b"\x89PNG")
        (project / f"latin{n:02}.txt").write_bytes(b"caf\xe9\n")
    result = run_step(config_for(project).with_changes(dump_engine="builtin"))
    assert result.counts["skipped"] == 60
    assert result.counts["not_utf8"] == 60
    assert "... and 10 more skipped (listed in the dump)" in result.details
    assert "... and 10 more not UTF-8 (flagged in the dump)" in result.details


def test_create_dump_with_a_dump_dir_that_cannot_be_created_fails(
    project: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    config = config_for(plain_project(project), create_dump_run_cmd="true").with_changes(
        dump_dir=blocker / "dumps"
    )
    result = run_step(config)
    assert result.status is Status.FAILED
    assert result.summary.startswith(f"cannot create {blocker / 'dumps'}: ")


@pytest.mark.slow
def test_a_timeout_mid_dump_leaves_a_whole_dump_or_none(project: Path, tmp_path: Path) -> None:
    # Enough files that the dump takes a while; whether the timeout lands before, during or
    # after the write, the dump dir must hold only complete dumps with matching checksums.
    for n in range(40):
        sub = project / f"pkg{n:02}"
        sub.mkdir()
        for m in range(50):
            (sub / f"mod{m:02}.py").write_text(f"# {n} {m}\n" + "x = 1\n" * 1500)
    for timeout in ("0.1", "0.2", "0.4", "30"):
        dump_dir = tmp_path / f"dumps-{timeout}"
        proc = run_cli(
            ["--steps", "dumps", "--yes", "--workflow-timeout", timeout],
            project,
            env={"ROUTINE_WORKFLOW_DUMP_DIR": str(dump_dir)},
        )
        assert proc.returncode in (0, 124), proc.stdout + proc.stderr
        leftovers = [p.name for p in dump_dir.iterdir()] if dump_dir.exists() else []
        dumps = dumps_in(dump_dir, project)
        assert sorted(leftovers) == sorted(
            [d.name for d in dumps] + [dumpnames.sidecar(d).name for d in dumps]
        )
        for dump in dumps:
            digest = hashlib.sha256(dump.read_bytes()).hexdigest()
            assert dumpnames.sidecar(dump).read_text() == f"{digest}  {dump.name}\n"
        # A timeout can land after the dump is renamed into place (during the run's own
        # bookkeeping), so 124 may leave one whole dump; success must always leave one.
        if proc.returncode == 0:
            assert len(dumps) == 1
        else:
            assert len(dumps) <= 1


def test_an_unparsable_create_dump_command_exits_2_before_any_step(
    project: Path, tmp_path: Path
) -> None:
    before = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    proc = run_cli(
        ["--yes", "--create-dump-run-cmd", "create-dump single 'unclosed"],
        project,
        env={"ROUTINE_WORKFLOW_DUMP_DIR": str(tmp_path / "dumps")},
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "create_dump_run_cmd: cannot parse" in lines[0], proc.stderr
    assert not (tmp_path / "dumps").exists()
    assert {p: p.read_bytes() for p in project.rglob("*") if p.is_file()} == before
