"""``reformat.cache``: what is known to be final, valid for one fingerprint only."""

from __future__ import annotations

import json
import os
import sys
from importlib import metadata
from pathlib import Path

import pytest

from routine_workflow.reformat.cache import (
    CACHE_NAME,
    RACY_NS,
    TOOLS,
    Entry,
    ReformatCache,
    config_files,
    fingerprint,
    stat_key,
    tool_versions,
    trusted_stat,
)

VERSIONS = {"python": "3.11.0", "black": "24.1.0"}
SETTINGS = {"line_length": 100}


def test_tool_versions_agree_with_importlib_metadata() -> None:
    versions = tool_versions()
    assert versions["python"] == "{}.{}.{}".format(*sys.version_info[:3])
    for tool in TOOLS:
        try:
            expected = metadata.version(tool)
        except metadata.PackageNotFoundError:
            expected = "missing"
        assert versions[tool] == expected, tool


def test_config_files_are_found_in_the_root_its_parents_and_blacks_user_config(
    tmp_path: Path, isolated_home: Path
) -> None:
    root = tmp_path / "outer" / "project"
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text("")
    (root / ".isort.cfg").write_text("")
    (root / "README.md").write_text("")  # read by none of the tools
    (tmp_path / "outer" / "setup.cfg").write_text("")
    (tmp_path / "outer" / "tox.ini").mkdir()  # a directory, not a config file
    user = Path(os.environ["XDG_CONFIG_HOME"]) / "black"
    assert isolated_home in user.parents
    user.parent.mkdir(parents=True)
    user.write_text("[tool.black]\n")
    found = config_files(root)
    assert found[:3] == [
        root / "pyproject.toml",
        root / ".isort.cfg",
        tmp_path / "outer" / "setup.cfg",
    ]
    assert found[-1] == user
    assert not any(p.name in ("README.md", "tox.ini") for p in found)


def test_fingerprint_changes_with_each_input_and_only_then(tmp_path: Path) -> None:
    config = tmp_path / "pyproject.toml"
    config.write_text("[tool.black]\nline-length = 100\n")
    base = fingerprint(tmp_path, VERSIONS, SETTINGS, [config])
    assert fingerprint(tmp_path, dict(VERSIONS), dict(SETTINGS), [config]) == base
    others = {
        fingerprint(tmp_path / "elsewhere", VERSIONS, SETTINGS, [config]),
        fingerprint(tmp_path, {**VERSIONS, "black": "24.2.0"}, SETTINGS, [config]),
        fingerprint(tmp_path, VERSIONS, {"line_length": 88}, [config]),
        fingerprint(tmp_path, VERSIONS, SETTINGS, []),
    }
    config.write_text("[tool.black]\nline-length = 88\n")
    others.add(fingerprint(tmp_path, VERSIONS, SETTINGS, [config]))
    config.unlink()  # a config file that vanished still counts, by name
    others.add(fingerprint(tmp_path, VERSIONS, SETTINGS, [config]))
    assert base not in others and len(others) == 6


def test_fingerprint_reads_the_config_files_itself_by_default(tmp_path: Path) -> None:
    before = fingerprint(tmp_path, VERSIONS, SETTINGS)
    (tmp_path / "setup.cfg").write_text("[isort]\nprofile = black\n")
    assert fingerprint(tmp_path, VERSIONS, SETTINGS) != before


