"""The one reader of every file the device reads: a clear refusal, never a traceback or a default.

Each file (the board configuration, a scenario, ...) is read through :func:`read_toml_file` or
:func:`read_text_file`, which refuse, with :class:`InputFileError` and one line that names the
file, what is wrong and what is allowed:

- a path that is missing, a folder, a device or a pipe, or cannot be read (permission);
- a file larger than its limit, checked on the open file's size BEFORE reading (and the read
  itself stops one byte past the limit, for a file that grows meanwhile): a 200 MB "config" is
  never pulled into memory;
- bytes that are not UTF-8 (the offset and line of the first bad byte), or NUL bytes (a binary
  file that happens to decode);
- an empty file (only blanks and comments): a file given on purpose that says nothing would
  otherwise run on defaults without a word; the message says what the file must hold;
- TOML that does not parse (the line and column from tomllib).

A leading UTF-8 byte-order mark (some editors write one) is accepted and dropped. Nothing here
imports the rest of the package: hal, records, control and the scenario harness may all use it.
Entry points turn :class:`InputFileError` (a ``ValueError``) into exit code 2 (docs/exit-codes.md).
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any

KIB = 1024
_BOM = "\ufeff"
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_COMMENT_OR_BLANK = re.compile(r"^\s*(#.*)?$")


class BadInput(ValueError):
    """Input refused as given (a file, an argument); ``str(error)`` is the one-line message.
    Every entry point exits with code 2 for it (docs/exit-codes.md)."""


class InputFileError(BadInput):
    """A file that cannot be used as it is. ``str(error)`` is one line: file, problem, what is
    allowed. ``line`` is the 1-based line of the problem when known."""

    def __init__(self, path: Path | str, problem: str, *, line: int | None = None) -> None:
        where = f"{shown_path(path)}:{line}" if line else shown_path(path)
        super().__init__(one_line(f"{where}: {problem}"))
        self.path = str(path)
        self.problem = problem
        self.line = line


def shown_path(path: Path | str) -> str:
    """The path as a user can copy it; control characters in a name are escaped."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def one_line(text: str) -> str:
    return " ".join(text.split())


def _size_text(size: int) -> str:
    if size >= KIB * KIB:
        return f"{size / (KIB * KIB):.1f} MiB ({size} bytes)"
    if size >= KIB:
        return f"{size / KIB:.1f} KiB ({size} bytes)"
    return f"{size} bytes"


def read_bytes_file(path: Path | str, *, what: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; :class:`InputFileError` otherwise.

    ``what`` names the file's job in messages ("board configuration", "scenario file").
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise InputFileError(path, f"no such file; a {what} must be an existing file") from None
    except IsADirectoryError:
        raise InputFileError(path, f"is a folder; a {what} must be a file") from None
    except PermissionError:
        raise InputFileError(path, f"cannot be read (permission denied); a {what} must be "
                                   f"readable by this user") from None
    except OSError as error:
        raise InputFileError(path, f"cannot be opened ({error.strerror or error}); a {what} "
                                   f"must be a readable file") from None
    try:
        info = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputFileError(path, f"is a folder; a {what} must be a file")
        raise InputFileError(path, f"is not a regular file (a device, pipe or socket); "
                                   f"a {what} must be a plain file")
    limit = f"a {what} is at most {_size_text(max_bytes)}"
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > max_bytes:
            raise InputFileError(path, f"is {_size_text(info.st_size)}; {limit}")
        try:
            data = handle.read(max_bytes + 1)
        except OSError as error:
            raise InputFileError(path, f"cannot be read ({error.strerror or error}); a {what} "
                                       f"must be a readable file") from None
    if len(data) > max_bytes:  # it grew between the size check and the read
        raise InputFileError(path, f"grew past {_size_text(max_bytes)} while being read; {limit}")
    return data


def read_text_file(path: Path | str, *, what: str, max_bytes: int, required: str) -> str:
    """UTF-8 text of at most ``max_bytes``, not empty; ``required`` says what it must hold
    (used in the message for an empty file)."""
    data = read_bytes_file(path, what=what, max_bytes=max_bytes)
    text = decode_utf8(data, path, what=what)
    if not text.strip():
        raise InputFileError(path, f"is empty; {required}")
    return text


def decode_utf8(data: bytes, path: Path | str, *, what: str) -> str:
    """``data`` as text, or :class:`InputFileError` naming the first bad byte and its line."""
    nul = data.find(b"\0")
    if nul >= 0:
        raise InputFileError(path, f"is a binary file (NUL byte at offset {nul}); a {what} is "
                                   f"UTF-8 text (TOML)", line=data.count(b"\n", 0, nul) + 1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InputFileError(
            path, f"is not UTF-8 text (byte 0x{data[error.start]:02X} at offset {error.start}); "
                  f"a {what} is UTF-8 text (TOML)", line=line) from None
    return text[1:] if text.startswith(_BOM) else text


def read_toml_file(path: Path | str, *, what: str, max_bytes: int,
                   required: str) -> tuple[dict[str, Any], str]:
    """The TOML document of a file and its text (for line look-ups), or
    :class:`InputFileError`. A file with nothing but blanks and comments is refused as empty."""
    text = read_text_file(path, what=what, max_bytes=max_bytes, required=required)
    if all(_TOML_COMMENT_OR_BLANK.match(line) for line in text.splitlines()):
        raise InputFileError(path, f"has only comments; {required}")
    return parse_toml(text, path, what=what), text


def parse_toml(text: str, path: Path | str, *, what: str) -> dict[str, Any]:
    """``tomllib.loads`` with the error as one line naming the file and the line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        found = _TOML_POSITION.search(message)
        line = getattr(error, "lineno", None)  # Python 3.14+
        column = getattr(error, "colno", None)
        if found:
            line = line or int(found.group(1))
            column = column or int(found.group(2))
            message = message[:found.start()]
        position = f" (column {column})" if column else ""
        raise InputFileError(path, f"not valid TOML: {message}{position}; a {what} is TOML "
                                   f"(https://toml.io)", line=line) from None
