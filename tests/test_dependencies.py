"""Every third-party module the package imports is a declared dependency."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Distribution names whose import name differs.
IMPORT_NAMES = {"python-dotenv": "dotenv", "markdown-it-py": "markdown_it", "pillow": "PIL"}


def test_every_runtime_import_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = set()
    for requirement in project["dependencies"]:
        name = requirement.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip()
        declared.add(IMPORT_NAMES.get(name, name.replace("-", "_")))
    imported = set()
    for path in (ROOT / "backlog_mcp").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"backlog_mcp", "__future__"}
    assert third_party <= declared, sorted(third_party - declared)
