"""What must never leave the machine inside a dump: credential files, and secrets in any file.

A dump is made to be pasted somewhere else, so two tests run on every file:

- by name and place (``SecretNames``): the user's ``dump_secret_patterns`` and the
  built-in ``credential_kind`` rules (dotenv files, SSH and TLS keys, ``.aws/credentials``,
  ``.docker/config.json``, ``secrets.yaml``...), case-insensitively, and seeing
  through the names people give copies (``id_rsa.bak``, ``server.key.orig``, ``.env~``);
- by content (``find_secrets``): a table of high-confidence secret formats (``RULES``:
  AWS, GitHub, GitLab, Slack, Stripe, Google, npm, PyPI, OpenAI, Anthropic, private
  keys, GCP service-account keys), searched in the bytes the dump already holds.

A finding names the rule and the line, never the secret. The content scan is two
stages: ``_PREFILTERS``, three regexes that each start with one literal byte (``_``,
``-``, ``A``) so the regex engine skips ahead at C speed, find where a secret could
start; only there is the rule table tried. docs/dumps.md gives the figures and why
this is a rule table and not a detector library.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from routine_workflow.dumps.languages import BINARY_SUFFIXES, LANGUAGES

# --- names and places -------------------------------------------------------------------------

#: What editors, tools and people append to a copy of a file (``id_rsa.bak``, ``.env~``).
_BACKUP_SUFFIX = re.compile(
    r"(?:\.(?:bak|backup|bkp|old|orig|save|sav|tmp|copy|prev|previous|swp|\d{1,3})|~)\Z",
    re.IGNORECASE,
)


def unbacked(name: str) -> str:
    """``name`` without its backup suffixes: ``server.key.bak`` -> ``server.key``."""
    while (found := _BACKUP_SUFFIX.search(name)) is not None and found.start() > 1:
        name = name[: found.start()]
    return name


_SSH_KEYS = frozenset(
    {"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk", "identity"}
)
_NAMED = {
    **dict.fromkeys(_SSH_KEYS, "SSH private key"),
    **dict.fromkeys(
        (".netrc", "_netrc", ".pgpass", ".npmrc", ".pypirc", ".htpasswd", ".git-credentials"),
        "credentials file",
    ),
    **dict.fromkeys((".s3cfg", ".boto", ".dockercfg"), "cloud credentials"),
}
_KEY_SUFFIXES = {
    **dict.fromkeys(
        (".pem", ".key", ".p12", ".pfx", ".p8", ".pkcs12", ".jks", ".keystore", ".ppk"),
        "private key or keystore",
    ),
    ".kdbx": "password database",
    ".tfstate": "Terraform state",
    ".tfvars": "Terraform variables",
}
#: Extensions of data files: ``secrets.yaml`` and ``credentials.json`` are left out, while
#: ``secrets.py`` (a module, such as the standard library's) is read and its text scanned.
_DATA_SUFFIXES = frozenset(
    {"", ".json", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".env", ".properties"}
    | {".xml", ".txt", ".csv", ".plist"}
)
_CREDENTIAL_STEM = re.compile(
    r"(?:^|[._-])(?:secrets?|credentials?|service[._-]?account)(?:$|[._-])"
)
#: A dotenv file's other parts name an environment (``env.local``, ``prod.env``); a known
#: file type (``env.py``, ``env.sh``, ``env.yml``) or an example is something else.
_NOT_DOTENV = frozenset(
    {ext.lstrip(".") for ext in (*LANGUAGES, *BINARY_SUFFIXES)}
    | {"example", "sample", "template", "tmpl", "dist", "defaults", "schema"}
)
#: Credentials by where they live, matched on the path from the project root.
_PLACES = re.compile(
    r"(?:^|/)(?:"
    r"(?P<docker>\.docker/config\.json)"
    r"|(?P<kube>\.kube/config)"
    r"|(?P<gh>\.config/gh/hosts\.ya?ml)"
    r"|(?P<cloud>\.aws/[^/]+|\.azure/.+|\.config/gcloud/.+)"
    r"|(?P<gnupg>\.gnupg/.+)"
    r"|(?P<ssh>\.ssh/(?!known_hosts\Z)(?!authorized_keys\Z)[^/]+(?<!\.pub))"
    r")\Z"
)
_PLACE_KINDS = {
    "docker": "Docker credentials",
    "kube": "Kubernetes credentials",
    "gh": "GitHub CLI credentials",
    "cloud": "cloud credentials",
    "gnupg": "GnuPG keyring",
    "ssh": "SSH directory",
}


def _is_dotenv(name: str) -> bool:
    parts = name.lstrip(".").split(".")
    if parts[0] == "env":
        rest = parts[1:]
        if not rest and not name.startswith("."):
            return False  # a file called plain "env" is usually a script
    elif len(parts) > 1 and parts[-1] == "env":
        rest = []
    else:
        return False
    return not any(part in _NOT_DOTENV for part in rest)


def credential_kind(rel: str) -> str | None:
    """What kind of credential file ``rel`` is by its name or place, or None.

    Case-insensitive, and blind to backup suffixes (``ID_RSA.bak`` is an SSH key).
    """
    low = rel.lower()
    head, _, name = low.rpartition("/")
    name = unbacked(name)
    if name in _NAMED:
        return _NAMED[name]
    dot = name.rfind(".")
    ext = name[dot:] if dot > 0 else ""
    if ext in _KEY_SUFFIXES:
        return _KEY_SUFFIXES[ext]
    if "env" in name and _is_dotenv(name):
        return "dotenv file"
    if ext in _DATA_SUFFIXES and _CREDENTIAL_STEM.search(name[:dot] if dot > 0 else name):
        return "credentials file"
    if head and (low[0] == "." or "/." in low):  # every place is under a dot-directory
        place = _PLACES.search(f"{head}/{name}")
        if place is not None and place.lastgroup is not None:
            return _PLACE_KINDS[place.lastgroup]
    return None


class SecretNames:
    """Which files are left out by name: ``dump_secret_patterns`` and the built-in rules.

    Patterns are shell-style, on the file name, or on the path from the root when
    they contain a ``/``; matching ignores case and backup suffixes. A ``!pattern``
    keeps a file that a pattern or a built-in rule would leave out.
    """

    PATTERN_REASON = "may hold secrets (dump_secret_patterns)"

    def __init__(self, patterns: Iterable[str]) -> None:
        """Compile ``patterns`` (the ``dump_secret_patterns`` setting)."""
        groups: dict[tuple[bool, bool], list[str]] = {}
        for raw in patterns:
            keep = raw.startswith("!")
            pattern = raw[1:] if keep else raw
            on_path = "/" in pattern
            regex = fnmatch.translate(pattern.strip("/") if on_path else pattern)
            groups.setdefault((keep, on_path), []).append(regex)
        # One regex per kind of pattern, not one match per pattern per file.
        self._rx = {k: re.compile("|".join(v), re.IGNORECASE) for k, v in groups.items()}

    def reason(self, rel: str, name: str) -> str | None:
        """Why the file at ``rel`` (named ``name``) is left out of the dump, or None."""
        plain = unbacked(name)
        paths = (rel,) if plain == name else (rel, rel[: len(rel) - len(name)] + plain)
        names = (name,) if plain == name else (name, plain)
        if self._any(False, paths, names):
            why: str | None = self.PATTERN_REASON
        elif (kind := credential_kind(rel)) is not None:
            why = f"may hold secrets ({kind})"
        else:
            return None
        return None if self._any(True, paths, names) else why

    def _any(self, keep: bool, paths: tuple[str, ...], names: tuple[str, ...]) -> bool:
        by_name, by_path = self._rx.get((keep, False)), self._rx.get((keep, True))
        return (by_name is not None and any(by_name.match(n) for n in names)) or (
            by_path is not None and any(by_path.match(p) for p in paths)
        )


# --- content ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One secret format: a label for messages, its pattern, and how its examples look."""

    label: str
    source: bytes  # the pattern's text
    #: A match containing this is a documented example (AWS's ``...EXAMPLE`` keys), not a secret.
    example: bytes | None = None

    @cached_property
    def pattern(self) -> re.Pattern[bytes]:
        """The compiled pattern, on first use: compiling the table at import cost every run
        that dumps (or merely plans a dump) about 10 ms, and a file in which no prefilter
        hits, nearly every file, never needs it."""
        return re.compile(self.source)


