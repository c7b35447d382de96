-- The floor: the same three marts in one hand-written DuckDB script straight from the Parquet
-- lake ({lake} and {out} are filled in by bench/duckdb_marts.py).
create temp table plays as
with
raw as (
    select * from read_parquet('{lake}/plays/*.parquet', union_by_name = true)
    qualify row_number() over (partition by play_id order by _loaded_at desc) = 1
),
tracks as (
    select track_id, any_value(duration_ms) as duration_ms
    from read_parquet('{lake}/tracks/*.parquet', union_by_name = true) group by track_id
),
features as (
    select * from read_parquet('{lake}/audio_features/*.parquet', union_by_name = true)
    qualify row_number() over (partition by track_id order by _loaded_at desc) = 1
),
zones as (
    select user_id, arg_max(time_zone, set_at) as time_zone
    from read_parquet('{lake}/user_profiles/*.parquet', union_by_name = true) group by user_id
)
select
    raw.play_id, raw.user_id, raw.track_id, raw.ms_played,
    coalesce(raw.ms_played, tracks.duration_ms) as listened_ms,
    cast(timezone(coalesce(zones.time_zone, 'UTC'), raw.played_at at time zone 'UTC') as date)
        as listen_date,
    features.acousticness, features.danceability, features.energy, features.instrumentalness,
    features.liveness, features.speechiness, features.valence
from raw
left join tracks using (track_id)
left join features using (track_id)
left join zones using (user_id)
where coalesce(raw.content_type, 'music') = 'music'
    and (raw.ms_played is null or raw.ms_played >= 30000);

copy (
    select
        user_id, listen_date, count(*) as plays, sum(listened_ms) / 60000.0 as minutes_listened,
        (avg(danceability) + avg(energy) + avg(liveness)) / 3 as energy_score,
        (avg(acousticness) + avg(instrumentalness)) / 2 as musicality_score,
        avg(valence) as positivity_score,
        case when avg(valence) < 0.25 then 'Is Everything Okay?'
            when avg(valence) < 0.5 then 'Slightly Sad'
            when avg(valence) < 0.75 then 'Feeling Great' else 'A Little Too Happy' end
            as listening_vibe
    from plays group by user_id, listen_date
) to '{out}/daily_listening.parquet' (format parquet);

create temp table top_songs as
select
    user_id, date_trunc('week', listen_date) as week_start, track_id, count(*) as plays,
    sum(listened_ms) / 60000.0 as minutes_listened, avg(valence) as positivity_score,
    row_number() over (
        partition by user_id, date_trunc('week', listen_date)
        order by count(*) desc, sum(listened_ms) desc, track_id
    ) as song_rank
from plays where track_id is not null
group by user_id, date_trunc('week', listen_date), track_id
qualify song_rank <= 5;

copy top_songs to '{out}/weekly_top_songs.parquet' (format parquet);

copy (
    with
    recs as (
        select r.*, coalesce(z.time_zone, 'UTC') as time_zone
        from read_parquet('{lake}/recommendations/*.parquet', union_by_name = true) as r
        left join (
            select user_id, arg_max(time_zone, set_at) as time_zone
            from read_parquet('{lake}/user_profiles/*.parquet', union_by_name = true)
            group by user_id
        ) as z using (user_id)
        qualify row_number() over (
            partition by run_id, user_id, seed_track_id order by rank, recommended_track_id
        ) <= 5
    ),
    features as (
        select * from read_parquet('{lake}/audio_features/*.parquet', union_by_name = true)
        qualify row_number() over (partition by track_id order by _loaded_at desc) = 1
    )
    select
        t.user_id, t.week_start, recs.model_name, recs.model_version, t.song_rank,
        t.track_id,
        avg(f.acousticness) - any_value(s.acousticness) as acousticness_difference,
        avg(f.danceability) - any_value(s.danceability) as danceability_difference,
        avg(f.energy) - any_value(s.energy) as energy_difference,
        avg(f.instrumentalness) - any_value(s.instrumentalness) as instrumentalness_difference,
        avg(f.liveness) - any_value(s.liveness) as liveness_difference,
        avg(f.speechiness) - any_value(s.speechiness) as speechiness_difference,
        avg(f.valence) - any_value(s.valence) as valence_difference
    from top_songs as t
    inner join recs
        on t.user_id = recs.user_id and t.track_id = recs.seed_track_id
        and timezone(recs.time_zone, recs.generated_at at time zone 'UTC')
            > cast(t.week_start as timestamp)
        and timezone(recs.time_zone, recs.generated_at at time zone 'UTC')
            <= cast(t.week_start as timestamp) + interval 7 day
    left join features as f on recs.recommended_track_id = f.track_id
    left join features as s on t.track_id = s.track_id
    group by all
) to '{out}/predicted_vs_actual.parquet' (format parquet);
