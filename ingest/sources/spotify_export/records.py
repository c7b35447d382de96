"""What an export record must hold, judged once, in SQL, over `history_records`.

Each whitelisted key is typed by its kind (settings.EXTENDED_KEYS, settings.ACCOUNT_KEYS); the
first key that does not fit names the record's problem, and the record is quarantined with it.
Nothing is derived here: content type, track ids, skips and play ids come in dbt staging.
"""

from __future__ import annotations

from datetime import datetime

from ingest.sources.spotify_export.json_files import RECORDS_TABLE
from ingest.sources.spotify_export.settings import (
    PLATFORM_KEY,
    REASON_VALUE_CHARS,
    USERNAME_KEY,
)

# A time as each file kind writes it: extended history to the second with a Z, account data to
# the minute.
_TIME_FORMATS = {
    "timestamp": (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z", "2023-08-07T21:07:25Z"),
    "minute": (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?", "2024-02-01 21:15"),
}
_JSON_KINDS = {
    "OBJECT": "an object",
    "ARRAY": "a list",
    "VARCHAR": "a string",
    "BOOLEAN": "true or false",
    "NULL": "null",
}


def _shown(value: str) -> str:
    return f"left(cast({value} as varchar), {REASON_VALUE_CHARS})"


def _value_and_problems(key: str, kind: str, position: int) -> tuple[str, list[tuple[str, str]]]:
    """The typed SQL value of one key, and its (condition, reason) checks in order, over the
    key's JSON value, JSON type and text (k<position>, k<position>_type, k<position>_text)."""
    value, json_kind, text = f"k{position}", f"k{position}_type", f"k{position}_text"
    said = f"'{key} ' || {_shown(value)}"
    absent = f"({value} is null or {json_kind} = 'NULL')"
    if kind == "text":
        return f"case when {json_kind} = 'VARCHAR' then {text} end", [
            (f"not {absent} and {json_kind} <> 'VARCHAR'", f"{said} || ' is not text'")
        ]
    if kind == "flag":
        return f"case when {json_kind} = 'BOOLEAN' then {text} = 'true' end", [
            (f"not {absent} and {json_kind} <> 'BOOLEAN'", f"{said} || ' is not true or false'")
        ]
    if kind == "milliseconds":
        number = f"try_cast({text} as double)"
        whole = (
            f"case when {json_kind} in ('UBIGINT', 'BIGINT') then try_cast({text} as bigint) "
            f"when {json_kind} = 'DOUBLE' and {number} = floor({number}) "
            f"and abs({number}) < 9.2e18 then cast({number} as bigint) end"
        )
        return whole, [
            (
                f"not {absent} and {json_kind} not in ('UBIGINT', 'BIGINT', 'DOUBLE')",
                f"{said} || ' is not a number of milliseconds'",
            ),
            (
                f"{json_kind} = 'DOUBLE' and {number} <> floor({number})",
                f"{said} || ' is not a whole number of milliseconds'",
            ),
            (f"not {absent} and ({whole}) is null", f"{said} || ' is too large'"),
            (f"({whole}) < 0", f"{said} || ' is negative'"),
        ]
    pattern, example = _TIME_FORMATS[kind]
    parsed = f"try_cast(replace(rtrim({text}, 'Z'), 'T', ' ') as timestamp)"
    return parsed, [
        (absent, f"'{key} is missing'"),
        (f"{json_kind} <> 'VARCHAR'", f"{said} || ' is not text'"),
        (
            f"not regexp_full_match({text}, '{pattern}') or {parsed} is null",
            f"{said} || ' is not a time like {example}'",
        ),
        (f"{parsed} < $launch", f"{said} || ' is before Spotify existed (2006-10)'"),
        (f"{parsed} > $latest", f"{said} || ' is in the future'"),
    ]


def typed_records_sql(keys: dict[str, str], required_text: tuple[str, ...] = ()) -> str:
    """A select over `history_records` of member_index, record_number, the raw record, every
    key typed under its own name, the username and device string (text only), and `problem`
    (null for a record that lands). Parameters: $members, $launch, $latest."""
    paths = [*keys, USERNAME_KEY, PLATFORM_KEY]
    extract = ", ".join(f"'$.{key}'" for key in paths)
    columns: list[str] = []
    checks: list[tuple[str, str]] = [
        (
            "json_type(record) <> 'OBJECT'",
            "'is ' || coalesce(case json_type(record) "
            + " ".join(f"when '{k}' then '{v}'" for k, v in _JSON_KINDS.items())
            + " end, 'a number') || ', not a record'",
        )
    ]
    for position, (key, kind) in enumerate(keys.items(), start=1):
        value, problems = _value_and_problems(key, kind, position)
        columns.append(f"{value} as {key}")
        checks.extend(problems)
        if key in required_text:
            checks.append((f"nullif(trim({value}), '') is null", f"'{key} is missing'"))
    for offset, key in enumerate((USERNAME_KEY, PLATFORM_KEY), start=len(keys) + 1):
        columns.append(
            f"case when k{offset}_type = 'VARCHAR' then k{offset}_text end as {key}_text"
        )
    per_key = ",\n                ".join(
        f"v[{i}] as k{i}, json_type(v[{i}]) as k{i}_type, v[{i}] ->> '$' as k{i}_text"
        for i in range(1, len(paths) + 1)
    )
    problem = (
        "case "
        + " ".join(f"when {condition} then {reason}" for condition, reason in checks)
        + " end"
    )
    return f"""
        with extracted as (
            select
                member_index,
                record_number,
                record,
                json_extract(record, [{extract}]) as v
            from {RECORDS_TABLE}
            where member_index in (select unnest($members))
        ),

        -- Each key's value, JSON type and text, worked out once for all its checks.
        source as (
            select
                member_index,
                record_number,
                record,
                {per_key}
            from extracted
        )

        select
            member_index,
            record_number,
            record,
            {", ".join(columns)},
            'record ' || record_number || ': ' || ({problem}) as problem
        from source
    """


def parameters(members: list[int], launch: datetime, latest: datetime) -> dict:
    return {"members": members, "launch": launch, "latest": latest}