def _rule(label: str, pattern: bytes, example: bytes | None = None) -> Rule:
    return Rule(label, pattern, example)


_KEY_BODY = rb"(?:\\[rn]|\s)+(?:[A-Za-z-]+: [^\r\n\\]*(?:\\[rn]|\s)+)*[A-Za-z0-9+/=]{40}"
_ASSIGN = rb"[\"'\s]{0,3}(?::=|=>|[:=])[\"'\s]{0,3}"

#: High-confidence formats only: each has a fixed prefix or structure that ordinary code
#: and prose do not produce. A private key needs its base64 body, not just the BEGIN line.
RULES: tuple[Rule, ...] = (
    _rule(
        "AWS access key id",
        rb"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z2-7]{16}(?![A-Za-z0-9])",
        example=b"EXAMPLE",
    ),
    _rule(
        "AWS secret access key",
        rb"(?:SECRET_ACCESS_KEY|secret_access_key|[Ss]ecretAccessKey)"
        + _ASSIGN
        + rb"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])",
        example=b"EXAMPLEKEY",
    ),
    _rule(
        "GitHub token",
        rb"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{70,})",
    ),
    _rule("GitLab token", rb"(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20,}"),
    _rule("Slack token", rb"(?<![A-Za-z0-9_-])xox[abposr]-[0-9]{8,}-[0-9A-Za-z-]{8,}"),
    _rule("Stripe live key", rb"(?<![A-Za-z0-9_])[rs]k_live_[A-Za-z0-9]{20,}"),
    _rule(
        "GCP service-account key",
        rb"\"private_key\"\s*:\s*\"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----" + _KEY_BODY,
        example=b"EXAMPLE",
    ),
    _rule(
        "private key",
        rb"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----" + _KEY_BODY,
        example=b"EXAMPLE",  # how AWS's documentation marks the body of an example key
    ),
    _rule("Google API key", rb"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])"),
    _rule("npm token", rb"(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])"),
    _rule("PyPI token", rb"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}"),
    _rule("OpenAI API key", rb"(?<![A-Za-z0-9_-])sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}"),
    _rule("Anthropic API key", rb"(?<![A-Za-z0-9_-])sk-ant-[a-z]+[0-9]{2}-[A-Za-z0-9_-]{80,}"),
)

