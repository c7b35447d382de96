{{
    config(
        materialized='incremental',
        incremental_strategy=rebuild_strategy(),
        rebuild_window={'kind': 'plays', 'key': 'played_at'},
        partition_by=rebuild_partition('played_on'),
    )
}}

-- depends_on: {{ ref('stg_lake__loads') }}
{%- set rebuild = rebuild_window(config.get('rebuild_window')) %}
{%- set window = var('duplicate_play_window_seconds') %}

with

-- Every landed copy of every play. A copy that a later load landed again (a re-export,
-- overlapping files) is resolved like the others but never searched for repeats: it is itself
-- a repeat (repeated_load) of that load's copy, or of the play that copy repeats in turn.
plays as {{ not_materialized() }} (

    select * from {{ ref('int_plays_unioned') }}
    -- A rebuilt play's duplicate may lie up to the window before it.
    where
        {{ in_rebuild_window(rebuild, 'played_at', 'played_at', earlier_by_seconds=window) }}

),

tracks as (

    select * from {{ ref('int_tracks_merged') }}

),

source_priority as (

    select * from {{ ref('play_source_priority') }}

),

-- Every distinct (name, artist) of these plays and of the known tracks, normalised once
-- (macro track_match_key: NFKC, case-folded, whitespace collapsed, first artist).
names as (

    select
        track_name,
        artist_name,
        {{ track_match_key('track_name', 'artist_name') }} as match_key

    from (
        select
            track_name,
            coalesce(artist_name, '') as artist_name
        from plays
        where track_name is not null
        union
        select
            track_name,
            coalesce(artist_name, '') as artist_name
        from tracks
        where track_name is not null
    ) as distinct_names

),

-- The tracks each name could be. Several tracks of one name and first artist (an album track
-- and its single) make the match ambiguous: the smallest id is taken, and the play says so.
candidates as (

    select
        names.match_key,
        min(tracks.track_id) as track_id,
        count(distinct tracks.track_id) as candidate_count

    from tracks
    inner join names
        on
            tracks.track_name = names.track_name
            and coalesce(tracks.artist_name, '') = names.artist_name
    group by names.match_key

),

prioritised as {{ not_materialized() }} (

    select
        plays.*,
        coalesce(source_priority.priority, 1000) as source_priority,
        coalesce(source_priority.repeats_are_duplicates, false) as repeats_are_duplicates

    from plays
    left join source_priority
        on
            plays.source = source_priority.source
            and plays.played_at_precision = source_priority.played_at_precision

),

-- A play without a track id (account data, the 2020 vintage, local files) takes the id of the
-- known track of its name and artist, whatever landed first.
resolved as {{ not_materialized() }} (

    select
        prioritised.*,
        names.match_key,
        case
            when prioritised.track_id is not null then prioritised.track_id
            when prioritised.content_type = 'music' then candidates.track_id
        end as resolved_track_id,
        case
            when prioritised.track_id is not null then 'track_id'
            when prioritised.content_type <> 'music' then 'not_music'
            when candidates.track_id is null then 'unresolved'
            when candidates.candidate_count > 1 then 'ambiguous'
            else 'name'
        end as track_resolution,
        -- What two sources must share to be one play: the normalised name and first artist
        -- where the play names them (both sides of an account-versus-extended pair do, while
        -- an id may be the album's or the single's), else the track id.
        coalesce(names.match_key, prioritised.track_id) as identity_key

    from prioritised
    left join names
        on
            prioritised.track_name = names.track_name
            and coalesce(prioritised.artist_name, '') = names.artist_name
    left join candidates
        on names.match_key = candidates.match_key

),

-- Only users with plays from more than one source can have a play twice across sources: the
-- self-join below never touches single-source users, however many plays they have.
multi_source_users as (

    select user_id

    from resolved
    where superseded_by_load_id is null
    group by user_id
    having count(distinct source_priority) > 1

),

-- The plays that can be a duplicate, with only what finding one takes: a source that repeats
-- its records, or a listener of several sources. Stored once, read by both searches below.
duplicate_candidates as (

    select
        resolved.play_id,
        resolved.user_id,
        resolved.source,
        resolved.load_id,
        resolved.source_priority,
        resolved.repeats_are_duplicates,
        resolved.played_at,
        resolved.ms_played,
        resolved.track_resolution,
        resolved.identity_key,
        multi_source_users.user_id is not null as has_other_sources

    from resolved
    left join multi_source_users
        on resolved.user_id = multi_source_users.user_id
    where
        resolved.identity_key is not null
        and resolved.superseded_by_load_id is null
        and (resolved.repeats_are_duplicates or multi_source_users.user_id is not null)

),

