"""Property: whatever a file holds, ingesting it never crashes and never loses a row.

Hypothesis mutates real inputs (the bundled sample's rows, a real catalog's, a recommender's
output, exports in the shapes SPOTIFY.md records) with hostile values: huge and non-finite
numbers, impossible dates, lone surrogates, quotes, control characters, wrong JSON types, deep
nesting, cut-off files. For each, `spotiflow ingest` exits 0 or 2 (never the "unexpected error"
of 1), prints no traceback, and a landed load accounts for every row: rows in = landed +
rejected, and rows in = the records the file holds.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.lake.landing import Lake
from spotiflow.cli import main
from tests.support.helpers import FIXTURES, PROJECT_DIR, SAMPLE_CATALOG, SAMPLE_CSV, TEST_SALT

# SPOTIFLOW_PROPERTY_EXAMPLES=1000 explores further, with fresh examples each run; by default
# the same 40 per reader every run, so CI is reproducible.
_EXPLORE = os.environ.get("SPOTIFLOW_PROPERTY_EXAMPLES")
EXAMPLES = settings(
    max_examples=int(_EXPLORE or 40),
    deadline=None,
    derandomize=not _EXPLORE,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
VINTAGES = FIXTURES / "spotify_export" / "vintages"
EXTENDED_2026 = VINTAGES / "extended_2026" / "Spotify Extended Streaming History"
ACCOUNT_2026 = VINTAGES / "account_2026" / "Spotify Account Data"

HOSTILE_TEXT = st.sampled_from(
    [
        "", " ", "NaN", "nan", "inf", "-inf", "Infinity", "1e30", "-1e30", "1e23", "3e9", "-1",
        "0", "2147483648", "9223372036854775807", "9223372036854775808", "18446744073709551616",
        "0.5", "1.2", "100", "-0", "0x1A", "1,000", "0001-01-01", "1900-01-01", "9999-12-31",
        "2099-01-01", "2006-09-30", "2024-02-30", "2024-13-01", "2024-04-09T25:00:00Z",
        "yesterday", "null", "None", "true", '"', "'", ",", ";", "\n", "\r\n", "\\", "%", "_",
        "drop table plays; --", "\ufeff", "\u202e", "\x00", "\x1b[2J", "🎵" * 50, "é" * 300,
        "spotify:track:", "spotify:track:" + "A" * 22, "../../etc/passwd",
    ]
)  # fmt: skip
ANY_TEXT = st.one_of(
    HOSTILE_TEXT,
    st.text(max_size=30),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
NESTED = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)  # fmt: skip
JSON_VALUE = st.one_of(
    NESTED,
    HOSTILE_TEXT,
    st.sampled_from(["\ud800", "a\udfffb", 10**23, 2**63, -(2**63) - 1, 1e308, 10**400]),
    st.integers(min_value=-(2**70), max_value=2**70),
)


def _ingest(
    kind: str, path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], names: tuple = ()
) -> dict:
    """`spotiflow ingest KIND PATH` into a fresh data dir: the manifest row, or {} if refused
    (naming the input, or one of `names`, its files)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPOTIFLOW_PROJECT_DIR", str(PROJECT_DIR))
        patch.setenv("SPOTIFLOW_DATA_DIR", str(data_dir))
        patch.setenv("SPOTIFLOW_USER_ID_SALT", TEST_SALT)
        user = ["--user", "alice"] if kind in ("legacy-csv", "spotify-export") else []
        code = main(["ingest", kind, str(path), *user])
    captured = capsys.readouterr()
    assert code in (0, 2), captured.err
    assert "unexpected error" not in captured.err and "Traceback" not in captured.err
    if code == 2:
        # One clear line naming the input.
        assert len(captured.err.strip().splitlines()) == 1, captured.err
        assert any(name in captured.err for name in (path.name, *names)), captured.err
        return {}
    (row,) = Lake(data_dir / "lake").manifest().to_pylist()
    assert row["rows_in"] == row["rows_landed"] + row["rows_rejected"], row
    return row


def _csv_rows(path: Path, encoding: str = "utf-8") -> tuple[list[str], list[list[str]]]:
    with path.open(encoding=encoding, newline="") as handle:
        header, *rows = list(csv.reader(handle))
    return header, rows


def _mutated_rows(
    draw: st.DrawFn, header: list[str], rows: list[list[str]], count: int
) -> list[list[str]]:
    """A few of the template's rows with some values replaced by hostile ones."""
    picked = draw(st.lists(st.sampled_from(rows), min_size=1, max_size=count))
    mutated = []
    for row in picked:
        row = list(row)
        for index in draw(st.lists(st.integers(0, len(header) - 1), max_size=4)):
            row[index] = draw(ANY_TEXT)
        if draw(st.integers(0, 9)) == 0:  # now and then a row of the wrong width
            row = row[: draw(st.integers(0, len(row)))] + draw(st.lists(ANY_TEXT, max_size=2))
        mutated.append(row)
    return mutated


