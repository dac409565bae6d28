"""The apps form layers: an app imports only apps below it (README, "Architecture").

Every module of src/acquitte is parsed, migrations included; imports count at module level and
inside functions alike. Only ``if TYPE_CHECKING:`` blocks are left out, since they never run.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "acquitte"

#: Bottom to top; apps in one tuple sit side by side and may not import each other.
LAYERS: list[tuple[str, ...]] = [
    ("core",),
    ("customers",),
    ("catalog",),
    ("notifications",),
    ("invoicing",),
    ("documents",),
    ("payments",),
    ("quotes", "subscriptions"),
    ("api",),
    ("portal", "backoffice"),
    ("demo",),
]
LEVEL = {app: level for level, apps in enumerate(LAYERS) for app in apps}


def _apps_on_disk() -> set[str]:
    return {path.parent.name for path in SRC.glob("*/apps.py")}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_modules(tree: ast.AST, package: list[str]) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of every import that runs, relative ones resolved."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            # ``from acquitte import payments`` names the app in the imported names.
            if module == "acquitte":
                found.extend((node.lineno, f"acquitte.{alias.name}") for alias in node.names)
            else:
                found.append((node.lineno, module))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _violations() -> list[str]:
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        app = parts[1] if len(parts) > 2 else None
        if app not in LEVEL:
            continue
        package = list(parts[:-1])
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, module in _imported_modules(tree, package):
            names = module.split(".")
            if names[0] != "acquitte" or len(names) < 2 or names[1] not in LEVEL:
                continue
            target = names[1]
            if target != app and LEVEL[target] >= LEVEL[app]:
                problems.append(f"{path.relative_to(SRC.parent)}:{line}: {app} imports {target} ({module})")
    return problems


def test_every_app_has_a_layer():
    assert _apps_on_disk() - set(LEVEL) == set(), "place the new app in LAYERS and in the README"


def test_no_app_imports_one_above_it():
    problems = _violations()
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize(
    ("source", "package", "expected"),
    [
        ("from acquitte.payments import services", ["acquitte", "customers"], ["acquitte.payments"]),
        ("def f():\n    import acquitte.quotes.models", ["acquitte", "core"], ["acquitte.quotes.models"]),
        ("from ...invoicing import models", ["acquitte", "backoffice", "views"], ["acquitte.invoicing"]),
        ("from ..access import owned", ["acquitte", "backoffice", "views"], ["acquitte.backoffice.access"]),
        ("from acquitte import demo", ["acquitte", "core"], ["acquitte.demo"]),
        ("if TYPE_CHECKING:\n    from acquitte.payments.models import Payment", ["acquitte", "core"], []),
        (
            "if typing.TYPE_CHECKING:\n    import acquitte.payments\nelse:\n    import acquitte.quotes",
            ["acquitte", "core"],
            ["acquitte.quotes"],
        ),
    ],
)
def test_the_parser_sees_what_runs(source, package, expected):
    assert [name for _line, name in _imported_modules(ast.parse(source), package)] == expected