-- One source reporting the same play twice (an offline play in extended history, same end
-- second and track; a person's exports of two years): the longest is the play, the rest are
-- its repeats; of equal length, one that names its track id (a later vintage) is kept.
repeat_ranked as (

    select
        play_id,
        source,
        row_number() over (
            partition by user_id, source, played_at, identity_key
            order by
                coalesce(ms_played, -1) desc,
                case when track_resolution = 'track_id' then 0 else 1 end asc,
                play_id asc
        ) as repeat_rank,
        first_value(play_id) over (
            partition by user_id, source, played_at, identity_key
            order by
                coalesce(ms_played, -1) desc,
                case when track_resolution = 'track_id' then 0 else 1 end asc,
                play_id asc
            rows between unbounded preceding and unbounded following
        ) as first_play_id,
        first_value(load_id) over (
            partition by user_id, source, played_at, identity_key
            order by
                coalesce(ms_played, -1) desc,
                case when track_resolution = 'track_id' then 0 else 1 end asc,
                play_id asc
            rows between unbounded preceding and unbounded following
        ) as first_load_id

    from duplicate_candidates
    where repeats_are_duplicates

),

repeats as (

    select
        play_id,
        source,
        first_play_id,
        first_load_id

    from repeat_ranked
    where repeat_rank > 1

),

cross_source_candidates as (

    select *

    from duplicate_candidates
    where
        has_other_sources
        and play_id not in (select repeats.play_id from repeats)

),

-- A play repeats a better source's play of the same identity within the window. Rows of one
-- source never match each other here: a track played twice in a row stays two plays.
matches as (

    select
        candidate.play_id,
        better.play_id as kept_play_id,
        better.source as kept_source,
        better.load_id as kept_load_id,
        abs({{ seconds_between('better.played_at', 'candidate.played_at') }})
            as seconds_apart

    from cross_source_candidates as candidate
    inner join cross_source_candidates as better
        on
            candidate.user_id = better.user_id
            and candidate.identity_key = better.identity_key
            and candidate.source_priority > better.source_priority
            and better.played_at >= {{ dbt.dateadd('second', -window, 'candidate.played_at') }}
            and better.played_at <= {{ dbt.dateadd('second', window, 'candidate.played_at') }}

),

-- The nearest better play is the one this play repeats.
best_matches as (

    {{ deduplicate('matches', 'play_id', 'seconds_apart, kept_play_id') }}

),

final as (

    select
        resolved.play_id,
        resolved.user_id,
        resolved.resolved_track_id as track_id,
        resolved.track_resolution,
        resolved.track_name,
        resolved.artist_name,
        resolved.played_at,
        resolved.played_at_precision,
        -- The UTC day: the partition Spark overwrites (macro rebuild_partition).
        cast(resolved.played_at as date) as played_on,
        resolved.play_seq,
        resolved.ms_played,
        resolved.content_type,
        resolved.is_skipped,
        resolved.reason_start,
        resolved.reason_end,
        resolved.is_shuffle,
        resolved.platform,
        resolved.is_offline,
        resolved.is_private_session,
        resolved.source,
        resolved.source_priority,
        resolved.load_id,
        -- A copy landed again shares its play's id, so it meets the repeat or match of the
        -- latest copy: it repeats the play counted.
        coalesce(
            repeats.first_play_id,
            best_matches.kept_play_id,
            case when resolved.superseded_by_load_id is not null then resolved.play_id end
        ) as duplicate_of_play_id,
        case
            when repeats.play_id is not null then repeats.source
            when best_matches.play_id is not null then best_matches.kept_source
            else resolved.superseded_by_source
        end as duplicate_of_source,
        coalesce(
            repeats.first_load_id, best_matches.kept_load_id, resolved.superseded_by_load_id
        ) as duplicate_of_load_id,
        case
            when repeats.play_id is not null then 0
            when best_matches.play_id is not null then best_matches.seconds_apart
            when resolved.superseded_by_load_id is not null then 0
        end as duplicate_seconds_apart,
        case
            when resolved.superseded_by_load_id is not null then 'repeated_load'
            when repeats.play_id is not null then 'repeated_record'
            when best_matches.play_id is not null then 'cross_source'
        end as duplicate_reason,
        resolved.superseded_by_load_id is not null
        or repeats.play_id is not null
        or best_matches.play_id is not null as is_duplicate

    from resolved
    left join repeats
        on resolved.play_id = repeats.play_id
    left join best_matches
        on resolved.play_id = best_matches.play_id
    where {{ in_rebuild_window(rebuild, 'resolved.played_at', 'played_at') }}

)

select * from final
