"""Find where a key was written in a TOML text, so every message can say `file:line`.

`tomllib` gives values without positions. Rather than write a second TOML parser, this module
scans the text once (after `tomllib` accepted it) and records the line of every key path it
meets, in the same shape the parsed data has:

- `[table]` and `[a.b]` headers, and `key = value` with bare, quoted and dotted keys;
- `[[array.of.tables]]`, indexed per parent: the second `[[objective.key_result]]` under the
  first `[[objective]]` is `("objective", 0, "key_result", 1)`;
- array elements (`("repos", 2)`) and inline-table keys, each at the line it starts on;
- multi-line strings and arrays, so their contents are never taken for keys.

A path that was never written (a required field left out) falls back to its nearest written
ancestor, which is the enclosing table header; the root table counts as line 1.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Sequence
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any

from okrsync.errors import InputError, Problem

KeyPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# The scanner's hot paths, each one regex match instead of a loop over characters.
_SPACE = re.compile(r"[ \t]*")
_BARE_KEYS = re.compile(r"[ \t]*([A-Za-z0-9_-]+(?:[ \t]*\.[ \t]*[A-Za-z0-9_-]+)*)[ \t]*")
_DOT_SPACE = re.compile(r"[ \t]*\.[ \t]*")
# `key = "text"` or `key = 12`, alone on its line (a comment aside): most of a mappings file.
_SIMPLE_KEY_VALUE = re.compile(
    r'([A-Za-z0-9_-]+)[ \t]*=[ \t]*(?:"[^"\\\n]*"|[^\s"\'\[{#,\]}][^\n,\]}#]*)[ \t]*(?:#[^\n]*)?(?=\r?\n|\Z)'
)
_BLANK = re.compile(r"(?:[ \t\r\n]+|#[^\n]*)*")
_BASIC_STRING = re.compile(r'"([^"\\\n]*(?:\\.[^"\\\n]*)*)"', re.DOTALL)
_SCALAR = re.compile(r"[^\n,\]}#]*")
_AT_LINE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


class TomlPositions:
    """The line of every key path of one TOML text; build once, query many times.

    The text is scanned on the first query, not before: a loader can hand out positions
    (`okrsync.okrs.Where.later`) for every record, and a run that shows no message never
    pays for the scan.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._index: dict[KeyPath, int] | None = None

    @property
    def _lines(self) -> dict[KeyPath, int]:
        if self._index is None:
            lines: dict[KeyPath, int] = {}
            try:
                _Scanner(self._text, lines).scan()
            except _ScanError:
                # Best effort: a text tomllib rejected still yields the lines seen so far.
                pass
            # Set whole once filled: two threads asking at once at worst both scan.
            self._index = lines
        return self._index

    def line_of(self, path: Sequence[str | int]) -> int:
        """Return the 1-based line of `path`, or of its nearest written ancestor."""
        lines = self._lines
        key = tuple(path)
        while key:
            line = lines.get(key)
            if line is not None:
                return line
            key = key[:-1]
        return 1

    def exact(self, path: Sequence[str | int]) -> int | None:
        """Return the line of `path` itself, or None when it was not written."""
        return self._lines.get(tuple(path))


@lru_cache(maxsize=64)
def positions(text: str) -> TomlPositions:
    """Index `text` once; a file's many messages then cost one scan."""
    return TomlPositions(text)


def line_of(text: str, path: Sequence[str | int]) -> int:
    """Return the 1-based line where `path` is written in `text` (see the module docstring)."""
    return positions(text).line_of(path)


