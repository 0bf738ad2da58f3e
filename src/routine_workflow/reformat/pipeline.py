"""The pure core of the black engine: autoflake -> isort -> black on one file's bytes.

* ``format_source(data, path, pipeline) -> Outcome``: what the three CLIs would
  leave on disk for these bytes (like black's ``format_file_contents``);
* ``Pipeline``: the three tools configured for one project root, which files
  their settings exclude (``excluded``), and ``process(path)``: read, exclude, format;
* ``Outcome`` and its statuses, and the helpers the ruff engine shares:
  ``unreadable``, ``digest_bytes``, and ``decode``, ``compile_error``, ``one_line``
  (from ``sources``, where ``black_format`` is too).

Nothing here writes a file or knows about processes (``workers`` runs this in a
pool, ``run`` writes the results). The tools are imported only when a
``Pipeline`` is built, so importing this module stays cheap. Each is configured
exactly as its command line is when run from the project root:

* autoflake: ``autoflake --in-place --remove-all-unused-imports
  --ignore-init-module-imports -r .`` plus ``[tool.autoflake]`` (which may turn
  the two defaults off); only ``*.py`` files and files with a python shebang,
  as autoflake itself decides; ``--ignore-init-module-imports`` applies to
  files named ``__init__.py`` only.
* isort: ``isort .`` — ``Config(settings_path=root)`` resolves pyproject,
  ``.isort.cfg``, ``setup.cfg``, ``tox.ini`` and ``.editorconfig`` as the CLI
  does; a file is written only when isort reports a change.
* black: ``black .`` — the click context of black's own command parses
  ``[tool.black]`` (and infers target versions from ``requires-python``),
  and the file is decoded and re-encoded as ``format_file_in_place`` does
  (encoding cookie, BOM, the first line's line ending). Safe mode: black's
  AST-equivalence check and its stability check stay on (``black_format``).

Each stage sees the bytes the previous CLI would have written, and a file the
three change goes through them again until a pass changes nothing
(``CHANGING_PASSES``): the result is byte-identical to running the three commands
in sequence until they change nothing more. A file that any tool's own settings
exclude is left out entirely; a file that cannot be decoded or does not compile
gets none of the tools; one that does not settle is left as it was.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from routine_workflow.errors import ConfigError
from routine_workflow.reformat.sources import black_format, tool_error
from routine_workflow.reformat.sources import compile_error as compile_error
from routine_workflow.reformat.sources import decode as decode
from routine_workflow.reformat.sources import one_line as one_line

#: Outcome statuses of one file.
UNCHANGED = "unchanged"
CHANGED = "changed"
EXCLUDED = "excluded"
FAILED = "failed"
VANISHED = "vanished"  # deleted (or its directory) by someone else during the run
#: The reason a vanished file is reported with.
VANISHED_REASON = "vanished during the run"
#: The reason a file is failed with when formatting it ran out of memory (a worker's limit).
OUT_OF_MEMORY = "out of memory; left as is"

#: A file the tools change goes through them again until a pass changes nothing; one
#: still changing after this many passes is left as it was and reported as unstable.
#: Real code settles after one pass, rarely two (issue 13: at 60 columns, django's
#: postgresql/base.py needs a second pass where isort moves a comment black had put
#: after a closing bracket).
CHANGING_PASSES = 3

_SHEBANG = re.compile(r"^#!.*\bpython[3]?\b\s*$")  # autoflake's PYTHON_SHEBANG_REGEX
#: A line that is only ``pass``, whatever ends the lines (autoflake's useless-pass scan
#: looks only at such lines: ``line.strip() == "pass"``). Only a superset matters: ``\s``
#: is what ``str.strip`` strips, and both ``\r`` and ``\n`` end a line here.
_PASS_LINE = re.compile(r"(?:^|[\r\n])[^\S\r\n]*pass[^\S\r\n]*(?:[\r\n]|$)")


@dataclass(frozen=True)
class Outcome:
    """What the pipeline made of one file.

    ``digest`` is the sha256 of the bytes that were read; ``new`` holds the
    formatted bytes when ``status`` is ``changed``. ``cacheable`` is False for
    outcomes that may differ on another try (a time limit, an I/O error).
    """

    path: str
    status: str
    digest: str = ""
    new: bytes | None = None
    reason: str = ""
    encoding: str = "utf-8"
    cacheable: bool = True
    seconds: float = 0.0  # a worker's time on this file (``--profile``); 0: not measured


def unreadable(path: str, exc: OSError) -> Outcome:
    """The outcome of a file that could not be read: *vanished* if it (or its directory)
    no longer exists — a checkout or a build tool removed it meanwhile — else *failed*."""
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return Outcome(path, VANISHED, reason=VANISHED_REASON, cacheable=False)
    return Outcome(path, FAILED, reason=f"cannot read: {exc.strerror}", cacheable=False)


def digest_bytes(data: bytes) -> str:
    """The content hash the cache and the not-modified-since-read check use."""
    return hashlib.sha256(data).hexdigest()


@dataclass
class Seen:
    """What each tool made of each input it had while one file goes round the passes.

    The tools are deterministic, so a tool handed an input again is not run again: after a
    pass that only autoflake changed, the next pass (which must still run, to prove the
    fixed point) costs nothing. Outputs known to be the tool's own fixed points are
    entered as mapping to themselves.
    """

    autoflake: dict[str, str] = dataclasses.field(default_factory=dict)
    isort: dict[str, str] = dataclasses.field(default_factory=dict)
    black: dict[bytes, bytes] = dataclasses.field(default_factory=dict)


class Pipeline:
    """The three tools configured for one project root, ready to format files."""

    def __init__(self, root: Path, keep_unused_imports: bool = False) -> None:
        self.root = Path(root).resolve()
        self.keep_unused_imports = keep_unused_imports
        self._load_black()
        self._load_isort()
        self._load_autoflake()

    # -- configuration -----------------------------------------------------------------------

    def _load_black(self) -> None:
        import black
        import black.files
        import click

        # black memoises what it reads from disk; a long-lived process (tests, an IDE) must
        # see today's pyproject.toml and .gitignore, as a fresh `black` would.
        for name in (
            "_load_toml",
            "_find_project_root_cached",
            "get_gitignore",
            "_cached_resolve",
            "find_user_pyproject_toml",
        ):
            clear = getattr(getattr(black.files, name, None), "cache_clear", None)
            if clear is not None:
                clear()
        try:
            # black's own click command reads [tool.black] (or the user-level config)
            # and converts every value exactly as `black .` would.
            ctx = black.main.make_context("black", [str(self.root)])
        except click.ClickException as exc:
            raise ConfigError(f"black configuration: {exc.format_message()}") from None
        params = ctx.params
        required = params["required_version"]
        version = str(vars(black)["__version__"])
        if required and required not in (version, version.split(".")[0]):
            raise ConfigError(
                f"[tool.black] required-version {required!r} does not match the "
                f"installed black {version}"
            )
        # As black's main() builds it; fields an older black lacks are left out.
        wanted = {
            "target_versions": set(params["target_version"] or ()),
            "line_length": params["line_length"],
            "is_pyi": params["pyi"],
            "is_ipynb": False,
            "skip_source_first_line": params.get("skip_source_first_line", False),
            "string_normalization": not params["skip_string_normalization"],
            "magic_trailing_comma": not params["skip_magic_trailing_comma"],
            "preview": params["preview"],
            "unstable": params.get("unstable", False),
            "python_cell_magics": set(params.get("python_cell_magics", ())),
            "enabled_features": set(params.get("enable_unstable_feature", ())),
        }
        known = {f.name for f in dataclasses.fields(black.Mode)}
        self.black_mode = black.Mode(**{k: v for k, v in wanted.items() if k in known})
        # black >= 25 decodes with the mode; older releases take the bytes only.
        self._decode_takes_mode = len(inspect.signature(black.decode_bytes).parameters) > 1
        self.black_root = black.files.find_project_root((str(self.root),))[0] or self.root
        self.black_include = params["include"]
        self.black_use_gitignore = params["exclude"] is None
        self.black_excludes = (
            (
                black.re_compile_maybe_verbose(black.const.DEFAULT_EXCLUDES)
                if params["exclude"] is None
                else params["exclude"]
            ),
            params["extend_exclude"],
            params["force_exclude"],
        )
        self._gitignores: dict[Path, dict[Path, Any]] = {}
        self._dir_reasons: dict[Path, str] = {}

    def _load_isort(self) -> None:
        from routine_workflow.reformat.toolconfig import isort_config

        self.isort_config = isort_config(self.root)

    def _load_autoflake(self) -> None:
        from routine_workflow.reformat.toolconfig import autoflake_settings

        settings = autoflake_settings(self.root)
        self.autoflake_options = settings.options
        self.autoflake_imports = settings.imports
        self.autoflake_exclude = settings.exclude

    # -- exclusion ---------------------------------------------------------------------------

    def excluded(self, path: Path) -> str:
        """Why one of the tools would leave ``path`` out ("" if none would).

        Each tool walks the tree from the project root and prunes excluded
        directories; verdicts on directories are remembered.
        """
        return self._dir_reason(path.parent) or self._item_reason(path, is_dir=False)

    def _dir_reason(self, directory: Path) -> str:
        if directory == self.root or self.root not in directory.parents:
            return ""
        if directory not in self._dir_reasons:
            self._dir_reasons[directory] = self._dir_reason(directory.parent) or self._item_reason(
                directory, is_dir=True
            )
        return self._dir_reasons[directory]

    def _item_reason(self, item: Path, is_dir: bool) -> str:
        return (
            self._black_excluded(item, is_dir)
            or self._isort_skipped(item)
            or self._autoflake_excluded(item)
        )

    def _black_excluded(self, item: Path, is_dir: bool) -> str:
        # One step of black's gen_python_files() walk from the project root.
        from black.files import _path_is_ignored, path_is_excluded

        rel = item.relative_to(self.black_root).as_posix()
        gitignores = self._black_gitignores(item.parent)
        if gitignores and _path_is_ignored(rel, self.black_root, gitignores):
            return "black: matches a .gitignore file"
        normalized = "/" + rel + ("/" if is_dir else "")
        for what, pattern in zip(
            ("exclude", "extend-exclude", "force-exclude"), self.black_excludes, strict=True
        ):
            if path_is_excluded(normalized, pattern):
                return f"black: matches {what}"
        if not is_dir and not self.black_include.search(normalized):
            return "black: does not match include"
        return ""

    def _black_gitignores(self, directory: Path) -> dict[Path, Any]:
        """The .gitignore specs black applies to the children of ``directory``, in its order.

        Read as git reads them (``gitignore_of``): black's own reader stops the whole run
        at a pattern git tolerates (``!``, a trailing backslash), which we skip with a warning.
        """
        from routine_workflow.discovery import gitignore_of

        def get_gitignore(directory: Path) -> Any:
            return gitignore_of(directory, self.root)

        if not self.black_use_gitignore:
            return {}
        if directory not in self._gitignores:
            if directory == self.root:
                chain = {self.black_root: get_gitignore(self.black_root)}
                chain[self.root] = get_gitignore(self.root)
            else:
                chain = {
                    **self._black_gitignores(directory.parent),
                    directory: get_gitignore(directory),
                }
            self._gitignores[directory] = chain
        return self._gitignores[directory]

    def _isort_skipped(self, item: Path) -> str:
        return "isort: skipped by its settings" if self.isort_config.is_skipped(item) else ""

    def _autoflake_excluded(self, item: Path) -> str:
        import fnmatch

        # autoflake -r . sees "./a/b.py" and rejects hidden names itself.
        name = "./" + item.relative_to(self.root).as_posix()
        if item.name.startswith("."):
            return "autoflake: hidden file or directory"
        if any(
            fnmatch.fnmatch(item.name, p) or fnmatch.fnmatch(name, p)
            for p in self.autoflake_exclude
        ):
            return "autoflake: matches exclude"
        return ""

    # -- formatting --------------------------------------------------------------------------

    def process(self, path: str) -> Outcome:
        """Read ``path``, leave it out if a tool excludes it, else ``format_source`` it.

        Never raises for a bad file.
        """
        file = Path(path)
        try:
            data = file.read_bytes()
        except OSError as exc:
            return unreadable(path, exc)
        why = self.excluded(file.absolute())
        if why:
            return Outcome(path, EXCLUDED, digest_bytes(data), reason=why)
        return format_source(data, path, self)

    def format_bytes(
        self, file: Path, data: bytes, encoding: str, text: str, seen: Seen | None = None
    ) -> bytes:
        """The bytes the three CLIs would leave on disk, in order, starting from ``data``.

        ``seen``: what each tool made of the inputs it had in the earlier passes over this
        file; a tool handed one of those again is not run again (``Seen``).
        """
        seen = Seen() if seen is None else seen
        current = data
        fixed = seen.autoflake.get(text)
        if fixed is None:
            fixed = seen.autoflake[text] = self._autoflake(file, text)
            if "nonlocal" not in text or "nonlocal" in fixed:
                # fix_code loops until its own filters change nothing, so its output is
                # one it leaves as is ("nonlocal" changes its options, hence the test).
                seen.autoflake.setdefault(fixed, fixed)
        if fixed != text:
            current, text = fixed.encode(encoding), fixed
        sorted_text = seen.isort.get(text)
        if sorted_text is None:
            sorted_text = seen.isort[text] = self._isort(file, text)
        if sorted_text != text:
            current = sorted_text.encode(encoding)
        formatted = seen.black.get(current)
        if formatted is None:
            formatted = seen.black[current] = self._black(file, current)
            # black's output is one it leaves as is: its stability check (``black_format``)
            # refuses any other.
            seen.black.setdefault(formatted, formatted)
        return formatted

    def _autoflake(self, file: Path, text: str) -> str:
        if not (file.name.endswith(".py") or _SHEBANG.match(text.splitlines()[0] if text else "")):
            return text  # autoflake only touches what it thinks is a Python file
        import autoflake

        options = dict(self.autoflake_options)
        # autoflake's only switch that keeps *every* unused import is the one it sets for
        # __init__.py: remove_all_unused_imports=False still removes standard-library ones
        # (``import os``), the ones typed most. Its other fixes stay as configured.
        options["ignore_init_module_imports"] = self.keep_unused_imports or (
            options["ignore_init_module_imports"] and file.name == "__init__.py"
        )
        if self.keep_unused_imports:  # watch: nor the variable whose use is being typed
            options["remove_unused_variables"] = False
        imports = self.autoflake_imports
        if options["ignore_pass_statements"] or _PASS_LINE.search(text):
            return str(autoflake.fix_code(text, additional_imports=imports, **options))
        # autoflake tokenizes the whole source again after each round to find useless
        # `pass` lines; a source with no line that is only `pass` has none. Its rounds only
        # remove or replace import lines, and a `pass` line, once there, stays: so if the
        # result of the rounds without that scan has no `pass` line either, no round had
        # one, and the scan would have changed nothing in any of them.
        quick = str(
            autoflake.fix_code(
                text, additional_imports=imports, **{**options, "ignore_pass_statements": True}
            )
        )
        if _PASS_LINE.search(quick):  # an import became `pass`: autoflake's own scan decides
            return str(autoflake.fix_code(text, additional_imports=imports, **options))
        return quick

    def _isort(self, file: Path, text: str) -> str:
        from isort import api
        from isort.exceptions import ExistingSyntaxErrors, FileSkipped, IntroducedSyntaxErrors

        output = io.StringIO(newline="")
        try:
            changed = api.sort_stream(
                io.StringIO(text, newline=""),
                output,
                config=self.isort_config,
                file_path=file.resolve(),
                disregard_skip=True,
            )
        except (FileSkipped, ExistingSyntaxErrors, IntroducedSyntaxErrors):
            return text  # `isort .` skips the file (``# isort: skip_file``, atomic mode)
        # `isort .` writes only when it reports a change (it ignores trailing whitespace).
        return output.getvalue() if changed else text

    def _black(self, file: Path, data: bytes) -> bytes:
        from dataclasses import replace

        import black
        from black.report import NothingChanged

        mode = replace(self.black_mode, is_pyi=True) if file.suffix == ".pyi" else self.black_mode
        header = b""
        body = data
        if mode.skip_source_first_line:
            newline_at = data.find(b"\n")
            split = len(data) if newline_at < 0 else newline_at + 1
            header, body = data[:split], data[split:]
        if self._decode_takes_mode:
            src, encoding, newline = black.decode_bytes(body, mode)
        else:  # pragma: no cover (black < 25)
            src, encoding, newline = black.decode_bytes(body)  # type: ignore[call-arg]
        try:
            dst = black_format(src, mode)
        except NothingChanged:
            return data
        header_str = header.decode(encoding)
        if newline != "\n" and header_str.endswith(newline):
            header_str = header_str[: -len(newline)] + "\n"
        buffer = io.BytesIO()
        with io.TextIOWrapper(
            buffer, encoding=encoding, newline=newline, write_through=True
        ) as out:
            out.write(header_str + dst)
            out.flush()
            return buffer.getvalue()


def format_source(data: bytes, path: str, pipeline: Pipeline) -> Outcome:
    """What autoflake -> isort -> black make of ``data``, the bytes of the file ``path``,
    run again until they change nothing more.

    Like black's ``format_file_contents``, but bytes in (the file's encoding and line
    endings decide the output's) and an ``Outcome`` out: *changed* with the new bytes,
    *unchanged*, or *failed* with the reason — a source that cannot be decoded or does
    not compile gets none of the tools, an output that would not compile is refused,
    and so is one that still changes after ``CHANGING_PASSES`` passes.
    Writes nothing; never raises for a bad source (a tool's crash is a failed outcome;
    a worker's time limit, a BaseException, passes through).
    """
    digest = digest_bytes(data)
    try:
        encoding, text = decode(data)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        return Outcome(path, FAILED, digest, reason=f"cannot decode: {one_line(exc)}")
    skip_first_line = pipeline.black_mode.skip_source_first_line
    problem = compile_error(text, path, skip_first_line)
    if problem:
        return Outcome(
            path, FAILED, digest, reason=f"does not compile: {problem}", encoding=encoding
        )
    file, current, seen = Path(path), data, Seen()
    for _ in range(CHANGING_PASSES + 1):
        try:
            new = pipeline.format_bytes(file, current, encoding, text, seen)
        except MemoryError:  # over the worker's limit (``workers``): may pass on another try
            return Outcome(path, FAILED, digest, reason=OUT_OF_MEMORY, cacheable=False)
        except Exception as exc:  # a tool refused or crashed: the file stays as it is
            return Outcome(path, FAILED, digest, reason=tool_error(exc), encoding=encoding)
        if new == current:
            break
        text = new.decode(encoding)
        problem = compile_error(text, path, skip_first_line)
        if problem:
            return Outcome(
                path,
                FAILED,
                digest,
                encoding=encoding,
                reason=f"the formatted output would not compile ({problem}); left as is",
            )
        current = new
    else:
        return Outcome(
            path,
            FAILED,
            digest,
            encoding=encoding,
            reason=f"unstable: autoflake, isort and black still change it after "
            f"{CHANGING_PASSES} passes; left as is",
        )
    if current == data:
        return Outcome(path, UNCHANGED, digest, encoding=encoding)
    return Outcome(path, CHANGED, digest, current, encoding=encoding)
