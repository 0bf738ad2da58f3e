"""Secrets never reach a dump: credential files by name and place, secrets in any file by content.

Every token here is made up at run time from a seeded generator, so this file holds no
string that a secret scanner (ours included) would take for a real secret.
"""

from __future__ import annotations

import json
import logging
import random
import re
import string
from pathlib import Path

import pytest
from helpers import run_cli

from routine_workflow.config import load_config
from routine_workflow.dumps import sensitive
from routine_workflow.dumps.sensitive import SecretNames, credential_kind, find_secrets
from routine_workflow.steps.base import Status, StepContext, StepResult
from routine_workflow.steps.dumps import DumpsStep

RNG = random.Random(20)  # noqa: S311 (made-up tokens, seeded so failures repeat)
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"


def rand(alphabet: str, n: int) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


def pem_body(lines: int = 4) -> str:
    return "\n".join(rand(B64, 64) for _ in range(lines))


def aws_key_id() -> str:
    return "AK" + "IA" + rand(string.ascii_uppercase + "234567", 16)


def aws_secret() -> str:
    return rand(B64, 40)


def private_key(kind: str = "RSA ") -> str:
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{pem_body()}\n-----END {kind}PRIVATE KEY-----\n"


def gcp_service_account() -> str:
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "demo",
            "private_key_id": rand("0123456789abcdef", 40),
            "private_key": private_key(""),
            "client_email": "demo@demo.iam.gserviceaccount.com",
        },
        indent=2,
    )


#: (rule label, a line of text holding one secret of that kind)
SAMPLES = [
    ("AWS access key id", f'AWS_ACCESS_KEY_ID = "{aws_key_id()}"'),
    ("AWS access key id", f"aws_access_key_id={aws_key_id()}"),
    ("AWS secret access key", f'AWS_SECRET_ACCESS_KEY = "{aws_secret()}"'),
    ("AWS secret access key", f"aws_secret_access_key = {aws_secret()}"),
    ("AWS secret access key", f'{{"SecretAccessKey": "{aws_secret()}"}}'),
    ("AWS secret access key", f"secretAccessKey: '{aws_secret()}'"),
    ("GitHub token", '{"token": "' + "gh" + "p_" + rand(ALNUM, 36) + '"}'),
    ("GitHub token", "GH_TOKEN=" + "gh" + "s_" + rand(ALNUM, 36)),
    ("GitHub token", "token = '" + "github" + "_pat_" + rand(ALNUM + "_", 82) + "'"),
    ("GitLab token", "private_token: " + "gl" + "pat-" + rand(ALNUM, 20)),
    (
        "Slack token",
        "SLACK="
        + "xo"
        + f"xb-{rand(string.digits, 11)}-{rand(string.digits, 12)}-"
        + rand(ALNUM, 24),
    ),
    ("Stripe live key", 'stripe.api_key = "' + "sk" + "_live_" + rand(ALNUM, 24) + '"'),
    ("private key", private_key()),
    ("private key", private_key("OPENSSH ")),
    ("private key", private_key("EC ")),
    (
        "private key",
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,"
        + rand("0123456789ABCDEF", 32)
        + "\n\n"
        + pem_body(),
    ),
    ("private key", "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n" + pem_body()),
    ("private key", 'KEY = "' + private_key().replace("\n", "\\n") + '"'),
    ("GCP service-account key", gcp_service_account()),
    ("Google API key", 'apiKey: "' + "AI" + "za" + rand(ALNUM + "_-", 35) + '"'),
    ("npm token", "//registry.npmjs.org/:_authToken=" + "np" + "m_" + rand(ALNUM, 36)),
    ("PyPI token", "password = " + "py" + "pi-AgEIcHlwaS5vcmc" + rand(ALNUM + "_-", 80)),
    ("OpenAI API key", "OPENAI_API_KEY=" + "sk" + "-proj-" + rand(ALNUM + "_-", 64)),
    ("Anthropic API key", "ANTHROPIC_API_KEY=" + "sk" + "-ant-api03-" + rand(ALNUM + "_-", 93)),
]


