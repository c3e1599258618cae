"""The source files a pipeline stage runs: code as an input of what it computes.

A stage is one ``searec`` command, i.e. one function of ``searec.commands``. Its code is that
function's module file plus every ``searec`` module it imports, followed transitively through
imports at module level *and* inside functions (the commands import heavy libraries lazily), plus
the packages' ``__init__`` files Python runs on the way. The entry function is read precisely
(only its own imports and those of the module-level helpers it calls); every module reached from
there is read whole, which can only over-count. A model is imported by name at run time
(``get_model_class``), so a training stage adds its model's file explicitly.

A module that reads files shipped inside the package names them in a module-level
``PACKAGE_DATA`` tuple (paths under ``src/searec``); they count as its code. The params schema
is not listed: it only accepts or refuses a params file, it changes no result.

Both tools hash what this lists: DVC by content (``deps``), Snakemake by modification time
(``input``). Source text is what counts, so a comment-only edit reruns the stages that read the
file — simple, and never stale.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from functools import cache
from pathlib import Path

PACKAGE = "searec"
SOURCE_ROOT = Path("src") / PACKAGE
"""Where the package's sources lie in the repository: the paths both tools' dependencies name."""


@cache
def _package_dir() -> Path:
    import searec

    return Path(searec.__file__).parent


@cache
def _module_file(module: str) -> Path | None:
    """The source file of ``searec.a.b`` (module or package), or ``None`` when it is not one of ours."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = _package_dir().joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(nodes: Iterable[ast.AST], module: str) -> set[str]:
    """The ``searec`` modules that the import statements among ``nodes`` load (with their parent packages)."""
    found: set[str] = set()
    package = module if _module_file(module) and _module_file(module).name == "__init__.py" else module.rpartition(".")[0]
    for node in nodes:
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]  # `from pkg import submodule`
        for name in names:
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):
                candidate = ".".join(parts[:depth])
                if _module_file(candidate) is not None:
                    found.add(candidate)
    return found


@cache
def _parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@cache
def _module_imports(module: str) -> frozenset[str]:
    """Every ``searec`` module ``module`` imports anywhere in its file (read once per process)."""
    path = _module_file(module)
    return frozenset() if path is None else frozenset(_imported_modules(ast.walk(_parsed(path)), module))


def _function_imports(module: str, function: str) -> set[str]:
    """The imports that calling ``module.function`` can run: the module's top level, the function's
    body, and the bodies of the module-level functions it refers to (transitively)."""
    path = _module_file(module)
    if path is None:
        raise ValueError(f"{module} is not a module of {PACKAGE}")
    tree = _parsed(path)
    functions = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if function not in functions:
        raise ValueError(f"{module} has no function {function!r}")
    top_level = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    seen, pending, nodes = set(), [function], list(top_level)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        body = list(ast.walk(functions[name]))
        nodes += body
        pending += [n.id for n in body if isinstance(n, ast.Name) and n.id in functions and n.id not in seen]
    return _imported_modules(nodes, module)


def module_closure(modules: Iterable[str]) -> set[str]:
    """``modules`` and every ``searec`` module they import, transitively (whole files)."""
    closure: set[str] = set()
    pending = list(modules)
    while pending:
        module = pending.pop()
        if module in closure:
            continue
        closure.add(module)
        pending += sorted(_module_imports(module) - closure)
    return closure


def stage_sources(entry: str, extra_modules: Iterable[str] = ()) -> list[str]:
    """The repository paths of the code a stage runs: ``entry`` is ``module:function``.

    ``extra_modules`` are modules the stage imports by name at run time (a training's model).
    """
    module, _, function = entry.partition(":")
    start = _function_imports(module, function) | {f"{PACKAGE}.__main__", f"{PACKAGE}.cli"} | set(extra_modules)
    closure = module_closure(start) | {module}  # the entry's own file, read only as far as the function reaches
    root = _package_dir()
    files = {str(SOURCE_ROOT / _module_file(name).relative_to(root)) for name in closure}
    files |= {str(SOURCE_ROOT / data) for name in closure for data in _package_data(name)}
    return sorted(files)


def _package_data(module: str) -> tuple[str, ...]:
    """The module's ``PACKAGE_DATA = ("relative/path", ...)``, read from its source."""
    path = _module_file(module)
    for node in _parsed(path).body if path else []:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PACKAGE_DATA" for t in node.targets):
            value = ast.literal_eval(node.value)
            missing = [item for item in value if not (_package_dir() / item).exists()]
            if missing:
                raise ValueError(f"{path}: PACKAGE_DATA names {missing}, which are not in the package")
            return tuple(value)
    return ()


TRAINING_ENTRY = "searec.commands.training:cmd_train"


def model_source(model: str) -> str:
    """The repository path of a model's file (each model is ``searec/models/<name>.py``)."""
    return str(SOURCE_ROOT / "models" / f"{model}.py")


def training_sources(model: str) -> list[str]:
    """The code one training of ``model`` runs: the training command and the model's own file."""
    return stage_sources(TRAINING_ENTRY, [f"{PACKAGE}.models.{model}"])


def source_hashes(paths: Iterable[str]) -> dict[str, str]:
    """``{repository path: sha256 of the installed file}`` of source paths (``src/searec/...``): what ran.

    A folder (package data such as the sample catalog) hashes its files in name order.
    """
    import hashlib

    root = _package_dir()
    hashes = {}
    for path in paths:
        local = root / Path(path).relative_to(SOURCE_ROOT)
        digest = hashlib.sha256()
        for file in sorted(local.rglob("*")) if local.is_dir() else [local]:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(local)).encode() if local.is_dir() else b"")
                digest.update(file.read_bytes())
        hashes[path] = digest.hexdigest()
    return hashes