@st.composite
def csv_files(draw: st.DrawFn, template: Path, encoding: str = "utf-8") -> tuple[bytes, int | None]:
    """A CSV of mutated template rows (bytes), and how many records it holds (None: unknown,
    when the file was cut short or its bytes corrupted)."""
    header, rows = _csv_rows(template, encoding)
    mutated = _mutated_rows(draw, header, rows, count=12)
    if draw(st.integers(0, 9)) == 0:
        header = header[:-1] if draw(st.booleans()) else [*header, header[0]]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(mutated)
    data = buffer.getvalue().encode("utf-8", "surrogatepass")
    # A row cut to nothing is written as a blank line, which holds no record.
    records: int | None = sum(1 for row in mutated if row)
    if draw(st.integers(0, 7)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
        records = None
    if draw(st.integers(0, 7)) == 0:
        at = draw(st.integers(0, len(data)))
        data = (
            data[:at]
            + draw(st.sampled_from([b"\xff", b"\xc3(", b"\x00", b"\xed\xa0\x80"]))
            + data[at:]
        )
        records = None
    return data, records


def _recommendations_template(folder: Path) -> Path:
    path = folder / "recommendations-template.csv"
    header = [
        "run_id", "model_name", "model_version", "variant", "generated_at", "user_id",
        "seed_track_id", "rank", "recommended_track_id", "score",
    ]  # fmt: skip
    rows = [
        ["run-1", "knn", "1.0", "control", "2024-04-10T00:00:00Z", "alice",
         "1RWqCKIOWu8prvPfHN284v", str(rank), track, str(1 - rank / 10)]
        for rank, track in enumerate(["5irPKTtQlpDWUfi5hMbVXl", "4cOdK2wGLETKBW3PvgPWqT"], 1)
    ]  # fmt: skip
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


def _check_csv(kind: str, case: tuple[bytes, int | None], capsys) -> None:
    data, records = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{kind}.csv"
        path.write_bytes(data)
        row = _ingest(kind, path, Path(folder) / "data", capsys)
        if row and records is not None:
            assert row["rows_in"] == records, row


@EXAMPLES
@given(case=csv_files(SAMPLE_CSV))
def test_any_legacy_csv_lands_or_is_refused_and_loses_no_row(case, capsys) -> None:
    _check_csv("legacy-csv", case, capsys)


@EXAMPLES
@given(case=csv_files(SAMPLE_CATALOG, encoding="latin-1"))
def test_any_catalog_lands_or_is_refused_and_loses_no_row(case, capsys) -> None:
    _check_csv("catalog", case, capsys)


_RECOMMENDATIONS_DIR = Path(tempfile.mkdtemp(prefix="spotiflow-recs-template-"))


@EXAMPLES
@given(case=csv_files(_recommendations_template(_RECOMMENDATIONS_DIR)))
def test_any_recommendations_file_lands_or_is_refused_and_loses_no_row(case, capsys) -> None:
    _check_csv("recommendations", case, capsys)


def _template_records(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))


@st.composite
def history_files(draw: st.DrawFn, template: Path) -> tuple[bytes, int | None]:
    """A history file of mutated template records, and how many it holds (None: cut short)."""
    records: list[object] = []
    for record in draw(
        st.lists(st.sampled_from(_template_records(template)), min_size=0, max_size=10)
    ):
        record = dict(record)
        for key in draw(st.lists(st.sampled_from(sorted(record)), max_size=4)):
            record[key] = draw(JSON_VALUE)
        if draw(st.integers(0, 9)) == 0:
            record = draw(JSON_VALUE)  # a record that is no object at all
        records.append(record)
    text = json.dumps(records, ensure_ascii=draw(st.booleans()))
    data = text.encode("utf-8", "surrogatepass")
    count: int | None = len(records)
    if draw(st.integers(0, 7)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
        count = None
    if draw(st.integers(0, 15)) == 0:
        data = b"[" * 5000 + b"]" * 5000  # nested deep
        count = None
    return data, count


def _check_export(template: Path, case: tuple[bytes, int | None], capsys) -> None:
    data, records = case
    with tempfile.TemporaryDirectory() as folder:
        export = Path(folder) / "export" / template.parent.name
        export.mkdir(parents=True)
        (export / template.name).write_bytes(data)
        row = _ingest(
            "spotify-export", export.parent, Path(folder) / "data", capsys, (template.name,)
        )
        if row and records is not None:
            assert row["rows_in"] == records, row


EXTENDED_AUDIO = EXTENDED_2026 / "Streaming_History_Audio_2025-2026_0.json"
ACCOUNT_MUSIC = ACCOUNT_2026 / "StreamingHistory_music_0.json"


@EXAMPLES
@given(case=history_files(EXTENDED_AUDIO))
def test_any_extended_history_lands_or_is_refused_and_loses_no_record(case, capsys) -> None:
    _check_export(EXTENDED_AUDIO, case, capsys)


@EXAMPLES
@given(case=history_files(ACCOUNT_MUSIC))
def test_any_account_history_lands_or_is_refused_and_loses_no_record(case, capsys) -> None:
    _check_export(ACCOUNT_MUSIC, case, capsys)


@pytest.mark.parametrize(
    ("kind", "template", "records"),
    [
        ("legacy-csv", SAMPLE_CSV, 1350),
        ("catalog", SAMPLE_CATALOG, None),
        ("recommendations", _recommendations_template(_RECOMMENDATIONS_DIR), 2),
        ("spotify-export", EXTENDED_AUDIO, None),
        ("spotify-export", ACCOUNT_MUSIC, None),
    ],
)
def test_each_template_lands_whole(kind: str, template: Path, records: int | None, capsys) -> None:
    """What the properties mutate lands as it is: refusing everything would not pass them."""
    with tempfile.TemporaryDirectory() as folder:
        path = template
        if kind == "spotify-export":
            export = Path(folder) / "export" / template.parent.name
            export.mkdir(parents=True)
            (export / template.name).write_bytes(template.read_bytes())
            path = export.parent
            records = len(_template_records(template))
        if records is None:
            records = len(_csv_rows(template, "latin-1")[1])
        row = _ingest(kind, path, Path(folder) / "data", capsys)
        assert row and row["rows_in"] == records and row["rows_landed"] > 0, row
