"""What a build ran of the project's own code, noted as it runs, at the cost of one list store
per call of a project function; libraries and the standard library are not touched.

Like pytest's assertion rewriting, an import hook (``install``) loads the project's modules
(``code.is_project_file``: the pipeline, any module of the project, the file a swapped pipeline
names; not the builder nor settings.py) from a rewritten syntax tree (``code.instrument``): each
function's body begins with ``__perm_ran__[N] = True``, and each read of a dispatch table by key
notes the key. The rewritten code is cached beside the usual bytecode, as
``__pycache__/<module>.<tag>.perm-trace-<FORMAT>.pyc``, keyed by the source's mtime and size, so a
build's start-up reads it instead of parsing. Only ``build`` (and its pool workers and array tasks,
which all run ``build``) sets ``layout.TRACING_VARIABLE``; info commands never load this module.

Around each phase the runner calls ``reset`` and ``collect``: what ran, followed through what it
reads (``code``'s items: module-level values, classes, table entries, imports of other project
modules), as ``{"code": {file: {name: digest}}, "libraries": {distribution: version}}``.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from importlib.machinery import PathFinder, SourceFileLoader
from importlib.util import cache_from_source
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

from .. import settings
from . import BUILDER_VERSION, code, layout, libraries

# Bump when the rewrite or the definitions change: cached rewrites of another format are ignored.
FORMAT = 1
TAG = f"perm-trace-{FORMAT}"
Record = dict[str, Any]  # {"code": {file: {name: digest}}, "libraries": {distribution: version}}


class Traced:
    """One instrumented module: its definitions, the owners its numbers stand for, and what has
    run since the last ``reset``."""

    def __init__(
        self, path: str, definitions: code.Definitions, owners: tuple[str, ...], compiled: CodeType
    ) -> None:
        self.path = path
        self.definitions = definitions
        self.owners = owners
        self.code = compiled
        self.ran = [False] * len(owners)
        self.keys: set[tuple[int, object]] = set()

    def namespace(self) -> dict[str, Any]:
        """What the rewritten code calls: the list of runs and the two keyed reads."""
        note = self.keys.add

        def item(table: int, mapping: Any, key: Any) -> Any:
            note((table, key))
            return mapping[key]

        def get(table: int, mapping: Any, key: Any, *default: Any) -> Any:
            note((table, key))
            return mapping.get(key, *default)

        return {code.RAN: self.ran, code.ITEM: item, code.GET: get}

    def names_run(self) -> Iterator[str]:
        """The items that ran since the last reset: owners, and the table entries read by key."""
        for number, ran in enumerate(self.ran):
            if ran:
                yield self.owners[number]
        for table, key in self.keys:
            name, keys = self.definitions.tables[table]
            yield dict(keys).get(key) or code.entry_name(name, key)


# Instrumented modules by their absolute path.
MODULES: dict[str, Traced] = {}


def cache_path(path: str) -> Path:
    return Path(cache_from_source(path)).with_suffix(f".{TAG}.pyc")


def _key(info: os.stat_result, module: str, package: bool) -> tuple[object, ...]:
    """What a cached rewrite is valid for: this format, builder, source, name and kind."""
    return (TAG, BUILDER_VERSION, info.st_mtime_ns, info.st_size, module, package)


def _from_cache(path: str, info: os.stat_result, module: str, package: bool) -> Traced | None:
    try:
        with open(cache_path(path), "rb") as handle:
            key, compiled, owners, (items, tables) = marshal.loads(handle.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if key != _key(info, module, package):
        return None
    known = code.Definitions(module, {n: code.Item(*i) for n, i in items.items()}, tables)
    return Traced(path, known, tuple(owners), compiled)


def _write_cache(traced: Traced, info: os.stat_result, module: str, package: bool) -> None:
    """Keep the rewrite for the next build; a cache that cannot be written is only slower."""
    if sys.dont_write_bytecode:
        return
    items = {name: tuple(item) for name, item in traced.definitions.items.items()}
    definitions = (items, traced.definitions.tables)
    data = (_key(info, module, package), traced.code, traced.owners, definitions)
    target = cache_path(traced.path)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    with contextlib.suppress(OSError, ValueError):
        target.parent.mkdir(exist_ok=True)
        partial.write_bytes(marshal.dumps(data))  # type: ignore[arg-type]
        os.replace(partial, target)
    with contextlib.suppress(OSError):
        partial.unlink()


def load(path: str, module: str, package: bool) -> Traced:
    """A module's instrumented code and definitions: cached, or rewritten from its source."""
    import ast

    info = os.stat(path)
    cached = _from_cache(path, info, module, package)
    if cached is not None:
        return cached
    with open(path, "rb") as handle:
        source = handle.read()
    tree = ast.parse(source, path)
    definitions = code.read_tree(tree, module, package)
    owners = code.instrument(tree, definitions)
    traced = Traced(path, definitions, owners, compile(tree, path, "exec", dont_inherit=True))
    _write_cache(traced, info, module, package)
    return traced