def load_toml(path: Path, *, display: str | None = None) -> tuple[dict[str, Any], str]:
    """Read and parse a TOML file, or raise an `InputError` saying where the syntax broke.

    `display` is how the file is named in messages (default: the path as given). The caller
    re-raises the problems as its own error class (ConfigError, MappingError).
    """
    name = display if display is not None else str(path)
    try:
        # utf-8-sig: editors on Windows may start the file with a byte-order mark.
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        msg = f"expected a UTF-8 text file ({exc.reason} at byte {exc.start})"
        raise InputError([Problem(name, None, "file", msg)]) from None
    except OSError as exc:
        msg = f"cannot read the file: {exc.strerror or exc}"
        raise InputError([Problem(name, None, "file", msg)]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError([_decode_problem(name, str(exc))]) from None
    return data, text


def unknown_key_message(key: str, known: Sequence[str]) -> str:
    """Say a key is unknown and name the nearest known one, so a typo is a one-line fix."""
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean {close[0]!r}?"
    return "unknown key; expected one of: " + ", ".join(known)


def show_value(value: Any) -> str:
    """Render a bad value briefly, the way it looks in TOML, for a message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _decode_problem(name: str, message: str) -> Problem:
    """Turn tomllib's 'Expected ... (at line X, column Y)' into a Problem at line X."""
    match = _AT_LINE.search(message)
    if match is None:
        return Problem(name, None, "syntax", f"invalid TOML: {message}")
    text = message[: match.start()].rstrip()
    return Problem(name, int(match[1]), "syntax", f"invalid TOML: {text} (column {match[2]})")


class _ScanError(Exception):
    """The text is not TOML the scanner understands; keep what was recorded."""


class _Scanner:
    """A small TOML walker that records key lines; values are skipped, never decoded.

    Positions only move forward, so the current line is counted when asked, from where it
    was last counted (`str.count` over the span), rather than on every step.
    """

    def __init__(self, text: str, lines: dict[KeyPath, int]) -> None:
        self.text = text
        self.pos = 0
        self._line = 1
        self._counted = 0  # self._line is the line of this offset
        self.lines = lines
        self.table: KeyPath = ()
        # Concrete path of each array of tables -> how many elements it has so far.
        self.arrays: dict[KeyPath, int] = {}

    # -- low-level helpers ------------------------------------------------------------------

    def peek(self, n: int = 0) -> str:
        i = self.pos + n
        return self.text[i] if i < len(self.text) else ""

    def startswith(self, s: str) -> bool:
        return self.text.startswith(s, self.pos)

    @property
    def line(self) -> int:
        """The 1-based line of the current position."""
        if self.pos > self._counted:
            self._line += self.text.count("\n", self._counted, self.pos)
            self._counted = self.pos
        return self._line

    def advance(self, n: int = 1) -> None:
        self.pos += n

    def skip_space(self) -> None:
        """Skip spaces and tabs on the current line."""
        self.pos = _skip(_SPACE, self.text, self.pos)

    def skip_comment(self) -> None:
        if self.peek() == "#":
            end = self.text.find("\n", self.pos)
            self.pos = len(self.text) if end < 0 else end

    def skip_blank(self) -> None:
        """Skip whitespace, newlines and comments (between statements, inside arrays)."""
        self.pos = _skip(_BLANK, self.text, self.pos)

    def record(self, path: KeyPath, line: int) -> None:
        self.lines.setdefault(path, line)

    # -- statements -------------------------------------------------------------------------

    def scan(self) -> None:
        while True:
            self.skip_blank()
            if self.pos >= len(self.text):
                return
            simple = _SIMPLE_KEY_VALUE.match(self.text, self.pos)
            if simple is not None:
                self.record((*self.table, simple[1]), self.line)
                self.pos = simple.end()
            elif self.startswith("[["):
                self.header(array=True)
            elif self.peek() == "[":
                self.header(array=False)
            else:
                self.key_value(self.table)
            self.skip_space()
            self.skip_comment()

    def header(self, *, array: bool) -> None:
        line = self.line
        self.advance(2 if array else 1)
        keys = self.keys()
        self.skip_space()
        closing = "]]" if array else "]"
        if not self.startswith(closing):
            raise _ScanError
        self.advance(len(closing))
        concrete: KeyPath = ()
        for key in keys[:-1]:
            concrete += (key,)
            self.record(concrete, line)
            if concrete in self.arrays:
                concrete += (self.arrays[concrete] - 1,)
        concrete += (keys[-1],)
        self.record(concrete, line)
        if array:
            index = self.arrays.get(concrete, 0)
            self.arrays[concrete] = index + 1
            concrete += (index,)
            self.record(concrete, line)
        self.table = concrete

    def key_value(self, table: KeyPath) -> None:
        line = self.line
        keys = self.keys()
        self.skip_space()
        if self.peek() != "=":
            raise _ScanError
        self.advance()
        self.skip_space()
        path = table
        for key in keys:
            path += (key,)
            self.record(path, line)
        self.value(path)

    def keys(self) -> list[str]:
        """Read a dotted key (`a."b.c".d`) into its parts."""
        # Most keys are bare (`id`, `objective.key_result`): one match reads them whole.
        match = _BARE_KEYS.match(self.text, self.pos)
        if match is not None and not self.text.startswith(".", match.end()):
            self.pos = match.end()
            return _DOT_SPACE.split(match[1])
        parts: list[str] = []
        while True:
            self.skip_space()
            parts.append(self.one_key())
            self.skip_space()
            if self.peek() != ".":
                return parts
            self.advance()

    def one_key(self) -> str:
        c = self.peek()
        if c == '"':
            return self.basic_string()
        if c == "'":
            return self.literal_string()
        match = _BARE_KEY.match(self.text, self.pos)
        if match is None:
            raise _ScanError
        self.advance(match.end() - self.pos)
        return match[0]

    # -- values -----------------------------------------------------------------------------

    def value(self, path: KeyPath) -> None:
        c = self.peek()
        if self.startswith('"""'):
            self.multiline('"""')
        elif self.startswith("'''"):
            self.multiline("'''")
        elif c == '"':
            self.basic_string()
        elif c == "'":
            self.literal_string()
        elif c == "[":
            self.array(path)
        elif c == "{":
            self.inline_table(path)
        else:
            # Numbers, booleans, dates and times: they hold none of these delimiters.
            self.pos = _skip(_SCALAR, self.text, self.pos)

    def basic_string(self) -> str:
        """Read a one-line "string" (an escape may be any two characters); end at its closing quote."""
        match = _BASIC_STRING.match(self.text, self.pos)
        if match is None:
            raise _ScanError  # unclosed on its line
        self.pos = match.end()
        raw = match[1]
        # Keys with escapes are rare; decode them the way TOML does.
        return _unescape(raw) if "\\" in raw else raw

    def literal_string(self) -> str:
        end = self.text.find("'", self.pos + 1)
        newline = self.text.find("\n", self.pos + 1)
        if end < 0 or (0 <= newline < end):
            raise _ScanError
        key = self.text[self.pos + 1 : end]
        self.advance(end + 1 - self.pos)
        return key

    def multiline(self, quote: str) -> None:
        self.advance(3)
        while True:
            if self.pos >= len(self.text):
                raise _ScanError
            if quote == '"""' and self.peek() == "\\":
                self.advance(2)
                continue
            if self.startswith(quote):
                self.advance(3)
                # Up to two more quotes may belong to the content ("""a"""" is a + ").
                for _ in range(2):
                    if self.peek() == quote[0]:
                        self.advance()
                return
            self.advance()

    def array(self, path: KeyPath) -> None:
        self.advance()  # [
        index = 0
        while True:
            self.skip_blank()
            if self.peek() == "]":
                self.advance()
                return
            if self.peek() == "":
                raise _ScanError
            start = self.pos
            self.record(path + (index,), self.line)
            self.value(path + (index,))
            index += 1
            self.skip_blank()
            if self.peek() == ",":
                self.advance()
            elif self.pos == start:
                raise _ScanError  # `[1, }]`: no value read, so the next turn would read none either

    def inline_table(self, path: KeyPath) -> None:
        self.advance()  # {
        while True:
            self.skip_blank()
            if self.peek() == "}":
                self.advance()
                return
            if self.peek() == "":
                raise _ScanError
            self.key_value(path)
            self.skip_blank()
            if self.peek() == ",":
                self.advance()


def _skip(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Return where `pattern`, which may match nothing, stops matching from `pos`."""
    match = pattern.match(text, pos)
    return match.end() if match is not None else pos


def _unescape(raw: str) -> str:
    """Decode the escapes of a quoted key by letting tomllib read it as a value."""
    try:
        return str(tomllib.loads(f'k = "{raw}"')["k"])
    except tomllib.TOMLDecodeError:
        return raw
