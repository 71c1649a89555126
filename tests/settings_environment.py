"""The environment variables the settings modules read, found by parsing them (no import): used by the tests
that keep the README's configuration reference and docker/.env.example complete."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_DIR = ROOT / "config" / "settings"
_READERS = {"env_bool", "env_list"}


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _loop_constants(tree: ast.AST) -> dict[str, list[str]]:
    """`for name in ("A", "B"):` loops: what each loop variable takes."""
    loops: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name) and isinstance(node.iter, ast.Tuple):
            values = [e.value for e in node.iter.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            loops.setdefault(node.target.id, []).extend(values)
    return loops


def environment_reads(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    loops = _loop_constants(tree)
    names: set[str] = set()

    def add(argument: ast.AST) -> None:
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            names.add(argument.value)
        elif isinstance(argument, ast.Name):
            names.update(loops.get(argument.id, []))

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            function = node.func
            if isinstance(function, ast.Attribute) and function.attr in {"get", "setdefault", "pop"}:
                if _is_os_environ(function.value):
                    add(node.args[0])
            elif (isinstance(function, ast.Name) and function.id in _READERS) or (
                isinstance(function, ast.Attribute) and function.attr == "getenv"
            ):
                add(node.args[0])
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            add(node.slice)
    return names


def settings_environment_reads() -> dict[str, set[str]]:
    """Variable -> the settings modules (file names) that read it."""
    found: dict[str, set[str]] = {}
    for path in sorted(SETTINGS_DIR.glob("*.py")):
        for name in environment_reads(path):
            found.setdefault(name, set()).add(path.name)
    return found