class TracingLoader(SourceFileLoader):
    """Loads a project module from its instrumented code."""

    def exec_module(self, module: ModuleType) -> None:
        path = os.path.abspath(self.path)
        traced = load(path, module.__name__, self.is_package(module.__name__))
        MODULES[path] = traced
        module.__dict__.update(traced.namespace())
        exec(traced.code, module.__dict__)


class TracingFinder:
    """Finds modules as the path finder does; the project's own get the tracing loader."""

    def find_spec(self, name: str, path: Any = None, target: ModuleType | None = None) -> Any:
        spec = PathFinder.find_spec(name, path, target)
        if (
            spec is not None
            and isinstance(spec.loader, SourceFileLoader)
            and spec.origin
            and code.is_project_file(spec.origin)
        ):
            spec.loader = TracingLoader(name, spec.origin)
        return spec


def install() -> None:
    """Put the finder just before the path finder, whose answers it gives, once per process."""
    if any(isinstance(finder, TracingFinder) for finder in sys.meta_path):
        return
    try:
        where = sys.meta_path.index(PathFinder)
    except ValueError:
        where = len(sys.meta_path)
    sys.meta_path.insert(where, TracingFinder())


# --- what ran, around each phase ---


def reset() -> None:
    """Forget what ran: called before each phase."""
    for traced in MODULES.values():
        traced.ran[:] = [False] * len(traced.ran)
        traced.keys.clear()


def _definitions(path: str, module: str) -> code.Definitions | None:
    traced = MODULES.get(path)
    if traced is not None:
        return traced.definitions
    return code.definitions_of_file(path, module, path.endswith("__init__.py"))


def _project_module(name: str) -> str | None:
    """The file of a module of the project, or None (a library, or none such)."""
    with contextlib.suppress(ImportError, ValueError, AttributeError):
        found = code.module_file(name)
        if found is not None and code.is_project_file(found):
            return os.path.abspath(found)
    return None


