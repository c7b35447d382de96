"""Reading delimited text as it really arrives: odd encodings, damaged names, ragged rows."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from spotiflow.errors import InputFileError

ENCODINGS_TO_TRY = ("utf-8-sig", "cp1252", "latin-1")

# UTF-8 bytes of U+FFFD (or a truncated part of them) decoded as Mac Roman: the damage in the
# Kaggle 2023 catalog. The original characters are gone; mark each damaged run with one U+FFFD.
_MAC_ROMAN_REPLACEMENT = re.compile("(?:\u00d4\u00f8\u03a9|\u00d4\u00f8|\u02dd)+")


# Plays and recommendation runs happen between Spotify's launch and now, give or take a day of
# clock skew: a time outside is a broken value (and would break date arithmetic in every later
# build), so it is rejected at the door, whatever the source.
PLAUSIBLE_FROM = datetime(2006, 10, 1)
CLOCK_SKEW = timedelta(days=1)


def latest_plausible(now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC).replace(tzinfo=None)) + CLOCK_SKEW


class FieldError(ValueError):
    """A value that does not fit its column; the message becomes the reject reason."""


@dataclass(frozen=True)
class CsvRow:
    line: int
    values: dict[str, str]
    extra_fields: int
    missing_fields: int

    def field_count_problem(self) -> str | None:
        """Why a ragged row cannot be trusted (its values may not sit under their columns)."""
        if not (self.extra_fields or self.missing_fields):
            return None
        found = len(self.values) + self.extra_fields - self.missing_fields
        return f"has {found} fields, the header has {len(self.values)}"

    def check_field_count(self) -> None:
        problem = self.field_count_problem()
        if problem:
            raise FieldError(problem)


def decode_file(path: Path, encoding: str = "auto") -> tuple[str, str]:
    """The file's text and the encoding used; a clear error when it is not text."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not data.strip():
        raise InputFileError(path, "is empty")
    if b"\x00" in data[:65536]:
        raise InputFileError(path, "is not a text file (it holds NUL bytes)")
    candidates = ENCODINGS_TO_TRY if encoding == "auto" else (encoding,)
    for candidate in candidates:
        try:
            return data.decode(candidate), candidate
        except UnicodeDecodeError as exc:
            if encoding != "auto":
                line = data[: exc.start].count(b"\n") + 1
                raise InputFileError(path, f"is not valid {encoding}", line=line) from None
        except LookupError:
            raise InputFileError(path, f"unknown encoding {encoding!r}") from None
    raise InputFileError(path, "could not be decoded")  # latin-1 decodes anything: unreachable


def iter_csv(path: Path, text: str, required: list[str]) -> tuple[list[str], Iterator[CsvRow]]:
    """The header and rows of CSV text; a file without the required columns is refused."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip() for name in next(reader)]
    except csv.Error as exc:
        raise InputFileError(path, f"is not valid CSV ({exc})", line=1) from None
    missing = [name for name in required if name not in header]
    if missing:
        raise InputFileError(
            path,
            "is missing required column(s) "
            + ", ".join(missing)
            + f" (found: {', '.join(header) or 'nothing'})",
            line=1,
        )

    def rows() -> Iterator[CsvRow]:
        while True:
            # A record may span lines (quoted newlines): report the line it starts on.
            start_line = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise InputFileError(path, f"is not valid CSV ({exc})", line=start_line) from None
            if not fields or all(not value.strip() for value in fields):
                continue
            values = {name: (fields[i] if i < len(fields) else "") for i, name in enumerate(header)}
            yield CsvRow(
                line=start_line,
                values=values,
                extra_fields=max(0, len(fields) - len(header)),
                missing_fields=max(0, len(header) - len(fields)),
            )

    return header, rows()


def repair_text(value: str) -> str:
    """Undo the mojibake real catalogs carry, where it can be undone; mark it where it cannot."""
    text = value.strip()
    if not text:
        return text
    if any(ord(ch) > 127 for ch in text):
        try:
            # Text that was UTF-8, decoded as cp1252 ('CafÃ©'): re-encode and decode properly.
            fixed = text.encode("cp1252").decode("utf-8")
            if fixed != text:
                text = fixed
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return _MAC_ROMAN_REPLACEMENT.sub("\ufffd", text)


def parse_float(column: str, raw: str, *, required: bool) -> float | None:
    text = raw.strip()
    if not text:
        if required:
            raise FieldError(f"{column} is empty")
        return None
    try:
        value = float(text)
    except ValueError:
        raise FieldError(f"{column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise FieldError(f"{column} {text!r} is not a finite number")
    return value


_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+$")


def parse_int(column: str, raw: str, *, required: bool, bits: int = 32) -> int | None:
    """A whole number that fits the lake's column (`bits`: 32 or 64, signed)."""
    text = raw.strip()
    # Counts in real catalogs carry thousands separators ("1,021").
    value = parse_float(
        column, text.replace(",", "") if _THOUSANDS.match(text) else text, required=required
    )
    if value is None:
        return None
    if not value.is_integer():
        raise FieldError(f"{column} {raw.strip()!r} is not a whole number")
    if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
        raise FieldError(f"{column} {raw.strip()!r} is out of range")
    return int(value)


def parse_date(column: str, raw: str) -> date:
    text = raw.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FieldError(f"{column} {text!r} is not a date (YYYY-MM-DD)") from None


def plausible_time(column: str, value: datetime, now: datetime | None = None) -> datetime:
    """The value, if it lies between Spotify's launch and now (see PLAUSIBLE_FROM)."""
    if value < PLAUSIBLE_FROM:
        raise FieldError(f"{column} {value.isoformat(sep=' ')} is before Spotify existed (2006-10)")
    if value > latest_plausible(now):
        raise FieldError(f"{column} {value.isoformat(sep=' ')} is in the future")
    return value


def parse_timestamp(column: str, raw: object) -> datetime:
    """An ISO-8601 timestamp (or a datetime) as naive UTC."""
    if isinstance(raw, datetime):
        value = raw
    else:
        text = str(raw).strip() if raw is not None else ""
        if not text:
            raise FieldError(f"{column} is empty")
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise FieldError(f"{column} {text!r} is not an ISO-8601 timestamp") from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value
