"""What a project's Python code declares without writing it out, read from its syntax tree (for
docs drift): the environment variables of pydantic-settings models and the options of typer
commands.

- A class whose `model_config` (a `SettingsConfigDict(...)` or dict) or inner `class Config` sets
  `env_prefix="APP_"` reads `APP_<FIELD>` for each annotated field (names in capitals, as
  pydantic-settings matches them case-insensitively), or the field's `alias` /
  `validation_alias` when it names one.
- A function decorated with `….command(…)` or `….callback(…)` (typer's command tree) takes an
  option for each parameter declared with `typer.Option(…)` — directly or inside `Annotated[…]`:
  the names the call gives (`"--json"`, `"-v"`), else `--` and the parameter's name with dashes.
Code that does not parse is skipped; nothing is imported or run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass
class DeclaredNames:
    """Environment variables and command-line options a project's code declares."""

    settings: set[str] = field(default_factory=set)
    options: set[str] = field(default_factory=set)


def declared_names(sources: Iterable[str]) -> DeclaredNames:
    """The settings and options declared by these Python sources."""
    found = DeclaredNames()
    for source in sources:
        if "env_prefix" not in source and "Option" not in source:
            continue
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                found.settings.update(_settings(node))
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _is_command(node):
                found.options.update(_options(node))
    return found


def _settings(cls: ast.ClassDef) -> Iterator[str]:
    prefix = _env_prefix(cls)
    if prefix is None:
        return
    for statement in cls.body:
        if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)):
            continue
        name = statement.target.id
        if name == "model_config" or "ClassVar" in ast.unparse(statement.annotation):
            continue
        alias = _keyword_text(statement.value, ("validation_alias", "alias"))
        yield (alias or f"{prefix}{name}").upper()


def _env_prefix(cls: ast.ClassDef) -> str | None:
    for statement in cls.body:
        if isinstance(statement, ast.ClassDef) and statement.name == "Config":
            for inner in statement.body:
                prefix = _text(_assigned(inner, "env_prefix"))
                if prefix is not None:
                    return prefix
        value = _assigned(statement, "model_config")
        if isinstance(value, ast.Call):
            prefix = _keyword_text(value, ("env_prefix",))
            if prefix is not None:
                return prefix
        if isinstance(value, ast.Dict):
            for key, item in zip(value.keys, value.values, strict=True):
                if key is not None and _text(key) == "env_prefix":
                    return _text(item)
    return None


def _assigned(statement: ast.stmt, name: str) -> ast.expr | None:
    if isinstance(statement, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in statement.targets):
        return statement.value
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) \
            and statement.target.id == name:
        return statement.value
    return None


def _is_command(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Attribute) and target.attr in ("command", "callback"):
            return True
    return False


def _options(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[str]:
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(arguments.defaults))
    pairs = [*zip(positional, [*defaults, *arguments.defaults], strict=True),
             *zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)]
    for argument, default in pairs:
        call = _option_call(argument.annotation) or _option_call(default)
        if call is None:
            continue
        names = [text for text in (_text(arg) for arg in call.args) if text and text.startswith("-")]
        for name in names or [f"--{argument.arg.replace('_', '-')}"]:
            yield from name.split("/")  # "--color/--no-color"


def _option_call(node: ast.expr | None) -> ast.Call | None:
    """The `typer.Option(…)` call in a default or an `Annotated[…]` annotation."""
    if node is None:
        return None
    for inner in ast.walk(node):
        if isinstance(inner, ast.Call):
            called = inner.func
            name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
            if name == "Option":
                return inner
    return None


def _keyword_text(node: ast.expr | None, names: tuple[str, ...]) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    for keyword in node.keywords:
        if keyword.arg in names:
            return _text(keyword.value)
    return None


def _text(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None