@pytest.mark.parametrize(("label", "text"), SAMPLES)
def test_each_rule_finds_its_secret_with_the_line_where_it_starts(label: str, text: str) -> None:
    for before, after in (("", ""), ("# a\n\nx = 1\n", "\ny = 2\n"), ("a" * 5000 + "\n", "")):
        data = (before + text + after).encode()
        found = {f.label: f.line for f in find_secrets(data)}
        assert label in found, (label, text)
        starts = text.find('"private_key"') if label.startswith("GCP") else 0
        assert found[label] == before.count("\n") + text[:starts].count("\n") + 1
    for finding in find_secrets(text.encode()):  # the message never holds the secret
        assert str(finding) in sensitive.describe([finding])
        assert not set(re.findall(r"[A-Za-z0-9_+/-]{16,}", str(finding)))


@pytest.mark.parametrize(
    "text",
    [
        "AWS_SECRET_ACCESS_KEY = os.environ['AWS_SECRET_ACCESS_KEY']",
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",  # AWS's documented example
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "ASIAN markets, ASIA_PACIFIC = 3, AKIAXX",
        "if line.startswith('-----BEGIN RSA PRIVATE KEY-----'):",
        "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----",
        "-----BEGIN CERTIFICATE-----\n" + pem_body(),
        "-----BEGIN RSA PRIVATE KEY-----\nEXAMPLEBAAKCAQEA" + pem_body(),  # AWS's docs
        "token = 'ghp_' + 'short'",
        "SLACK_TOKEN=xoxb-your-token-here",
        "sk_test_" + rand(ALNUM, 24),
        "the npm_config_cache and task-runner, disk-sk-proj-x",
        '"private_key": ""',
    ],
)
def test_look_alikes_are_not_secrets(text: str) -> None:
    assert find_secrets(text.encode()) == []


def test_the_rule_table_and_this_file_are_not_taken_for_secrets() -> None:
    # A dump of this project must not leave out its own scanner or tests.
    assert find_secrets(Path(sensitive.__file__).read_bytes()) == []
    assert find_secrets(Path(__file__).read_bytes()) == []


CREDENTIAL_FILES = {
    ".ENV": "dotenv file",
    ".env": "dotenv file",
    ".env.local": "dotenv file",
    "prod.env": "dotenv file",
    "env.local": "dotenv file",
    "config/.Env.Production.bak": "dotenv file",
    "ID_RSA": "SSH private key",
    "id_rsa.bak": "SSH private key",
    "deploy/id_ed25519~": "SSH private key",
    "server.key.bak": "private key or keystore",
    "certs/Server.PEM.orig": "private key or keystore",
    "store.p12.1": "private key or keystore",
    ".aws/credentials": "credentials file",
    "credentials.json": "credentials file",
    "secrets.yaml": "credentials file",
    "k8s/app-secrets.yml": "credentials file",
    "client_secret_1234.apps.googleusercontent.com.json": "credentials file",
    "gcp-service-account.json": "credentials file",
    ".docker/config.json": "Docker credentials",
    "home/.kube/config": "Kubernetes credentials",
    ".config/gh/hosts.yml": "GitHub CLI credentials",
    ".aws/config": "cloud credentials",
    ".ssh/deploy_key": "SSH directory",
    ".gnupg/private-keys-v1.d/x.key": "private key or keystore",
    ".NETRC.old": "credentials file",
    "terraform.tfstate.backup": "Terraform state",
}
NOT_CREDENTIALS = [
    "env.py",
    "env",
    "scripts/env.sh",
    ".env.example",
    ".env.sample.bak",
    "environment.yml",
    "id_rsa.pub",
    ".ssh/id_rsa.pub",
    ".ssh/known_hosts",
    "secrets.py",
    "Lib/secrets.py",
    "docs/secrets.md",
    "config.json",
    "docker/config.json",
    "keys.py",
    "README.md",
    ".bak",
    "backup.old",
]


@pytest.mark.parametrize(("rel", "kind"), CREDENTIAL_FILES.items())
def test_credential_files_by_name_and_place_in_any_case_and_backup_spelling(
    rel: str, kind: str
) -> None:
    assert credential_kind(rel) == kind


