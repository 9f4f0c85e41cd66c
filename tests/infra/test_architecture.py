"""The architecture as the code must keep it, beyond what import-linter checks: a feature uses
another only through its public names (no ``_private`` import across packages)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("accounts", "booking", "stargate_portal")


def _owner(module: str) -> str:
    """The package that owns a module: a feature inside booking, otherwise the top package."""
    parts = module.split(".")
    if parts[0] == "booking" and len(parts) > 2:
        return ".".join(parts[:2])
    return parts[0]


def _modules() -> list[tuple[str, Path]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found.append((module.removesuffix(".__init__"), path))
    return found


def private_imports_across_packages(modules: list[tuple[str, Path]]) -> list[str]:
    problems = []
    for module, path in modules:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not node.module or node.level:
                continue
            if node.module.split(".")[0] not in PACKAGES:
                continue
            foreign = _owner(node.module) != _owner(module)
            private_module = any(part.startswith("_") for part in node.module.split("."))
            private_names = [a.name for a in node.names if a.name.startswith("_")]
            if foreign and (private_module or private_names):
                names = ", ".join(private_names) or node.module
                problems.append(f"{module}:{node.lineno} imports {names} from {node.module}")
    return problems


def test_no_package_imports_private_names_of_another():
    modules = _modules()
    assert len(modules) > 100  # the scan saw the code base
    assert private_imports_across_packages(modules) == []


def test_a_private_import_across_features_is_reported_and_one_inside_a_feature_is_not(tmp_path):
    across = tmp_path / "across.py"
    across.write_text("from booking.ledger.services import _check_allowed, ledger_hold\n")
    inside = tmp_path / "inside.py"
    inside.write_text("from booking.ledger.selectors import _private_helper\n")
    problems = private_imports_across_packages(
        [("booking.jobs.planted", across), ("booking.ledger.planted", inside)]
    )
    assert problems == [
        "booking.jobs.planted:1 imports _check_allowed from booking.ledger.services"
    ]
