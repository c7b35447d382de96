"""The marts the way an analyst would write them in a pandas notebook (the original project's
approach), for `make bench` to compare with: daily listening, weekly top songs, predicted vs
actual, from the Parquet lake. Run as `python -m bench.pandas_marts DATA_DIR OUT_DIR`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = ["acousticness", "danceability", "energy", "instrumentalness", "liveness",
            "speechiness", "valence"]  # fmt: skip


def read(lake: Path, entity: str) -> pd.DataFrame:
    files = [p for p in sorted((lake / entity).glob("*.parquet")) if not p.name.startswith("_")]
    return pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)


def main(data_dir: Path, out_dir: Path) -> None:
    lake = data_dir / "lake"
    plays = read(lake, "plays").drop_duplicates("play_id", keep="last")
    tracks = read(lake, "tracks").drop_duplicates("track_id", keep="last")
    features = read(lake, "audio_features").drop_duplicates("track_id", keep="last")
    profiles = (
        read(lake, "user_profiles").sort_values("set_at").drop_duplicates("user_id", keep="last")
    )
    recs = read(lake, "recommendations")

    plays = plays.merge(tracks[["track_id", "duration_ms"]], on="track_id", how="left")
    plays = plays.merge(features[["track_id", *FEATURES]], on="track_id", how="left")
    plays = plays.merge(profiles[["user_id", "time_zone"]], on="user_id", how="left")
    plays["time_zone"] = plays["time_zone"].fillna("UTC")
    local = pd.Series(index=plays.index, dtype="datetime64[us]")
    for zone, group in plays.groupby("time_zone"):
        local[group.index] = (
            group["played_at"].dt.tz_localize("UTC").dt.tz_convert(zone).dt.tz_localize(None)
        )
    plays["listen_date"] = local.dt.normalize()
    plays["week_start"] = plays["listen_date"] - pd.to_timedelta(
        plays["listen_date"].dt.day_of_week, unit="D"
    )
    plays["listened_ms"] = plays["ms_played"].fillna(plays["duration_ms"])
    streams = plays[(plays["content_type"].fillna("music") == "music")
                    & (plays["ms_played"].isna() | (plays["ms_played"] >= 30000))]  # fmt: skip

    daily = (
        streams.groupby(["user_id", "listen_date"])
        .agg(
            plays=("play_id", "count"),
            minutes_listened=("listened_ms", lambda ms: ms.sum() / 60000),
            **{f"avg_{f}": (f, "mean") for f in FEATURES},
        )
        .reset_index()
    )
    daily["energy_score"] = daily[["avg_danceability", "avg_energy", "avg_liveness"]].mean(axis=1)
    daily["musicality_score"] = daily[["avg_acousticness", "avg_instrumentalness"]].mean(axis=1)
    daily["positivity_score"] = daily["avg_valence"]
    daily["listening_vibe"] = pd.cut(
        daily["avg_valence"], [-np.inf, 0.25, 0.5, 0.75, np.inf], right=False,
        labels=["Is Everything Okay?", "Slightly Sad", "Feeling Great", "A Little Too Happy"],
    )  # fmt: skip

    songs = (
        streams[streams["track_id"].notna()]
        .groupby(["user_id", "week_start", "track_id"])
        .agg(
            plays=("play_id", "count"),
            listened_ms=("listened_ms", "sum"),
            valence=("valence", "mean"),
        )
        .reset_index()
    )
    songs = songs.sort_values(["user_id", "week_start", "plays", "listened_ms", "track_id"],
                              ascending=[True, True, False, False, True])  # fmt: skip
    songs["song_rank"] = songs.groupby(["user_id", "week_start"]).cumcount() + 1
    top = songs[songs["song_rank"] <= 5]

    recs = recs.sort_values(["run_id", "user_id", "seed_track_id", "rank", "recommended_track_id"])
    recs = recs[recs.groupby(["run_id", "user_id", "seed_track_id"]).cumcount() < 5]
    recs = recs.merge(profiles[["user_id", "time_zone"]], on="user_id", how="left")
    recs["time_zone"] = recs["time_zone"].fillna("UTC")
    generated_local = pd.Series(index=recs.index, dtype="datetime64[us]")
    for zone, group in recs.groupby("time_zone"):
        generated_local[group.index] = (
            group["generated_at"].dt.tz_localize("UTC").dt.tz_convert(zone).dt.tz_localize(None)
        )
    # A list answers for the week that ends at (or just before) it was generated.
    recs["week_start"] = (generated_local - pd.Timedelta(microseconds=1)).dt.normalize()
    recs["week_start"] -= pd.to_timedelta(recs["week_start"].dt.day_of_week, unit="D")
    matched = top.merge(recs, left_on=["user_id", "week_start", "track_id"],
                        right_on=["user_id", "week_start", "seed_track_id"])  # fmt: skip
    predicted = matched.merge(features, left_on="recommended_track_id", right_on="track_id",
                              suffixes=("", "_rec")).groupby(
        ["user_id", "week_start", "model_name", "model_version", "song_rank", "seed_track_id"]
    )[FEATURES].mean().reset_index()  # fmt: skip
    actual = features.set_index("track_id")[FEATURES]
    for f in FEATURES:
        predicted[f"actual_{f}"] = predicted["seed_track_id"].map(actual[f])
        predicted[f"difference_{f}"] = predicted[f] - predicted[f"actual_{f}"]

    out_dir.mkdir(parents=True, exist_ok=True)
    daily.to_parquet(out_dir / "daily_listening.parquet")
    top.to_parquet(out_dir / "weekly_top_songs.parquet")
    predicted.to_parquet(out_dir / "predicted_vs_actual.parquet")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