@pytest.mark.parametrize("rel", NOT_CREDENTIALS)
def test_ordinary_files_are_not_credential_files(rel: str) -> None:
    assert credential_kind(rel) is None


def test_user_patterns_ignore_case_and_backup_suffixes_and_bang_keeps() -> None:
    names = SecretNames(["conf/vault.txt", "*.secret", "!fixtures/*", "!.env.test"])
    reason = SecretNames.PATTERN_REASON
    assert names.reason("CONF/Vault.TXT", "Vault.TXT") == reason
    assert names.reason("conf/vault.txt.bak", "vault.txt.bak") == reason
    assert names.reason("a/b.SECRET~", "b.SECRET~") == reason
    assert names.reason(".env", ".env") == "may hold secrets (dotenv file)"
    assert names.reason(".env.test", ".env.test") is None  # kept against a built-in rule
    assert names.reason("fixtures/id_rsa", "id_rsa") is None
    assert names.reason("src/app.py", "app.py") is None


# --- through the step and the real command ---------------------------------------------------


def issue_project(root: Path) -> dict[str, str]:
    """The files of a project that leaks: {path: the secret text that must not be dumped}."""
    leaks = {
        "settings.py": f'DEBUG = False\nAWS_ACCESS_KEY_ID = "{aws_key_id()}"\n'
        f'AWS_SECRET_ACCESS_KEY = "{aws_secret()}"\n',
        "config.json": '{\n  "name": "demo",\n  "token": "'
        + "gh"
        + "p_"
        + rand(ALNUM, 36)
        + '"\n}\n',
        ".ENV": "DB_PASSWORD=" + rand(ALNUM, 20) + "\n",
        "ID_RSA": private_key("OPENSSH "),
        "prod.env": "DB_PASSWORD=" + rand(ALNUM, 20) + "\n",
        "env.local": "DB_PASSWORD=" + rand(ALNUM, 20) + "\n",
        "id_rsa.bak": private_key(),
        "server.key.bak": private_key(),
        ".aws/credentials": f"[default]\naws_access_key_id = {aws_key_id()}\n",
        "credentials.json": gcp_service_account(),
        "deploy/gcp-key.json": gcp_service_account(),  # found by its content
        ".docker/config.json": '{"auths": {"ghcr.io": {"auth": "' + rand(B64, 40) + '"}}}\n',
        "secrets.yaml": "db_password: " + rand(ALNUM, 20) + "\n",
        "notes/.env.example": "AWS_ACCESS_KEY_ID=" + aws_key_id() + "\n",  # a real one
        "latin1.txt": "café " + "sk" + "_live_" + rand(ALNUM, 30) + "\n",
    }
    kept = {
        "app.py": "import os\nKEY = os.environ['AWS_SECRET_ACCESS_KEY']\n",
        "env.py": "ENV = 'prod'\n",
        ".env.example": "DB_PASSWORD=changeme\n",
        "id_rsa.pub": "ssh-ed25519 AAAAC3Nza public\n",
        "docs/keys.md": "Paste the `-----BEGIN PRIVATE KEY-----` block into the vault.\n",
    }
    for rel, text in {**leaks, **kept}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("latin-1" if rel == "latin1.txt" else "utf-8"))
    (root / "pyproject.toml").write_text('[tool.routine-workflow]\ndump_engine = "builtin"\n')
    return leaks


def secret_values(leaks: dict[str, str]) -> list[str]:
    """The parts of the leaked texts that look secret (long random runs)."""
    runs = (v for text in leaks.values() for v in re.findall(r"[A-Za-z0-9_+/-]{20,}", text))
    return [v for v in runs if not re.fullmatch(r"[A-Z_]+", v)]  # not AWS_SECRET_ACCESS_KEY


