"""The tree is the layer table: every import in nnintro (lazy ones inside functions too) goes from a row to a row
below it, training and reports never import each other, and only commands.train is imported by other commands."""
from __future__ import annotations

import ast
from pathlib import Path

import nnintro

PACKAGE = Path(nnintro.__file__).parent
ROWS = [  # top row first; each row may import only the rows below it
    {"nnintro", "nnintro.__main__", "nnintro.cli", "nnintro.notebook", "nnintro.web"},
    {"nnintro.commands"},
    {"nnintro.training", "nnintro.reports", "nnintro.inference"},
    {"nnintro.config"},
    {"nnintro.run_folder", "nnintro.datasets"},
    {"nnintro.tasks", "nnintro.models", "nnintro.files"},
    {"nnintro.errors", "nnintro.safe_yaml", "nnintro.features", "nnintro.version"},
]
MAX_TOP_LEVEL_MODULES = 10


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def row_of(module: str) -> tuple[int, str]:
    """(row, the unit it belongs to: a package of the table or a top-level module)."""
    for index, row in enumerate(ROWS):
        for unit in sorted(row, key=len, reverse=True):
            if module == unit or (unit != "nnintro" and module.startswith(unit + ".")):
                return index, "face" if index == 0 else unit  # the two faces and their entry points are one
    raise AssertionError(f"{module} is in no row of the layer table")


def imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("nnintro")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nnintro") and not node.level:
            if node.module == "nnintro":  # from nnintro import x: x is a module or a name of the package
                found += [(node.lineno, f"nnintro.{alias.name}" if (PACKAGE / alias.name).exists()
                           or (PACKAGE / f"{alias.name}.py").exists() else "nnintro") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def test_every_import_goes_down_the_layer_table():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = module_name(path)
        row, unit = row_of(here)
        for line, target in imports(path):
            target_row, target_unit = row_of(target)
            if target_unit == unit:
                if unit == "nnintro.commands" and target not in ("nnintro.commands", "nnintro.commands.train") \
                        and target != here:
                    wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}: among the commands "
                                 f"only commands.train is imported by others")
                continue
            if target_row <= row:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({unit}, row {row}) imports {target} "
                             f"({target_unit}, row {target_row})")
    assert not wrong, "\n".join(wrong)


def test_the_package_top_level_is_small_and_every_folder_is_in_the_table():
    modules = [p.stem for p in PACKAGE.glob("*.py")]
    assert len(modules) <= MAX_TOP_LEVEL_MODULES, sorted(modules)
    for folder in (p for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()):
        row_of(f"nnintro.{folder.name}")
