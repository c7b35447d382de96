"""`spotiflow`: one command per user task. Errors print one line and exit non-zero."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from ingest.lake.compaction import compact, withdraw
from ingest.lake.landing import Lake, LoadReport
from spotiflow.errors import SpotiflowError, known_failure_line
from spotiflow.settings import SAMPLES_DIR, Settings
from spotiflow.simulate.params import PLANNED_TREATMENT_SHARE

SAMPLE_LISTENING = SAMPLES_DIR / "listening_history.csv"
SAMPLE_CATALOG = SAMPLES_DIR / "spotify-2023.csv"


def _existing_path(value: str) -> Path:
    path = Path(value)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{value}: no such file or folder")
    return path


def _existing_file(value: str) -> Path:
    path = Path(value)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{value}: no such file")
    return path


def print_report(report: LoadReport) -> None:
    if report.already_landed:
        print(f"{report.source_file}: already landed as load {report.load_id}; nothing new landed")
        return
    entities = ", ".join(f"{rows} {name}" for name, rows in report.entity_rows.items())
    print(
        f"{report.source_file}: load {report.load_id}: {report.rows_in} rows in, "
        f"{report.rows_landed} landed, {report.rows_rejected} rejected ({entities})"
    )
    for note in report.notes:
        print(f"  note: {note}")
    if report.rows_rejected:
        print("  rejected rows are in marts.fct_rejected_rows after the next build")


def land_legacy_csv(settings: Settings, path: Path, user: str) -> LoadReport:
    from ingest.identity import user_id_for
    from ingest.sources.legacy_csv.reader import read_legacy_csv

    result = read_legacy_csv(path, user_id_for(user, settings))
    return Lake(settings.lake_dir).land(result)


def land_catalog(settings: Settings, path: Path, scale: str, encoding: str) -> LoadReport:
    from ingest.sources.catalog.reader import read_catalog

    return Lake(settings.lake_dir).land(read_catalog(path, scale=scale, encoding=encoding))


def land_recommendations(settings: Settings, path: Path) -> LoadReport:
    from ingest.sources.recommendations.reader import read_recommendations

    return Lake(settings.lake_dir).land(read_recommendations(path))


def land_spotify_export(settings: Settings, path: Path, user: str | None) -> LoadReport:
    from ingest.sources.spotify_export import read_spotify_export

    return Lake(settings.lake_dir).land(read_spotify_export(path, settings, user))


def spotify_client(settings: Settings):  # -> SpotifyClient (imported late: spotipy is slow)
    from ingest.sources.spotify_api.auth import build_auth_manager
    from ingest.sources.spotify_api.client import SpotifyClient
    from ingest.sources.spotify_api.settings import SpotifySettings

    api_settings = SpotifySettings.from_env(settings.project_dir)
    return SpotifyClient(api_settings, build_auth_manager(api_settings))


def poll_spotify_api(settings: Settings, user: str | None = None) -> int:
    """One incremental poll, reported; the number of new plays."""
    from ingest.sources.spotify_api.poll import poll_once

    outcome = poll_once(settings, spotify_client(settings), user)
    for report in outcome.reports:
        print_report(report)
    if outcome.gap:
        start, end = outcome.gap
        print(
            f"spotify-api: plays between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC may "
            "be missing (the API reaches only the last 50 plays; poll more often, or land an "
            "export): recorded in marts.fct_coverage_gaps"
        )
    for notice in outcome.notices:
        print(f"spotify-api: {notice}")
    return outcome.new_plays


def cmd_ingest_spotify_api(args: argparse.Namespace, settings: Settings) -> int:
    new_plays = poll_spotify_api(settings, args.user)
    print(f"spotify-api: {new_plays} new play(s)")
    return 0


def cmd_auth(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.sources.spotify_api.auth import login
    from ingest.sources.spotify_api.settings import SpotifySettings

    if not args.redirected_url and not sys.stdin.isatty():
        raise SpotiflowError(
            "spotiflow auth needs a person at a terminal and a browser; on a machine without "
            "one, open the login address elsewhere and pass --redirected-url"
        )
    cache = login(SpotifySettings.from_env(settings.project_dir), args.redirected_url)
    print(f"auth: logged in; the refresh token is kept in {cache} (mode 0600)")
    return 0


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    if args.kind == "spotify-api":
        return cmd_ingest_spotify_api(args, settings)
    started = time.perf_counter()
    if args.kind == "legacy-csv":
        report = land_legacy_csv(settings, args.path, args.user or settings.sample_user)
    elif args.kind == "catalog":
        report = land_catalog(settings, args.path, args.scale, args.encoding)
    elif args.kind == "spotify-export":
        report = land_spotify_export(settings, args.path, args.user)
    else:
        report = land_recommendations(settings, args.path)
    print_report(report)
    if not report.already_landed:
        seconds = time.perf_counter() - started
        print(f"  read and landed in {seconds:.1f} s: {report.rows_in / seconds:,.0f} rows/s")
    return 0


def cmd_user(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.identity import user_id_for
    from ingest.sources.user_profiles.time_zone import set_time_zone

    report = set_time_zone(settings, args.name, args.time_zone, create=args.create)
    print(
        f"user: {user_id_for(args.name, settings)} now listens in {args.time_zone} "
        f"(load {report.load_id}); listen dates move at the next `spotiflow build`"
    )
    return 0


def compact_lake(settings: Settings, after_files: int = 1) -> list:  # -> list[EntityCompaction]
    """Merge the small files of each entity read from more than `after_files` files; one line
    per entity compacted."""

    done = compact(Lake(settings.lake_dir), settings.compact_target_rows, after_files)
    for entity in done:
        print(f"compact: {entity.line()}")
    return done


def refresh_steps(settings: Settings) -> list:  # -> list[Step]
    from ingest.sources.spotify_api.settings import SpotifySettings
    from spotiflow.refresh.drop_folder import land_drop_folder
    from spotiflow.refresh.job import SkipStep, Step
    from spotiflow.warehouse.build import build

    def api() -> str:
        configured = SpotifySettings.from_env(settings.project_dir).client_id is not None
        if settings.refresh_api == "off" or (settings.refresh_api == "auto" and not configured):
            raise SkipStep("no Spotify app configured (SPOTIPY_CLIENT_ID)")
        return f"{poll_spotify_api(settings)} new play(s)"

    def exports() -> str:
        # Each export lands for the listener the drop folder names, else the one it names.
        return land_drop_folder(settings, print_report)

    def compaction() -> str:
        done = compact_lake(settings, settings.compact_after_files)
        if not done:
            raise SkipStep(
                f"no entity with small files to merge is read from more than "
                f"{settings.compact_after_files} files (SPOTIFLOW_COMPACT_AFTER_FILES)"
            )
        return f"{len(done)} entit{'y' if len(done) == 1 else 'ies'} compacted"

    return [
        Step("spotify api poll", api),
        Step("spotify exports", exports),
        # Before the build, which then reads the merged files and removes those they replace.
        Step("compact the lake", compaction),
        # Checked before it is published: readers never see a build that failed them. The code
        # has not changed since the last build: its unit tests are left to `spotiflow build`.
        Step("build, check and publish", lambda: build(settings, new_data_only=True)),
    ]


def cmd_refresh(args: argparse.Namespace, settings: Settings) -> int:
    from spotiflow.refresh.job import run_refresh

    return run_refresh(settings, refresh_steps(settings))


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    from spotiflow.warehouse.build import build

    build(settings, run_checks=not args.no_checks, full_refresh=args.full_refresh)
    return 0


def cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    from spotiflow.warehouse.build import build

    removed = withdraw(Lake(settings.lake_dir), args.load_id)
    print(f"forget: load {args.load_id} withdrawn ({len(removed)} file(s) removed from the lake)")
    if args.no_build:
        print("forget: the next `spotiflow build` rebuilds every mart without it")
        return 0
    build(settings)
    return 0


def cmd_compact(args: argparse.Namespace, settings: Settings) -> int:
    if not compact_lake(settings):
        print(
            "compact: nothing to merge (no entity has two files under "
            f"{settings.compact_target_rows:,} rows, SPOTIFLOW_COMPACT_TARGET_ROWS)"
        )
        return 0
    print(
        "compact: the next build reads the merged files; the files they replace leave the lake "
        "once it is published (the published build's sources read them until then)"
    )
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from spotiflow.warehouse.quality import run_checkpoint

    report = run_checkpoint(settings)
    print(report.summary())
    return 0 if report.success else 1


def cmd_recommend(args: argparse.Namespace, settings: Settings) -> int:
    from spotiflow.simulate.baseline import RecommenderParams, recommend

    params = RecommenderParams(k=args.k, top_n=args.top_n)
    output = recommend(settings, params)
    if output is None:
        print("recommend: no top songs with audio features to seed from; nothing written")
        return 0
    print(f"recommend: wrote {output}")
    if not args.no_land:
        print_report(land_recommendations(settings, output))
    return 0


def generate_population(settings: Settings, users: int, days: int, seed: int, **options) -> None:
    from spotiflow.simulate.params import GeneratorParams
    from spotiflow.simulate.run import generate

    try:
        params = GeneratorParams.create(users, days, seed, **options)
    except ValueError as error:
        raise SpotiflowError(str(error)) from None
    print(
        f"generate: {params.users} listeners, {params.days} days from {params.start} (a Monday), "
        f"{params.tracks} tracks, seed {params.seed}; {len(params.batches())} batch(es)"
    )

    def progress(report: LoadReport, rows_per_second: float) -> None:
        print_report(report)
        if not report.already_landed:
            print(f"  {rows_per_second:,.0f} rows/s")

    generate(Lake(settings.lake_dir), params, progress)


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value}: expected a date like 2026-06-01") from None


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    generate_population(
        settings,
        args.users,
        args.days,
        args.seed,
        tracks=args.tracks,
        start=args.start,
        treatment_share=args.treatment_share,
    )
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from spotiflow.serve.export import export_marts

    out_dir = args.out or settings.exports_dir / args.format
    exported = export_marts(settings, args.format, out_dir, raw=args.raw)
    for table in exported:
        print(f"export: marts.{table.mart}: {table.rows} rows -> {table.path}")
    print(f"export: {len(exported)} marts as {args.format} in {out_dir}")
    return 0


def cmd_dashboard(args: argparse.Namespace, settings: Settings) -> int:
    from spotiflow.serve.dashboard.server import serve

    return serve(settings, args.port)


def cmd_summary(args: argparse.Namespace, settings: Settings) -> int:
    from spotiflow.serve.summary import print_summary

    print_summary(settings)
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from spotiflow.serve.summary import print_summary
    from spotiflow.simulate.baseline import RecommenderParams, recommend
    from spotiflow.warehouse.build import build

    print(f"== Landing the bundled sample into {settings.lake_dir}")
    print_report(land_legacy_csv(settings, SAMPLE_LISTENING, settings.sample_user))
    print_report(land_catalog(settings, SAMPLE_CATALOG, "auto", "auto"))
    print("== Generating a synthetic population beside it")
    generate_population(settings, args.users, args.days, args.seed)
    print("== Building the marts")
    build(settings, run_checks=False)
    print("== Running the baseline recommender for every listener")
    output = recommend(settings, RecommenderParams())
    if output is not None:
        print_report(land_recommendations(settings, output))
    print("== Building again with the recommendations, then the quality checkpoint")
    build(settings, run_checks=True)
    print_summary(settings)
    print(
        "\nOpen the dashboard: .venv/bin/spotiflow dashboard, then http://127.0.0.1:8501 "
        "(Ctrl+C stops it)."
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spotiflow",
        description="Land listening data into the Parquet lake and build SpotiFlow's marts.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser("ingest", help="land one input file into the lake")
    kinds = ingest.add_subparsers(dest="kind", required=True, metavar="KIND")
    legacy = kinds.add_parser("legacy-csv", help="the original SpotiFlow listening-history CSV")
    legacy.add_argument("path", type=_existing_file, metavar="PATH")
    legacy.add_argument("--user", help="whose plays these are (default: SPOTIFLOW_SAMPLE_USER)")
    catalog = kinds.add_parser("catalog", help="an audio-feature catalog (0..1 or percent scale)")
    catalog.add_argument("path", type=_existing_file, metavar="PATH")
    catalog.add_argument("--scale", choices=["auto", "unit", "percent"], default="auto")
    catalog.add_argument("--encoding", default="auto", help="auto, utf-8, cp1252, latin-1, …")
    recs = kinds.add_parser("recommendations", help="a recommender output file (CSV or Parquet)")
    recs.add_argument("path", type=_existing_file, metavar="PATH")
    export = kinds.add_parser(
        "spotify-export", help="a Spotify data export: the zip as mailed, or its folder"
    )
    export.add_argument("path", type=_existing_path, metavar="PATH")
    export.add_argument(
        "--user",
        help="whose export this is, as the API polls name them (default: the export's own "
        "username where it has one, else SPOTIFLOW_SAMPLE_USER)",
    )
    api = kinds.add_parser("spotify-api", help="recently played plays from the Spotify Web API")
    api.add_argument("--user", help="whose account this is (default: the Spotify account id)")
    ingest.set_defaults(handler=cmd_ingest)

    auth = commands.add_parser(
        "auth", help="log in to Spotify once (browser), for unattended polls"
    )
    auth.add_argument(
        "--redirected-url", help="the address Spotify redirected the browser to (headless machines)"
    )
    auth.set_defaults(handler=cmd_auth)

    user = commands.add_parser("user", help="a listener's settings (time zone)")
    user.add_argument("name", help="the user name the data was landed for (as given to --user)")
    user.add_argument(
        "--time-zone", required=True, help="IANA zone listen dates follow (Europe/Berlin)"
    )
    user.add_argument(
        "--create", action="store_true", help="set it for a listener whose plays are yet to land"
    )
    user.set_defaults(handler=cmd_user)

    build = commands.add_parser("build", help="dbt build (models + tests), then quality checks")
    build.add_argument("--no-checks", action="store_true", help="skip the quality checkpoint")
    build.add_argument(
        "--full-refresh", action="store_true", help="rebuild incremental models from the lake"
    )
    build.set_defaults(handler=cmd_build)

    forget = commands.add_parser(
        "forget",
        help="withdraw a committed load from the lake (say its files were lost), then rebuild",
    )
    forget.add_argument("load_id", metavar="LOAD_ID", help="the load, as fct_loads names it")
    forget.add_argument(
        "--no-build", action="store_true", help="withdraw only; build --full-refresh later"
    )
    forget.set_defaults(handler=cmd_forget)

    refresh = commands.add_parser(
        "refresh",
        help="poll the API, land dropped exports, build and check: one command for cron",
    )
    refresh.set_defaults(handler=cmd_refresh)

    compact = commands.add_parser(
        "compact",
        help="merge the lake's small files (one per load) into larger ones, rows unchanged",
    )
    compact.set_defaults(handler=cmd_compact)

    check = commands.add_parser("check", help="run the quality checkpoint on the lake and marts")
    check.set_defaults(handler=cmd_check)

    recommend = commands.add_parser(
        "recommend", help="the baseline KNN recommender, seeded by each user's weekly top songs"
    )
    recommend.add_argument("--k", type=int, default=5, help="recommendations per seed (5)")
    recommend.add_argument("--top-n", type=int, default=5, help="seed songs per week (5)")
    recommend.add_argument("--no-land", action="store_true", help="write the file only")
    recommend.set_defaults(handler=cmd_recommend)

    generate = commands.add_parser(
        "generate",
        help="land a synthetic population: catalog, listeners, plays, two models, an A/B test",
    )
    generate.add_argument("--users", type=int, required=True, help="listeners to generate")
    generate.add_argument("--days", type=int, required=True, help="days of listening (>= 14)")
    generate.add_argument(
        "--seed", type=int, default=1, help="random seed (1): same seed, same data"
    )
    generate.add_argument(
        "--tracks", type=int, help="catalog size (default: 20 per listener, 2,000..20,000)"
    )
    generate.add_argument(
        "--start", type=_date, help="first day (default 2026-06-01; moved back to a Monday)"
    )
    generate.add_argument(
        "--treatment-share",
        type=float,
        default=PLANNED_TREATMENT_SHARE,
        help=f"share of listeners assigned to treatment ({PLANNED_TREATMENT_SHARE}, as planned; "
        "else a sample ratio mismatch)",
    )
    generate.set_defaults(handler=cmd_generate)

    export = commands.add_parser("export", help="write every mart for other BI tools")
    export.add_argument("--format", choices=["parquet", "csv", "hyper"], required=True)
    export.add_argument(
        "--out", type=Path, help="the folder to write to (default: <data dir>/exports/<format>)"
    )
    export.add_argument(
        "--raw",
        action="store_true",
        help="csv: write text cells as they are, even one a spreadsheet would run as a formula "
        "(by default such a cell starts with ')",
    )
    export.set_defaults(handler=cmd_export)

    dashboard = commands.add_parser(
        "dashboard", help="serve the SpotiFlow dashboard on 127.0.0.1 (Streamlit)"
    )
    dashboard.add_argument("--port", type=int, default=8501, help="the port to listen on (8501)")
    dashboard.set_defaults(handler=cmd_dashboard)

    summary = commands.add_parser("summary", help="print scores, top songs, predicted vs actual")
    summary.set_defaults(handler=cmd_summary)

    demo = commands.add_parser(
        "demo", help="land the bundled sample and a generated population, build, recommend, check"
    )
    demo.add_argument("--users", type=int, default=300, help="generated listeners (300)")
    demo.add_argument("--days", type=int, default=56, help="days of generated listening (56)")
    demo.add_argument("--seed", type=int, default=1, help="the population's seed (1)")
    demo.set_defaults(handler=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace, Settings], int] = args.handler
    # The lake, the warehouse, logs and state hold people's listening: user-only, always.
    os.umask(0o077)
    try:
        return handler(args, Settings.from_env())
    except SpotiflowError as error:
        print(f"spotiflow: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("spotiflow: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # the last guard: no traceback reaches the user
        if os.environ.get("SPOTIFLOW_DEBUG"):
            raise
        line = known_failure_line(error)
        if line is not None:  # the filesystem said no (disk full, read-only, permissions)
            print(f"spotiflow: error: {line}", file=sys.stderr)
            return 2
        print(
            f"spotiflow: unexpected error: {type(error).__name__}: {error} "
            "(set SPOTIFLOW_DEBUG=1 to see the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