#: Where a secret of ``RULES`` could be. Each starts with one literal byte, which the regex
#: engine finds with a tight loop; the rest runs only at that byte, and fails fast there
#: (a literal first, a lookbehind after it). One regex with the three first bytes is
#: about 5x slower: the engine then tests every byte against a set. Every rule's match
#: contains a hit of one of them within ``_BEFORE`` bytes of its start (tested).
_PREFILTERS = (
    re.compile(
        rb"_(?:(?<=gh[pousr]_)|(?<=npm_)|pat_(?<=github_pat_)|live_(?<=k_live_)"
        rb"|access_key(?<=secret_access_key))"
    ),
    re.compile(
        rb"-(?:----BEGIN |(?<=[abijnoprst]-)(?:(?<=glpat-)|(?<=xox[abposr]-)|(?<=pypi-)"
        rb"|(?<=sk-proj-)|(?<=-svcacct-)|(?<=sk-admin-)|(?<=sk-ant-)))"
    ),
    re.compile(rb"A(?:[KS]IA|Iza|CCESS_KEY(?<=SECRET_ACCESS_KEY)|ccessKey(?<=ecretAccessKey))"),
)
_FIRST, _SECOND, _THIRD = (prefilter.search for prefilter in _PREFILTERS)
_BEFORE, _AFTER = 64, 512  # the window around a hit in which the rules are tried


@dataclass(frozen=True)
class Finding:
    """A rule that matched, and the first line where it did (never the secret itself)."""

    label: str
    line: int

    def __str__(self) -> str:
        return f"{self.label} (line {self.line})"


def find_secrets(data: bytes) -> list[Finding]:
    """The secret formats found in ``data``, each once, in the order of ``RULES``."""
    # The common case, nothing anywhere, in three calls and no Python-level loop.
    if _FIRST(data) is None and _SECOND(data) is None and _THIRD(data) is None:
        return []
    first: dict[Rule, int] = {}
    for prefilter in _PREFILTERS:
        for hit in prefilter.finditer(data):
            low, high = max(0, hit.start() - _BEFORE), hit.end() + _AFTER
            for rule in RULES:
                if rule not in first and (at := _search(rule, data, low, high)) is not None:
                    first[rule] = at
    return [
        Finding(rule.label, data.count(b"\n", 0, first[rule]) + 1)
        for rule in RULES
        if rule in first
    ]


def _search(rule: Rule, data: bytes, low: int, high: int) -> int | None:
    # Lookbehinds see before ``low``: the window narrows where a match starts, not what
    # it may look at.
    for match in rule.pattern.finditer(data, low, high):
        if rule.example is None or rule.example not in match.group():
            return match.start()
    return None


def describe(findings: list[Finding]) -> str:
    """A skip reason naming each rule and line: ``holds a secret: GitHub token (line 3)``."""
    return "holds a secret: " + ", ".join(map(str, findings))


#: ``--token=VALUE``, ``PASSWORD=VALUE``: a value given under a secret's name, whatever it looks like.
_NAMED_VALUE = re.compile(
    r"(?i)((?:^|[-_])(?:password|passwd|pwd|secret|token|api[-_]?key|auth|credentials?)"
    r"[\"']?\s*[=:]\s*)\S+"
)


def redact(text: str) -> str:
    """``text`` (a command line about to be logged or recorded) with every secret of
    ``RULES`` and every value given under a secret's name replaced by ``<redacted>``."""
    data = text.encode("utf-8", "surrogateescape")
    spans = []
    for rule in RULES:
        for match in rule.pattern.finditer(data):
            if rule.example is None or rule.example not in match.group():
                spans.append((match.start(), match.end()))
    for start, end in sorted(spans, reverse=True):
        data = data[:start] + b"<redacted>" + data[end:]
    return _NAMED_VALUE.sub(r"\1<redacted>", data.decode("utf-8", "surrogateescape"))


_SECRET_FLAG = re.compile(
    r"(?i)--?(?:[a-z]+[-_])*(?:password|passwd|secret|token|api[-_]?key|auth|credentials?)"
)


def redact_argv(argv: list[str]) -> list[str]:
    """Each argument of ``argv`` redacted (see ``redact``); and the value that follows a
    flag named for a secret (``--token VALUE``)."""
    redacted = []
    for position, arg in enumerate(argv):
        after_flag = position > 0 and _SECRET_FLAG.fullmatch(argv[position - 1])
        redacted.append("<redacted>" if after_flag else redact(arg))
    return redacted