def test_the_cli_leaves_every_leak_out_names_each_and_warns(project: Path, tmp_path: Path) -> None:
    leaks = issue_project(project)
    dump_dir = tmp_path / "dumps"
    proc = run_cli(
        ["--steps", "dumps", "--yes", "--json"],
        project,
        env={"ROUTINE_WORKFLOW_DUMP_DIR": str(dump_dir)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    written = b"".join(p.read_bytes() for p in dump_dir.iterdir()).decode("utf-8")
    for value in secret_values(leaks):
        assert value not in written
        assert value not in proc.stdout + proc.stderr
    [dump] = [p for p in dump_dir.iterdir() if p.suffix == ".md"]
    text = dump.read_text(encoding="utf-8")
    head = text.split("\n## Tree\n", 1)[0]
    assert f"- **Secrets left out:** {len(leaks)} file(s), content not copied:" in head
    for rel in ("settings.py", "config.json", "deploy/gcp-key.json", "notes/.env.example"):
        assert f"  - `{rel}`: holds a secret: " in head
    assert "  - `config.json`: holds a secret: GitHub token (line 3)" in head
    assert "  - `settings.py`: holds a secret: AWS access key id (line 2), " in head
    assert "`deploy/gcp-key.json`: holds a secret: GCP service-account key (line 5)" in head
    assert "  - `credentials.json`: may hold secrets (credentials file)" in head
    assert "  - `ID_RSA`: may hold secrets (dump_secret_patterns)" in head
    assert "  - `.docker/config.json`: may hold secrets (Docker credentials)" in head
    assert "  - `secrets.yaml`: may hold secrets (credentials file)" in head
    for kept in ("app.py", "env.py", ".env.example", "id_rsa.pub", "docs/keys.md"):
        assert f"\n### `{kept}`\n" in text

    (step,) = json.loads(proc.stdout)["steps"]
    assert step["counts"]["secrets"] == len(leaks)
    assert f"{len(leaks)} of them as secrets" in step["summary"]
    named = [d for d in step["details"] if d.startswith("left out as a secret ")]
    assert len(named) == len(leaks)
    assert "left out as a secret config.json: holds a secret: GitHub token (line 3)" in named
    warning = [line for line in proc.stderr.splitlines() if "warning:" in line]
    assert len(warning) == 1 and f"left {len(leaks)} files out of the dump as secrets" in (
        warning[0]
    )
    assert "; config.json: holds a secret: GitHub token (line 3);" in warning[0]
    assert warning[0].endswith(f"; and {len(leaks) - 10} more")  # the rest: summary, details


def test_quiet_runs_still_warn_and_dry_runs_name_them_too(project: Path, tmp_path: Path) -> None:
    leaks = issue_project(project)
    env = {"ROUTINE_WORKFLOW_DUMP_DIR": str(tmp_path / "dumps")}
    quiet = run_cli(["--steps", "dumps", "--yes", "--quiet"], project, env=env)
    assert quiet.returncode == 0 and "out of the dump as secrets" in quiet.stderr
    dry = run_cli(
        ["--steps", "dumps", "--dry-run", "--json"],
        project,
        env={"ROUTINE_WORKFLOW_DUMP_DIR": str(tmp_path / "dry")},
    )
    assert dry.returncode == 0, dry.stderr
    (step,) = json.loads(dry.stdout)["steps"]
    assert step["counts"]["secrets"] == len(leaks)
    assert not (tmp_path / "dry").exists()


def run_step(root: Path) -> StepResult:
    config = load_config({"project_root": root, "dump_engine": "builtin"}, cwd=root)
    return DumpsStep().run(StepContext(config, logging.getLogger("test.secrets")))


def test_every_secret_is_in_the_details_however_many_and_the_header_caps_its_list(
    project: Path,
) -> None:
    for n in range(60):
        (project / f"k{n:02}.pem").write_text("pem\n")
        (project / f"img{n:02}.png").write_bytes(b"\x89PNG")
    result = run_step(project)
    assert result.status is Status.CHANGED
    secrets = [d for d in result.details if d.startswith("left out as a secret k")]
    assert len(secrets) == 60 and result.details[:60] == secrets  # first, all of them
    assert "... and 10 more skipped (listed in the dump)" in result.details
    [dump] = list(load_config({"project_root": project}).dump_dir.glob("*.md"))
    head = dump.read_text(encoding="utf-8").split("\n## Tree\n", 1)[0]
    assert head.count("\n  - `k") == 20 and "  - ... and 40 more under Skipped" in head
