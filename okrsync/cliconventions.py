"""Help text that follows the command-line conventions people know from git, pip and click.

Typer (0.29) writes every parameter's Python type in angle brackets: `--format <str>`,
`--json <bool>`. A reader wants what to type instead: the choices of an option
(`--format [table|markdown|json]`), a word for its value (`--cycle TEXT`, `--keep PATH`),
and nothing at all after a flag, which takes no value. `ConventionalGroup` is the root
group's class: it gives every command of the tree Typer built a `get_params` that hands
out parameters with that display. An explicit `metavar` (`--note KR-ID=TEXT`) is kept as written.

Why swap the class of objects Typer built: Typer takes a `cls` for the one group or command
it is given, and builds every option with its own class; a `cls=` at each of the ~15
commands is a convention every new command would have to remember. Here a new command is
covered by being in the tree, and `tests/test_cli_conventions.py` reads every `--help`.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

# click's own words for its types, so help reads like other click programs'.
_TYPE_WORDS = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "path": "PATH", "bool": "BOOLEAN"}


def conventional_type(param: TyperOption | TyperArgument, ctx: Any) -> str | None:
    """Say what to type for a parameter: None for a flag, choices in brackets, else a word.

    Typer's own label (`<str>`, `<table|markdown|json>`) is the starting point, so a type it
    learns to describe later is still shown, just without the angle brackets.
    """
    if isinstance(param, TyperOption) and (param.is_flag or param.count):
        return None
    if param.metavar is not None:
        return param.metavar
    label = param.display_type(ctx).removeprefix("<").removesuffix(">")
    if param.type_descriptor.is_choice:
        shown = f"[{label}]"
    else:
        shown = _TYPE_WORDS.get(label, label.upper())
    return shown + ("..." if param.nargs != 1 else "")


class _ConventionalOption(TyperOption):
    def display_type_rich(self, ctx: Any) -> str | None:
        return conventional_type(self, ctx)


class _ConventionalArgument(TyperArgument):
    def display_type_rich(self, ctx: Any) -> str | None:
        shown = conventional_type(self, ctx)
        # The argument's name column already shows its metavar (KR-ID): no need to say it twice.
        return None if shown == self.metavar else shown


def _conventional(params: list[Any]) -> list[Any]:
    """Give each Typer parameter the conventional display (its class gains one method)."""
    for param in params:
        if type(param) is TyperOption:
            param.__class__ = _ConventionalOption
        elif type(param) is TyperArgument:
            param.__class__ = _ConventionalArgument
    return params


class _ConventionalCommand(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _conventional(super().get_params(ctx))


class ConventionalGroup(TyperGroup):
    """The root group's class: every command under it shows conventional help.

    Parameters are converted as help asks for them (`get_params`), because some are made
    late: `--help` on demand, and the completion options after the group itself.
    """

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        _adopt(self)

    def get_params(self, ctx: Any) -> list[Any]:
        return _conventional(super().get_params(ctx))


def _adopt(group: TyperGroup) -> None:
    """Make every command and group under `group` conventional too."""
    for command in group.commands.values():
        if type(command) is TyperCommand:
            command.__class__ = _ConventionalCommand
        elif type(command) is TyperGroup:
            command.__class__ = ConventionalGroup
            _adopt(command)
