"""The package's layers import one way, and only `factory/kinds/` and `factory/recipe/` branch on a recipe's kind.

Layers, bottom up: core -> recipe -> algorithms -> kinds -> stages -> cli. A module may import
its own layer and the layers below it, never one above (lazy imports inside functions included).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "factory"
LAYERS = ("core", "recipe", "algorithms", "kinds", "stages", "cli")
STAGE_HELPERS = {"factory.report_facts", "factory.report_html", "factory.report_page", "factory.publish_card",
                 "factory.publish_sources", "factory.publish_fields", "factory.publish_table", "factory.provenance",
                 "factory.clean", "factory.status", "factory.report_crosslingual", "factory.report_embeddings"}
"""Modules that serve one stage (report, publish, plots, status, clean): stage layer, they may ask the registry."""
TOP = {"factory", "factory.__main__", "factory.cli", "factory.pipeline", "factory.pipeline_inputs",
       "factory.import_closure"}
KIND_NAMES = {"toxify", "detoxify", "distill", "selfgen", "translate", "crosslingual"}


def layer_of(module: str) -> str:
    """The layer of a `factory` module."""
    parts = module.split(".")
    if module in TOP or parts[:2] == ["factory", "hubsim"]:
        return "cli"
    if len(parts) > 1 and parts[1] in ("core", "recipe", "kinds", "stages"):
        return parts[1]
    return "stages" if module in STAGE_HELPERS else "algorithms"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path) -> list[tuple[int, str]]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name == "factory" or name.startswith("factory.")]


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_violations() -> list[str]:
    """Every import of a higher layer, as `file:line: module (layer) imports target (layer)`."""
    modules, problems = _modules(), []
    for module, path in modules.items():
        for line, name in _imports(module, path):
            target = _resolve(name, modules)
            if target is None or target == "factory":
                continue
            if LAYERS.index(layer_of(target)) > LAYERS.index(layer_of(module)):
                problems.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {module} ({layer_of(module)}) imports "
                                f"{target} ({layer_of(target)})")
    return sorted(set(problems))


def _names_a_kind(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id.endswith("_KINDS")
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return False
    values = value if isinstance(value, (tuple, list, set, frozenset)) else (value,)
    return any(isinstance(v, str) and v in KIND_NAMES for v in values)


def _is_kind(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "kind") or (isinstance(node, ast.Name)
                                                                          and node.id == "kind")


def kind_branches(modules: dict[str, Path] | None = None) -> list[str]:
    """Comparisons of a kind with kind names (`recipe.kind == "translate"`, `kind in LM_KINDS`) and `*_KINDS`
    tables, outside factory/kinds/ and factory/recipe/."""
    problems = []
    for module, path in (modules or _modules()).items():
        if layer_of(module) in ("kinds", "recipe"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            shown = path.relative_to(PACKAGE.parent) if path.is_relative_to(PACKAGE) else path
            where = f"{shown}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
                if any(_is_kind(o) for o in operands) and any(_names_a_kind(o) for o in operands):
                    problems.append(f"{where}: branch on a kind")
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id.endswith("_KINDS")
                                                      for t in node.targets):
                problems.append(f"{where}: a kind set outside the registry")
    return problems


def test_imports_go_one_way_between_layers():
    assert import_violations() == []


def test_no_code_outside_kinds_and_recipe_branches_on_a_kind():
    assert kind_branches() == []


@pytest.mark.parametrize(("source", "expected"), [
    ('if recipe.kind == "translate":\n    pass\n', 1), ("if facts.recipe.kind in LM_KINDS:\n    pass\n", 1),
    ('x = kind not in ("toxify", "detoxify")\n', 1), ('LM_KINDS = ("distill", "selfgen")\n', 1),
    ('if r.kind == "pair":\n    pass\n', 0), ('if kind_of(recipe).STUDY == "lm":\n    pass\n', 0)])
def test_the_kind_branch_check_catches_branches_and_only_them(tmp_path, source, expected):
    probe = tmp_path / "probe.py"
    probe.write_text(source)
    found = kind_branches({"factory.probe": probe})
    assert len(found) == expected, found


def test_the_import_check_sees_an_upward_import():
    assert layer_of("factory.core.records") == "core" and layer_of("factory.stages.certify") == "stages"
    assert layer_of("factory.filter.minhash") == "algorithms" and layer_of("factory.cli") == "cli"
    assert LAYERS.index(layer_of("factory.kinds")) > LAYERS.index(layer_of("factory.certify_pairs"))