class _Closure:
    """What a set of items depends on: the items, followed through what they read."""

    def __init__(self, *, static: bool) -> None:
        self.static = static  # nothing noted: follow every reference, functions and tables too
        self.items: dict[tuple[str, str], str] = {}  # (file, name) -> digest
        self.libraries: set[str] = set()
        self.queue: list[tuple[str, code.Definitions, str, bool]] = []

    def add(self, path: str, definitions: code.Definitions, name: str, followed: bool) -> None:
        self.queue.append((path, definitions, name, followed))

    def run(self) -> None:
        while self.queue:
            path, definitions, name, followed = self.queue.pop()
            if (path, name) in self.items or name in code.NOT_CODE:
                continue
            item = definitions.items.get(name)
            if item is None:
                if "[" in name:  # a key the table does not hold
                    self.items[path, name] = code.ABSENT
                continue
            if followed and item.kind == code.FUNCTION and not self.static:
                continue  # a function records itself when it runs
            self.items[path, name] = item.digest
            self._follow(path, definitions, name, item)

    def _follow(self, path: str, definitions: code.Definitions, name: str, item: code.Item) -> None:
        if "." in name and "[" not in name:  # a method depends on its class
            self.add(path, definitions, name.split(".")[0], True)
        if self.static and item.kind == code.CLASS:  # any of its methods may run
            for method in definitions.items:
                if method.startswith(f"{name}.") and "[" not in method:
                    self.add(path, definitions, method, True)
        for ref in item.refs:
            alias, _, attribute = ref.partition(".")
            self.add(path, definitions, alias, True)
            target = definitions.items.get(alias)
            if attribute and target is not None and target.foreign:
                module, inner = target.foreign[0]
                self._resolve(f"{module}.{inner}" if inner else module, attribute)
        for module, attribute in item.foreign:
            self._resolve(module, attribute)
        for imported in item.imports:
            parent, _, attribute = imported.rpartition(".")
            if _project_module(imported) is None and parent:
                self._resolve(parent, attribute)
            else:
                self._resolve(imported, "")
        if self.static:
            for table in item.keyed:
                self.add(path, definitions, table, True)

    def _resolve(self, module: str, attribute: str) -> None:
        """A name of another module: followed if the module is the project's, else a library."""
        if module.split(".")[0] == settings.PACKAGE and _project_module(module) is None:
            return  # the builder or the settings: neither code nor a library
        if attribute and _project_module(f"{module}.{attribute}") is not None:
            return  # a module of the project, imported whole: its functions record themselves
        found = _project_module(module)
        if found is None:
            self.libraries.add(module.split(".")[0])
            return
        definitions = _definitions(found, module)
        if definitions is not None and attribute:
            self.add(found, definitions, attribute, True)

    def record(self, track_libraries: bool) -> Record:
        files: dict[str, dict[str, str]] = {}
        for (path, name), digest in sorted(self.items.items()):
            files.setdefault(layout.display_path(Path(path)), {})[name] = digest
        found = libraries.versions(self.libraries) if track_libraries else {}
        return {"code": files, "libraries": found}


def collect(
    also: Iterable[tuple[str, str]] = (),
    fallback: Iterable[Callable[..., Any]] = (),
    *,
    static: bool = False,
    track_libraries: bool = True,
) -> Record:
    """What ran since the last ``reset``, with what it read, and the items ``also`` names as
    (file, name) (the pipeline's PHASES). With ``static``, or when nothing was instrumented (the
    pipeline was loaded by another command than ``build``), what the ``fallback`` functions may
    run instead, read from their source with every reference followed."""
    closure = _Closure(static=static or not MODULES)
    if closure.static:
        for function in fallback:
            _start(closure, function)
    else:
        for path, traced in MODULES.items():
            for name in traced.names_run():
                closure.add(path, traced.definitions, name, False)
    for path, name in also:
        definitions = _definitions(path, "")
        if definitions is not None:
            closure.add(path, definitions, name, True)
    closure.run()
    return closure.record(track_libraries)


def _file_of(function: Callable[..., Any]) -> str | None:
    found = getattr(getattr(function, "__code__", None), "co_filename", None)
    return os.path.abspath(found) if found else None


def _start(closure: _Closure, function: Callable[..., Any]) -> None:
    """Start a static closure from a function: its item, or its whole module if it has none."""
    path = _file_of(function)
    if path is None or not code.is_project_file(path):
        return
    definitions = _definitions(path, getattr(function, "__module__", "") or "")
    if definitions is None:
        return
    name = getattr(function, "__qualname__", "").split(".<locals>")[0]
    names = [name] if name in definitions.items else list(definitions.items)
    for each in names:
        closure.add(path, definitions, each, False)
