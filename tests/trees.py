"""Small project trees written from a dict, and read back the same way (reformat tests)."""

from __future__ import annotations

from pathlib import Path


def write_tree(root: Path, files: dict[str, bytes], pyproject: str) -> Path:
    """A project at ``root`` with ``pyproject`` and ``files`` (relative path -> bytes)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(pyproject)
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file's bytes outside .git, by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }
