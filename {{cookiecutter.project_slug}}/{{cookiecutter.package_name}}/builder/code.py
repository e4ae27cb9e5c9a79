"""The project's own code as staleness sees it: each module's definitions, a digest of each, and
what each one refers to.

A module is read into ``Definitions``: one ``Item`` per name a build can depend on.

    fit_model            a function (any ``def`` at module level, in an ``if`` or ``try`` too)
    Model                a class, its methods' bodies left out (their headers kept)
    Model.fit            a method
    WINDOW               a module-level value: every statement that binds or changes the name
    FITTERS['median']    one entry of a dispatch table (below)
    np                   an import: the statement that binds the name

An item's digest is a sha256 of its syntax tree in a normal form: without docstrings, comments,
blank lines or formatting, without the type annotations of functions (a dataclass keeps its
fields), dumped field by field leaving out empty ones and what Python versions disagree on (the
fields of 3.12 and 3.13's type parameters, an f-string's empty text in 3.12), so that one source
gives one digest on Python 3.10 to 3.13 (the template's ``test_code_digests.py`` compares them).
Each item also names what it refers to: module-level names (``refs``), names of other modules
(``foreign``: a project module's are followed, a library's recorded by ``libraries``) and the
libraries it imports itself.

A dispatch table is a module-level dict display with constant keys and at least one value that is
code (a name, a call, a lambda), bound by that one statement: ``FITTERS = {"median": fit_median}``.
A function that reads it by key (``FITTERS[name]``, ``FITTERS.get(name)``) depends on that entry
only; any other use (iterating it, passing it on) depends on the whole statement. ``tracing``
rewrites keyed reads so that the key read is noted when the build runs.

Settings are not code (``NOT_CODE``): the registry is compared per parameter, the others only
order, label, choose or say where a build runs.
"""

from __future__ import annotations

import ast
import functools
import os
import sys
from collections.abc import Iterator, Sequence
from importlib.machinery import PathFinder
from pathlib import Path
from typing import Any, NamedTuple

from .layout import BUILDER_FOLDER, PROJECT_ROOT, SETTINGS_FILE

# Module-level names of the pipeline that are settings, never code.
NOT_CODE = frozenset(
    {
        "PARAM_REGISTRY",
        "FINGERPRINT",
        "COST_UNIT",
        "IGNORE_LIBRARIES",
        "GATHERS",
        "resources",
        "exclude",
    }
)
# Every artifact depends on the list of phases that built it.
PHASES = "PHASES"
# What an item is: a function or method records itself when it runs, so a reference to one is not
# followed; the others are followed from what refers to them.
FUNCTION, CLASS, VALUE, IMPORT, ENTRY = "function", "class", "value", "import", "entry"
# The item of module-level statements that bind no name (``register(lambda x: x)``).
UNNAMED = "<module>"
# The digest of a table entry that the table does not hold (a key read with ``get``).
ABSENT = "absent"
# Fields the normal form leaves out: contexts and kinds are implied, type comments are comments.
_SKIPPED = frozenset({"ctx", "kind", "type_comment", "type_ignores", "type_params"})
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)
_SCOPES = (*_DEFS, ast.ClassDef, ast.Module)
_COMPOUND = (ast.If, ast.Try, ast.With, ast.For, ast.While)  # a statement holding statements


class Item(NamedTuple):
    """One name a build can depend on: what it is, its digest, and what it refers to."""

    kind: str
    digest: str
    refs: tuple[str, ...]  # module-level names (and ``alias.attribute`` of imported modules)
    foreign: tuple[tuple[str, str], ...]  # (module, attribute or ""), for imports
    imports: tuple[str, ...]  # absolute modules the item imports itself (inside a function)
    keyed: tuple[str, ...] = ()  # dispatch tables a function reads by key (noted when it runs)


class Definitions(NamedTuple):
    """A module's items, and its dispatch tables (each with its keys and their items' names)."""

    module: str  # its dotted name, for relative imports ("" when unknown)
    items: dict[str, Item]
    tables: tuple[tuple[str, tuple[tuple[object, str], ...]], ...]


# --- the normal form ---


def _body(node: ast.AST, body: list[ast.stmt]) -> list[ast.stmt]:
    """A body without its docstring."""
    if (
        isinstance(node, _SCOPES)
        and body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[1:]
    return body


def dump(node: object, in_function: bool = False) -> str:
    """The normal form of a node: type and fields, without docstrings, empty fields, contexts,
    and inside a function without annotations."""
    if isinstance(node, list):
        return "[" + ",".join(filter(None, (dump(item, in_function) for item in node))) + "]"
    if not isinstance(node, ast.AST):
        return repr(node)
    function = isinstance(node, (*_DEFS, ast.Lambda))
    inner = (in_function or function) and not isinstance(node, ast.ClassDef)
    if in_function and isinstance(node, ast.AnnAssign):  # a local's annotation says nothing
        if node.value is None:
            return ""
        return f"Assign(targets=[{dump(node.target, True)}],value={dump(node.value, True)})"
    fields = []
    for field in node._fields:
        if field in _SKIPPED or (field == "returns" and function):
            continue
        if field == "annotation" and isinstance(node, ast.arg) and inner:
            continue
        value = getattr(node, field, None)
        if field == "body" and isinstance(value, list):
            value = _body(node, value)
        elif field == "values" and isinstance(node, ast.JoinedStr):
            value = _f_string_parts(node.values)
        if value is None or value == []:
            continue
        fields.append(f"{field}={dump(value, inner)}")
    return f"{type(node).__name__}({','.join(fields)})"


def _f_string_parts(values: list[ast.expr]) -> list[ast.expr]:
    """An f-string's parts with its text in one piece between fields and no empty text: Python
    3.12 parses ``f"{a:<{w}}"`` with an empty text after ``{w}`` that 3.11 has not."""
    parts: list[ast.expr] = []
    for value in values:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            if not value.value:
                continue
            if parts and isinstance(parts[-1], ast.Constant) and isinstance(parts[-1].value, str):
                parts[-1] = ast.Constant(parts[-1].value + value.value)
                continue
        parts.append(value)
    return parts


def dump_class(node: ast.ClassDef) -> str:
    """A class without its methods' bodies: their names, arguments and decorators stay, so a method
    added or removed changes the class, while a method's body is the method's own item."""
    headers = []
    for statement in _body(node, node.body):
        if isinstance(statement, _DEFS):
            header = [f"name={statement.name!r}", f"args={dump(statement.args, True)}"]
            if statement.decorator_list:
                header.append(f"decorator_list={dump(statement.decorator_list)}")
            headers.append(f"{type(statement).__name__}({','.join(header)})")
        elif isinstance(statement, ast.ClassDef):
            headers.append(dump_class(statement))
        else:
            headers.append(dump(statement))
    fields = [f"name={node.name!r}"]
    for field in ("bases", "keywords", "decorator_list"):
        value = getattr(node, field)
        if value:
            fields.append(f"{field}={dump(value)}")
    return f"ClassDef({','.join(fields)},body=[{','.join(headers)}])"


def digest(*parts: str) -> str:
    import hashlib  # a build that reads its rewrite from the cache never needs it

    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:16]


# --- what a statement binds ---


def _targets(node: ast.AST) -> Iterator[str]:
    """Names an assignment target binds or changes (``X``, ``X[k]``, ``X.a``, ``a, b``)."""
    while isinstance(node, ast.Subscript | ast.Attribute | ast.Starred):
        node = node.value
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.Tuple | ast.List):
        for element in node.elts:
            yield from _targets(element)


def bound_names(statement: ast.stmt) -> list[str]:
    """The module-level names a statement binds or changes, in order, each once."""
    names: list[str] = []
    if isinstance(statement, (*_DEFS, ast.ClassDef)):
        names.append(statement.name)
    elif isinstance(statement, ast.Assign):
        for target in statement.targets:
            names.extend(_targets(target))
    elif isinstance(statement, ast.AnnAssign | ast.AugAssign):
        names.extend(_targets(statement.target))
    elif isinstance(statement, ast.Import | ast.ImportFrom):
        for alias in statement.names:
            if alias.name != "*":
                names.append(alias.asname or alias.name.split(".")[0])
    elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        names.extend(_targets(statement.value.func))  # X.update(...), X.append(...)
        names = names if isinstance(statement.value.func, ast.Attribute) else []
    elif isinstance(statement, ast.Delete):
        for target in statement.targets:
            names.extend(_targets(target))
    elif isinstance(statement, _COMPOUND):
        for child in ast.iter_child_nodes(statement):
            if isinstance(child, ast.stmt):
                names.extend(bound_names(child))
            elif isinstance(child, ast.ExceptHandler):
                names.extend(n for s in child.body for n in bound_names(s))
        if isinstance(statement, ast.For):
            names.extend(_targets(statement.target))
        if isinstance(statement, ast.With):
            for item in statement.items:
                if item.optional_vars is not None:
                    names.extend(_targets(item.optional_vars))
    return list(dict.fromkeys(names))


def _import_targets(statement: ast.stmt, module: str, package: bool) -> dict[str, tuple[str, str]]:
    """What each name an import binds stands for: (absolute module, attribute or "")."""
    found: dict[str, tuple[str, str]] = {}
    if isinstance(statement, ast.Import):
        for alias in statement.names:
            if alias.asname:
                found[alias.asname] = (alias.name, "")
            else:
                top = alias.name.split(".")[0]
                found[top] = (top, "")
    elif isinstance(statement, ast.ImportFrom):
        base = absolute(statement.module or "", statement.level, module, package)
        if base is not None:
            for alias in statement.names:
                if alias.name != "*":
                    found[alias.asname or alias.name] = (base, alias.name)
    return found


def _simple(statements: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements, those inside module-level ``if``, ``try``, ``with`` and loops too."""
    for statement in statements:
        if isinstance(statement, _COMPOUND):
            for child in ast.iter_child_nodes(statement):
                if isinstance(child, ast.stmt):
                    yield from _simple([child])
                elif isinstance(child, ast.ExceptHandler):
                    yield from _simple(child.body)
        else:
            yield statement


def _import_of(statement: ast.Import | ast.ImportFrom, name: str) -> str:
    """The part of an import statement that binds ``name``: another name added to the same line
    changes nothing of it."""
    for alias in statement.names:
        if (alias.asname or alias.name.split(".")[0]) == name:
            if isinstance(statement, ast.Import):
                return f"Import({alias.name!r},{alias.asname!r})"
            module, level = statement.module, statement.level
            return f"ImportFrom({module!r},{level},{alias.name!r},{alias.asname!r})"
    return dump(statement)


def absolute(name: str, level: int, module: str, package: bool) -> str | None:
    """The absolute module of an import, relative ones resolved from ``module``; None if that
    cannot be done (a module loaded from a file, outside any package)."""
    if level == 0:
        return name
    parts = module.split(".") if package else module.split(".")[:-1]
    if not module or level - 1 > len(parts) or (level - 1 == len(parts) and not name):
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, *([name] if name else [])]) or None


# --- what a piece of code refers to ---


class _References(ast.NodeVisitor):
    """Names a piece of code loads that its own scopes do not bind, keyed reads of the dispatch
    tables, ``alias.attribute`` reads, and the modules it imports; annotations are left out."""

    def __init__(self, tables: frozenset[str], local: frozenset[str]) -> None:
        self.tables = tables
        self.local = local
        self.names: dict[str, None] = {}
        self.attributes: dict[str, None] = {}
        self.imports: dict[str, None] = {}
        self.keyed: set[int] = set()  # ids of table Name nodes read by key
        self.keyed_tables: dict[str, None] = {}

    def visit_Subscript(self, node: ast.Subscript) -> None:  # noqa: N802 (ast's names)
        value = node.value
        if (
            isinstance(value, ast.Name)
            and self._table(value.id)
            and isinstance(node.ctx, ast.Load)
            and not isinstance(node.slice, ast.Slice)
        ):
            self.keyed.add(id(value))
            self.keyed_tables[value.id] = None
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:  # noqa: N802
        function = node.func
        if (
            isinstance(function, ast.Attribute)
            and function.attr == "get"
            and isinstance(function.value, ast.Name)
            and self._table(function.value.id)
            and node.args
            and not node.keywords
        ):
            self.keyed.add(id(function.value))
            self.keyed_tables[function.value.id] = None
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:  # noqa: N802
        if (
            isinstance(node.ctx, ast.Load)
            and node.id not in self.local
            and id(node) not in self.keyed
        ):
            self.names[node.id] = None

    def visit_Attribute(self, node: ast.Attribute) -> None:  # noqa: N802
        if isinstance(node.value, ast.Name) and node.value.id not in self.local:
            self.attributes[f"{node.value.id}.{node.attr}"] = None
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:  # noqa: N802
        for alias in node.names:
            self.imports[alias.name] = None

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:  # noqa: N802
        if node.level == 0 and node.module:
            for alias in node.names:
                self.imports[f"{node.module}.{alias.name}"] = None

    def visit_arg(self, node: ast.arg) -> None:  # noqa: N802
        return  # its annotation

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:  # noqa: N802
        self.visit(node.target)
        if node.value is not None:
            self.visit(node.value)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:  # noqa: N802
        for decorator in node.decorator_list:
            self.visit(decorator)
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.visit(default)
        for statement in node.body:
            self.visit(statement)

    visit_AsyncFunctionDef = visit_FunctionDef  # noqa: N815

    def _table(self, name: str) -> bool:
        return name in self.tables and name not in self.local


def local_names(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> frozenset[str]:
    """Names a function binds itself (its parameters, what it assigns, imports or defines), less
    those it declares global: a module-level name of the same name is not what it reads."""
    arguments = function.args
    names = {
        a.arg
        for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        + [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
    }
    declared: set[str] = set()
    body = function.body if isinstance(function.body, list) else [function.body]
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                names.add(node.id)
            elif isinstance(node, (*_DEFS, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                names.update(a.asname or a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.Global):
                declared.update(node.names)
    return frozenset(names - declared)


# --- a module's definitions ---


def _constant_keys(value: ast.expr) -> list[Any] | None:
    """A dict display's keys if all are constants (no ``**``), else None."""
    if not isinstance(value, ast.Dict):
        return None
    keys = []
    for key in value.keys:
        if not isinstance(key, ast.Constant):
            return None
        keys.append(key.value)
    return keys


def _is_code(value: ast.expr) -> bool:
    return any(isinstance(node, ast.Name | ast.Lambda | ast.Call) for node in ast.walk(value))


def _tables(statements: list[ast.stmt], bindings: dict[str, list[int]]) -> dict[str, ast.Dict]:
    """The module's dispatch tables: a name bound once, by a dict display with constant keys and a
    value that is code."""
    found = {}
    for name, where in bindings.items():
        if len(where) != 1 or name in NOT_CODE:
            continue
        statement = statements[where[0]]
        value = statement.value if isinstance(statement, ast.Assign | ast.AnnAssign) else None
        single = isinstance(statement, ast.AnnAssign) or (
            isinstance(statement, ast.Assign) and len(statement.targets) == 1
        )
        if (
            isinstance(value, ast.Dict)
            and single
            and _constant_keys(value) is not None
            and any(_is_code(entry) for entry in value.values)
        ):
            found[name] = value
    return found


def entry_name(table: str, key: object) -> str:
    return f"{table}[{key!r}]"


class _Reader:
    """Reads a parsed module into its definitions."""

    def __init__(self, tree: ast.Module, module: str, package: bool) -> None:
        self.module = module
        self.statements = _body(tree, tree.body)
        self.bindings: dict[str, list[int]] = {}
        self.unnamed: list[int] = []
        for index, statement in enumerate(self.statements):
            names = bound_names(statement)
            for name in names:
                self.bindings.setdefault(name, []).append(index)
            if not names and not isinstance(statement, ast.Pass):
                self.unnamed.append(index)
        self.table_nodes = _tables(self.statements, self.bindings)
        self.tables = frozenset(self.table_nodes)
        self.imports: dict[str, tuple[str, str]] = {}
        for statement in _simple(self.statements):
            self.imports.update(_import_targets(statement, module, package))
        self.items: dict[str, Item] = {}

    def read(self) -> Definitions:
        for name, where in self.bindings.items():
            self.items[name] = self._name(name, [self.statements[i] for i in where])
        if self.unnamed:
            statements = [self.statements[i] for i in self.unnamed]
            self.items[UNNAMED] = self._item(VALUE, statements, [dump(s) for s in statements])
        for statement in self.statements:
            self._methods(statement)
        tables = []
        for table, node in self.table_nodes.items():
            keys = []
            for key, value in zip(node.keys, node.values, strict=True):
                assert isinstance(key, ast.Constant)
                name = entry_name(table, key.value)
                self.items[name] = self._item(ENTRY, [value], [dump(key), dump(value)])
                keys.append((key.value, name))
            tables.append((table, tuple(keys)))
        return Definitions(self.module, self.items, tuple(tables))

    def _name(self, name: str, statements: list[ast.stmt]) -> Item:
        """A module-level name: every statement that binds or changes it."""
        kinds = {type(s) for s in statements}
        parts = [dump_class(s) if isinstance(s, ast.ClassDef) else dump(s) for s in statements]
        target = self.imports.get(name)
        if kinds <= set(_DEFS):
            item = self._item(FUNCTION, statements, parts, keyed=True)
        elif kinds == {ast.ClassDef}:
            item = self._item(CLASS, statements, parts)
        elif kinds <= {ast.Import, ast.ImportFrom}:  # the name's own import, not its neighbours'
            imports = [s for s in statements if isinstance(s, ast.Import | ast.ImportFrom)]
            item = self._item(IMPORT, [], [_import_of(s, name) for s in imports])
        else:
            item = self._item(VALUE, statements, parts)
        return item._replace(foreign=(target,)) if target else item

    def _item(
        self,
        kind: str,
        nodes: Sequence[ast.AST],
        parts: list[str],
        *,
        keyed: bool = False,
    ) -> Item:
        names: dict[str, None] = {}
        attributes: dict[str, None] = {}
        imports: dict[str, None] = {}
        tables: dict[str, None] = {}
        for node in nodes:
            if isinstance(node, ast.ClassDef):
                found = class_references(node)
            else:
                found = references(node, self.tables if keyed else frozenset())
            names.update(found.names)
            attributes.update(found.attributes)
            imports.update(found.imports)
            tables.update(found.keyed_tables)
        refs = [n for n in names if n in self.bindings and n not in NOT_CODE]
        refs += [a for a in attributes if a.split(".")[0] in self.imports]
        return Item(kind, digest(*parts), tuple(refs), (), tuple(imports), tuple(tables))

    def _methods(self, statement: ast.stmt, prefix: str = "") -> None:
        """Each method of a class as an item of its own, named ``Class.method``."""
        if isinstance(statement, _DEFS) and prefix:
            name = f"{prefix}{statement.name}"
            self.items[name] = self._item(FUNCTION, [statement], [dump(statement)], keyed=True)
        elif isinstance(statement, ast.ClassDef):
            for member in statement.body:
                self._methods(member, f"{prefix}{statement.name}.")


def references(node: ast.AST, tables: frozenset[str] = frozenset()) -> _References:
    """What a piece of code refers to; in a function, reads of ``tables`` by key are not
    references to the whole table."""
    local = local_names(node) if isinstance(node, (*_DEFS, ast.Lambda)) else frozenset()
    found = _References(tables, local)
    found.visit(node)
    return found


def class_references(node: ast.ClassDef) -> _References:
    """What a class refers to, its methods' bodies left out (they are items of their own)."""
    found = _References(frozenset(), frozenset())
    for part in [*node.bases, *node.keywords, *node.decorator_list]:
        found.visit(part)
    for statement in node.body:
        if isinstance(statement, _DEFS):
            for decorator in statement.decorator_list:
                found.visit(decorator)
        elif isinstance(statement, ast.ClassDef):
            inner = class_references(statement)
            found.names.update(inner.names)
            found.attributes.update(inner.attributes)
        else:
            found.visit(statement)
    return found


def read(source: str | bytes, path: str, module: str = "", package: bool = False) -> Definitions:
    """The definitions of a module's source (``module``: its dotted name, for relative imports)."""
    return read_tree(ast.parse(source, path), module, package)


def read_tree(tree: ast.Module, module: str = "", package: bool = False) -> Definitions:
    return _Reader(tree, module, package).read()


# --- instrumenting a module: each function notes that it ran, each keyed table read its key ---

RAN, ITEM, GET = "__perm_ran__", "__perm_item__", "__perm_get__"


class _KeyedReads(ast.NodeTransformer):
    """Turns the keyed reads of dispatch tables that ``references`` found into calls of ITEM and
    GET, which note the key before they read it."""

    def __init__(self, keyed: set[int], tables: dict[str, int]) -> None:
        self.keyed = keyed
        self.tables = tables

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:  # noqa: N802 (ast's names)
        self.generic_visit(node)
        if isinstance(node.value, ast.Name) and id(node.value) in self.keyed:
            return self._call(ITEM, node, node.value, [node.slice])
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:  # noqa: N802
        self.generic_visit(node)
        function = node.func
        if (
            isinstance(function, ast.Attribute)
            and isinstance(function.value, ast.Name)
            and id(function.value) in self.keyed
        ):
            return self._call(GET, node, function.value, list(node.args))
        return node

    def _call(self, name: str, node: ast.expr, table: ast.Name, rest: list[ast.expr]) -> ast.expr:
        number = ast.Constant(self.tables[table.id])
        call = ast.Call(ast.Name(name, ast.Load()), [number, table, *rest], [])
        return ast.copy_location(call, node)


def _noted(number: int, where: ast.AST) -> ast.stmt:
    """``__perm_ran__[number] = True``, placed where ``where`` is."""
    target = ast.Subscript(ast.Name(RAN, ast.Load()), ast.Constant(number), ast.Store())
    return ast.copy_location(ast.Assign([target], ast.Constant(True)), where)


def _noted_lambda(number: int, node: ast.Lambda) -> None:
    """A lambda's body made ``__perm_ran__.__setitem__(number, True) or body`` (None or body)."""
    setter = ast.Attribute(ast.Name(RAN, ast.Load()), "__setitem__", ast.Load())
    note = ast.Call(setter, [ast.Constant(number), ast.Constant(True)], [])
    node.body = ast.copy_location(ast.BoolOp(ast.Or(), [note, node.body]), node.body)


class _Instrumenter:
    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions
        self.tables = {name: index for index, (name, _) in enumerate(definitions.tables)}
        self.owners: dict[str, int] = {}

    def number(self, owner: str) -> int:
        return self.owners.setdefault(owner, len(self.owners))

    def statement(self, statement: ast.stmt, prefix: str = "") -> None:
        if isinstance(statement, _DEFS):
            self.function(statement, self.number(f"{prefix}{statement.name}"))
        elif isinstance(statement, ast.ClassDef):
            for member in statement.body:
                if isinstance(member, (*_DEFS, ast.ClassDef)):
                    self.statement(member, f"{prefix}{statement.name}.")
                else:
                    self.lambdas(member, f"{prefix}{statement.name}")
        elif isinstance(statement, _COMPOUND) and not prefix:
            for child in ast.iter_child_nodes(statement):
                if isinstance(child, ast.stmt):
                    self.statement(child)
                elif isinstance(child, ast.ExceptHandler):
                    for inner in child.body:
                        self.statement(inner)
                else:
                    self.lambdas(child, UNNAMED)
        elif not prefix:
            names = bound_names(statement)
            self.lambdas(statement, names[0] if names else UNNAMED)

    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, number: int) -> None:
        """The function notes its run first thing; its keyed table reads note their keys."""
        found = references(node, frozenset(self.tables))
        if found.keyed:
            rewrite = _KeyedReads(found.keyed, self.tables)
            node.body = [rewrite.visit(statement) for statement in node.body]
        body = _body(node, node.body)
        at = len(node.body) - len(body)
        node.body.insert(at, _noted(number, node.body[min(at, len(node.body) - 1)]))

    def lambdas(self, node: ast.AST, owner: str) -> None:
        """Module-level lambdas (outermost ones) note a run of their owner: the table entry they
        are the value of, else the statement's first name."""
        entries: dict[int, str] = {}
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            table = self.tables_of(node)
            if table is not None:
                keys = dict(self.definitions.tables[self.tables[table]][1])
                assert isinstance(node.value, ast.Dict)
                for key, value in zip(node.value.keys, node.value.values, strict=True):
                    assert isinstance(key, ast.Constant)
                    entries[id(value)] = keys[key.value]
        self._outermost(node, owner, entries)

    def _outermost(self, node: ast.AST, owner: str, entries: dict[int, str]) -> None:
        for child in ast.iter_child_nodes(node):
            here = entries.get(id(child), owner)
            if isinstance(child, ast.Lambda):
                _noted_lambda(self.number(here), child)
            elif not isinstance(child, (*_DEFS, ast.ClassDef)):
                self._outermost(child, here, entries)

    def tables_of(self, node: ast.Assign | ast.AnnAssign) -> str | None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if len(targets) == 1 and isinstance(targets[0], ast.Name) and targets[0].id in self.tables:
            return targets[0].id
        return None


def instrument(tree: ast.Module, definitions: Definitions) -> tuple[str, ...]:
    """Rewrite ``tree`` in place so that each function notes its runs in ``__perm_ran__`` and each
    keyed read of a dispatch table its key; the owners, by the numbers they note."""
    instrumenter = _Instrumenter(definitions)
    for statement in tree.body:
        instrumenter.statement(statement)
    ast.fix_missing_locations(tree)
    return tuple(instrumenter.owners)


# --- which files are the project's, and reading them ---


def is_project_file(path: str | os.PathLike[str]) -> bool:
    """A Python source of this project: under its root, outside the builder, settings.py, a
    virtualenv or installed packages."""
    absolute_path = os.path.abspath(path)
    root = str(PROJECT_ROOT)
    if not absolute_path.startswith(root + os.sep) or not absolute_path.endswith(".py"):
        return False
    if absolute_path == str(SETTINGS_FILE) or absolute_path.startswith(
        str(BUILDER_FOLDER) + os.sep
    ):
        return False
    parts = Path(absolute_path[len(root) + 1 :]).parts
    return not any(
        part in ("site-packages", "dist-packages") or part.startswith(".") for part in parts
    )


def module_file(name: str) -> str | None:
    """The source file of an absolute module, found as an import would find it but without
    importing anything; None for a module without one (built in, missing)."""
    loaded = sys.modules.get(name)
    if loaded is not None:
        found = getattr(loaded, "__file__", None)
        return str(found) if found else None
    parts = name.split(".")
    paths: list[str] | None = None
    spec = None
    for depth in range(1, len(parts) + 1):
        spec = PathFinder.find_spec(".".join(parts[:depth]), paths)
        if spec is None:
            return None
        paths = list(spec.submodule_search_locations or [])
    return spec.origin if spec is not None and spec.has_location else None


@functools.lru_cache(maxsize=256)
def _read_file(
    path: str, mtime_ns: int, size: int, module: str, package: bool
) -> Definitions | None:
    try:
        with open(path, "rb") as handle:
            source = handle.read()
        return read(source, path, module, package)
    except (OSError, SyntaxError, ValueError):
        return None


def definitions_of_file(path: str, module: str = "", package: bool = False) -> Definitions | None:
    """A source file's definitions as it is now, read once per process while it is unchanged;
    None if it is gone or does not parse."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return _read_file(path, info.st_mtime_ns, info.st_size, module, package)
