"""Which files of the `factory` package a command runs, found by reading the source (nothing is imported).

`code_files` follows every `import` / `from ... import` of a `factory` module, at module level
and inside functions (stages import lazily), transitively; importing a module also runs the
`__init__.py` of its parent packages. Third-party imports are ignored. Three rules keep the
closure exact rather than merely safe:

- shallow modules (the CLI, which registers every command in one module) contribute only
  their module-level imports; an entry `module:function` adds that function's imports, and
  those of the module's functions it calls by name;
- recipe guards: the imports under `if recipe.kind == "translate":` (any `recipe.<field>`
  compared by `==`, `!=`, `in` or `not in` with literals) count only for a recipe that
  matches, and a matching guarded block that ends in `return` or `raise` ends its block;
- `if TYPE_CHECKING:` blocks never run;
- the kind registry: `factory.kinds.kind_of(recipe)` imports the module of the recipe's kind by
  name (the `KINDS` table of factory/kinds/__init__.py). A closure that reaches the registry
  gets the module-level imports of every kind package (the CLI registers each kind's commands)
  and, for the recipe's kind (every kind without a recipe), the imports of the kind functions
  the closure calls (`kind_of(recipe).generate(...)`, or `kind.train` after `kind = kind_of(...)`).

Imports by computed name (`importlib.import_module(variable)`) are invisible: pass their
targets as entries. `package_data` finds the files under factory/data that modules name
through `Path(__file__)` expressions.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Sequence

PACKAGE = "factory"
_MISSING = object()


def _parse(path: Path) -> ast.Module:
    return _parse_version(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=None)
def _parse_version(path: Path, mtime_ns: int) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def module_file(root: Path, module: str) -> Optional[Path]:
    """The source file of `module` under the project root `root` (None outside the package)."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = Path(root).joinpath(*parts)
    for candidate in (base.parent / f"{parts[-1]}.py", base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_of(root: Path, module: str) -> str:
    file = module_file(root, module)
    return module if file is not None and file.name == "__init__.py" else module.rpartition(".")[0]


def _import_targets(root: Path, module: str, node: ast.stmt) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    assert isinstance(node, ast.ImportFrom)
    base = node.module or ""
    if node.level:
        package = _package_of(root, module)
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    yield base
    for alias in node.names:  # `from factory import metrics` imports the module factory.metrics
        if module_file(root, f"{base}.{alias.name}") is not None:
            yield f"{base}.{alias.name}"


def _recipe_value(node: ast.expr, recipe: Any) -> Any:
    chain = []
    while isinstance(node, ast.Attribute):
        chain.append(node.attr)
        node = node.value
    if not (isinstance(node, ast.Name) and node.id == "recipe" and chain):
        return _MISSING
    value = recipe
    for attr in reversed(chain):
        value = getattr(value, attr, _MISSING)
        if value is _MISSING:
            return _MISSING
    return value


def guard_verdict(test: ast.expr, recipe: Any) -> Optional[bool]:
    """Whether an `if` test holds for `recipe`: True, False, or None when it cannot be told statically."""
    if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"):
        return False
    if recipe is None or not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    value = _recipe_value(test.left, recipe)
    if value is _MISSING:
        return None
    try:
        literal = ast.literal_eval(test.comparators[0])
    except ValueError:
        return None
    compare = {ast.Eq: lambda: value == literal, ast.NotEq: lambda: value != literal,
               ast.In: lambda: value in literal, ast.NotIn: lambda: value not in literal}
    check = compare.get(type(test.ops[0]))
    try:
        return bool(check()) if check else None
    except TypeError:
        return None


def _child_blocks(stmt: ast.stmt, shallow: bool) -> Iterator[list[ast.stmt]]:
    if shallow and isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return
    for field in ("body", "orelse", "finalbody"):
        block = getattr(stmt, field, None)
        if isinstance(block, list):
            yield block
    for holder in (*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())):
        yield holder.body


def _block_imports(block: Sequence[ast.stmt], recipe: Any, shallow: bool) -> Iterator[ast.stmt]:
    for stmt in block:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            yield stmt
        elif isinstance(stmt, ast.If):
            verdict = guard_verdict(stmt.test, recipe)
            if verdict is not False:
                yield from _block_imports(stmt.body, recipe, shallow)
            if verdict is not True:
                yield from _block_imports(stmt.orelse, recipe, shallow)
            if verdict is True and stmt.body and isinstance(stmt.body[-1], (ast.Return, ast.Raise)):
                return
        else:
            for child in _child_blocks(stmt, shallow):
                yield from _block_imports(child, recipe, shallow)


def _functions(tree: ast.Module) -> dict[str, ast.AST]:
    return {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _function_imports(tree: ast.Module, name: str, recipe: Any) -> list[ast.stmt]:
    functions, seen, todo, found = _functions(tree), set(), [name], []
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        if current not in functions:
            raise LookupError(f"no function {current!r}")
        seen.add(current)
        found += _block_imports(functions[current].body, recipe, shallow=False)
        todo += [n.func.id for n in ast.walk(functions[current])
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in functions]
    return found


REGISTRY = "factory.kinds"
"""The module whose `KINDS` table maps a kind name to the module implementing it."""


def registered_kinds(root: Path) -> dict[str, str]:
    """The `KINDS` table of the registry (kind name -> module), read from its source."""
    file = module_file(root, REGISTRY)
    for node in _parse(file).body if file is not None else []:
        target = node.target if isinstance(node, ast.AnnAssign) else (node.targets[0] if isinstance(node, ast.Assign)
                                                                       else None)
        if isinstance(target, ast.Name) and target.id == "KINDS" and node.value is not None:
            return ast.literal_eval(node.value)
    return {}


def _kind_attributes(tree: ast.AST) -> set[str]:
    """Names used on the result of `kind_of(...)`: `kind_of(r).train`, or `kind.GRID` after `kind = kind_of(r)`."""
    holders = {target.id for node in ast.walk(tree) if isinstance(node, ast.Assign) and _calls_kind_of(node.value)
               for target in node.targets if isinstance(target, ast.Name)}
    return {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute) and (
        _calls_kind_of(node.value) or (isinstance(node.value, ast.Name) and node.value.id in holders))}


def _calls_kind_of(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "kind_of"


def _scanned_trees(root: Path, files: dict[str, Path], shallow: set[str], entries: Iterable[str],
                   recipe: Any) -> Iterator[ast.AST]:
    """The code of the closure that runs: whole modules, but of shallow ones only the entry functions."""
    functions: dict[str, list[str]] = {}
    for entry in entries:
        module, _, function = entry.partition(":")
        if function:
            functions.setdefault(module, []).append(function)
    for module, file in files.items():
        tree = _parse(file)
        if module not in shallow:
            yield tree
            continue
        defined = _functions(tree)
        for name in functions.get(module, []):
            yield from (defined[n] for n in _reachable(defined, name))


def _reachable(functions: dict[str, ast.AST], name: str) -> list[str]:
    seen, todo = [], [name]
    while todo:
        current = todo.pop()
        if current in seen or current not in functions:
            continue
        seen.append(current)
        todo += [n.func.id for n in ast.walk(functions[current])
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    return seen


def _kind_entries(root: Path, files: dict[str, Path], shallow: set[str], entries: Iterable[str],
                  recipe: Any) -> tuple[list[str], set[str]]:
    """(entries `module:function` of the kind functions the closure calls, the modules to read shallow: the kind
    packages and the command modules their `commands` import, which only register commands)."""
    kinds = registered_kinds(root)
    packages = set(kinds.values())
    mine = {kinds[recipe.kind]} if recipe is not None and getattr(recipe, "kind", None) in kinds else packages
    used = {attr for tree in _scanned_trees(root, files, shallow, entries, recipe) for attr in _kind_attributes(tree)}
    found, shallow_modules = [], set(packages)
    for module in sorted(packages):
        tree = _parse(module_file(root, module))
        defined = _functions(tree)
        calls = used if module in mine else set()
        found += [f"{module}:{name}" for name in sorted(calls | {"commands"}) if name in defined]
        if "commands" in defined:
            shallow_modules |= {target for node in _function_imports(tree, "commands", recipe)
                                for target in _import_targets(root, module, node)}
    return found, shallow_modules


def code_files(root: Path, entries: Iterable[str], *, shallow: Iterable[str] = (), recipe: Any = None) -> list[str]:
    """Sorted paths (relative to `root`, POSIX) of the package files that running `entries` imports.

    An entry is a module (`factory.stages.ingest`) or a function of one (`factory.cli:publish`);
    `shallow` modules contribute only their module-level imports (plus those of entry functions);
    `recipe` decides the recipe guards and which kind the registry stands for (None: every
    guarded import, every kind).
    """
    root, shallow, entries = Path(root).resolve(), set(shallow), list(entries)
    files = _closure(root, entries, shallow, recipe)
    while REGISTRY in files:
        kind_entries, packages = _kind_entries(root, files, shallow, entries, recipe)
        more = [e for e in kind_entries if e not in entries]
        if not more and packages <= shallow:
            break
        entries, shallow = entries + more, shallow | packages
        files = _closure(root, entries, shallow, recipe)
    return sorted(path.relative_to(root).as_posix() for path in files.values())


def _closure(root: Path, entries: Iterable[str], shallow: set[str], recipe: Any) -> dict[str, Path]:
    """{module: file} of the static import closure of `entries` (the registry not followed)."""
    files: dict[str, Path] = {}
    todo: list[str] = []

    def add(module: str) -> None:
        parts = module.split(".")
        for depth in range(1, len(parts) + 1):
            name = ".".join(parts[:depth])
            if name not in files and (file := module_file(root, name)) is not None:
                files[name] = file
                todo.append(name)

    for entry in entries:
        module, _, function = entry.partition(":")
        add(module)
        if function:
            file = module_file(root, module)
            if file is None:
                raise LookupError(f"no module {module!r} under {root}")
            for node in _function_imports(_parse(file), function, recipe):
                for target in _import_targets(root, module, node):
                    add(target)
    while todo:
        module = todo.pop()
        for node in _block_imports(_parse(files[module]).body, recipe, shallow=module in shallow):
            for target in _import_targets(root, module, node):
                add(target)
    return files


def _path_value(node: ast.AST, file: Path, constants: dict[str, Path]) -> Optional[Path]:
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        return constants.get(node.id)
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        inner = _path_value(node.value, file, constants)
        return inner.parent if inner is not None else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant) \
            and isinstance(node.right.value, str):
        inner = _path_value(node.left, file, constants)
        return inner / node.right.value if inner is not None else None
    if isinstance(node, ast.Call) and not node.keywords:
        func, args = node.func, node.args
        if isinstance(func, ast.Name) and func.id == "Path" and len(args) == 1 \
                and isinstance(args[0], ast.Name) and args[0].id == "__file__":
            return file
        if isinstance(func, ast.Attribute) and func.attr == "resolve" and not args:
            return _path_value(func.value, file, constants)
    return None


def _module_constants(tree: ast.Module, file: Path) -> tuple[dict[str, Path], set[int]]:
    constants: dict[str, Path] = {}
    definitions: set[int] = set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            value = _path_value(stmt.value, file, constants)
            if value is not None and len(targets) == 1 and isinstance(targets[0], ast.Name):
                constants[targets[0].id] = value
                definitions.add(id(stmt.value))
    return constants, definitions


@functools.lru_cache(maxsize=None)
def _module_data(file: Path, data_dir: Path, mtime_ns: int) -> frozenset[Path]:
    tree = _parse(file)
    constants, definitions = _module_constants(tree, file)
    parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = set()
    for node in ast.walk(tree):
        value = _path_value(node, file, constants)
        parent = parents.get(id(node))
        if value is None or id(node) in definitions or (
                parent is not None and _path_value(parent, file, constants) is not None):
            continue
        if value.is_relative_to(data_dir) and value.exists():
            found.add(value)
    return frozenset(found)


def package_data(root: Path, files: Iterable[str]) -> list[str]:
    """Sorted paths under factory/data that the given modules read: every existing file or folder
    named by a `Path(__file__)...` expression (through module constants such as `SEED_DIR / "pairs.tsv"`),
    at its most specific (a folder only where the code uses the folder itself)."""
    root = Path(root).resolve()
    data_dir = root / PACKAGE / "data"
    found = {path for name in files for path in _module_data(root / name, data_dir, (root / name).stat().st_mtime_ns)}
    return sorted(path.relative_to(root).as_posix() for path in found)