def test_a_saved_cache_loads_back_for_the_same_fingerprint_only(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache" / "deep"  # created on save
    cache = ReformatCache.load(cache_dir, "fp1")
    assert cache.entries == {}
    cache.record("a.py", "d1", "unchanged")
    cache.record("bad.py", "d2", "failed", "cannot parse: 1:4")
    cache.save()
    assert (cache_dir / CACHE_NAME).is_file()
    again = ReformatCache.load(cache_dir, "fp1")
    assert again.entries == {
        "a.py": Entry("d1", "unchanged"),
        "bad.py": Entry("d2", "failed", "cannot parse: 1:4"),
    }
    assert ReformatCache.load(cache_dir, "fp2").entries == {}


def test_lookup_matches_the_exact_content_only() -> None:
    cache = ReformatCache(Path("unused"), "fp")
    cache.record("a.py", "d1", "unchanged")
    assert cache.lookup("a.py", "d1") == Entry("d1", "unchanged")
    assert cache.lookup("a.py", "d2") is None  # the file changed since
    assert cache.lookup("b.py", "d1") is None
    cache.forget("a.py")
    cache.forget("never-known.py")
    assert cache.lookup("a.py", "d1") is None


def test_save_with_keep_drops_files_that_vanished(tmp_path: Path) -> None:
    cache = ReformatCache.load(tmp_path, "fp")
    for name in ("a.py", "b.py", "c.py"):
        cache.record(name, "d-" + name, "unchanged")
    cache.save(keep=["a.py", "c.py", "new.py"])
    assert sorted(ReformatCache.load(tmp_path, "fp").entries) == ["a.py", "c.py"]


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[1, 2]",
        '{"fingerprint": "fp", "files": {"a.py": ["d1", "unchanged", "", "extra", "more"]}}',
        '{"fingerprint": "fp", "files": {"a.py": 7}}',
        b"\xff\xfe not utf-8",
    ],
)
def test_a_damaged_cache_file_is_an_empty_cache(tmp_path: Path, content: str | bytes) -> None:
    path = tmp_path / CACHE_NAME
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    cache = ReformatCache.load(tmp_path, "fp")
    assert cache.entries == {}
    cache.record("x.py", "d", "unchanged")
    cache.save()  # and it is simply replaced
    assert json.loads(path.read_text())["files"] == {"x.py": ["d", "unchanged", ""]}


def _stat(path: Path) -> os.stat_result:
    path.write_bytes(b"x = 1\n")
    return path.stat()


def test_stats_are_remembered_out_of_the_racy_window_only(tmp_path: Path) -> None:
    st = _stat(tmp_path / "a.py")
    cache = ReformatCache.load(tmp_path, "fp")
    cache.record("a.py", "d1", "unchanged")
    cache.remember_stat("a.py", st, started_ns=st.st_ctime_ns + 1)  # just written
    assert cache.lookup_stat("a.py", stat_key(st)) is None
    assert trusted_stat(st, st.st_ctime_ns + RACY_NS) is None
    cache.remember_stat("a.py", st, started_ns=st.st_ctime_ns + RACY_NS + 1)
    assert cache.lookup_stat("a.py", stat_key(st)) == Entry("d1", "unchanged", "", stat_key(st))
    cache.remember_stat("b.py", st, started_ns=st.st_ctime_ns + RACY_NS + 1)  # unknown: no-op
    assert "b.py" not in cache.entries


def test_stats_round_trip_and_go_with_the_fingerprint(tmp_path: Path) -> None:
    st = _stat(tmp_path / "a.py")
    cache = ReformatCache.load(tmp_path / "c", "fp1")
    cache.record("a.py", "d1", "unchanged", stat=stat_key(st))
    cache.save()
    assert ReformatCache.load(tmp_path / "c", "fp1").lookup_stat("a.py", stat_key(st)) is not None
    # another tool version or configuration: another fingerprint, nothing known
    assert ReformatCache.load(tmp_path / "c", "fp2").lookup_stat("a.py", stat_key(st)) is None
    key = stat_key(st)
    assert cache.lookup_stat("a.py", (key[0], key[1], key[2] + 1, key[3])) is None  # ctime
    assert cache.lookup_stat("a.py", (key[0], key[1], key[2], key[3] + 1)) is None  # inode


def test_save_writes_only_what_is_new(tmp_path: Path) -> None:
    cache = ReformatCache.load(tmp_path, "fp")
    cache.save()  # a first run writes even an empty cache
    path = tmp_path / CACHE_NAME
    cache.record("a.py", "d1", "unchanged")
    cache.save()
    again = ReformatCache.load(tmp_path, "fp")
    again.record("a.py", "d1", "unchanged")  # known already
    path.unlink()  # so that a write would show
    again.save(keep=["a.py"])
    assert not path.exists()
    again.save(keep=[])  # a file vanished: written
    assert json.loads(path.read_text())["files"] == {}


@pytest.mark.parametrize(
    "item", ['["d", "unchanged", "", [1, 2, 3]]', '["d", "unchanged", "", [1, 2, 3, "4"]]']
)
def test_a_damaged_stat_is_an_empty_cache(tmp_path: Path, item: str) -> None:
    files = '{"a.py": ' + item + "}"
    (tmp_path / CACHE_NAME).write_text('{"fingerprint": "fp", "files": ' + files + "}")
    assert ReformatCache.load(tmp_path, "fp").entries == {}
