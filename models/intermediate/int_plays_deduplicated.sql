{{
    config(
        materialized='incremental',
        rebuild_window={'kind': 'plays', 'key': 'played_at'},
    )
}}

-- depends_on: {{ ref('stg_lake__loads') }}
{%- set rebuild = rebuild_window(config.get('rebuild_window')) %}
{%- set window = var('duplicate_play_window_seconds') %}

with

plays as (

    select * from {{ ref('stg_lake__plays') }}
    -- A rebuilt play's duplicate may lie up to the window before it.
    where
        {{ in_rebuild_window(rebuild, 'played_at', 'played_at', earlier_by_seconds=window) }}

),

source_priority as (

    select * from {{ ref('play_source_priority') }}

),

prioritised as (

    select
        plays.*,
        coalesce(source_priority.priority, 1000) as source_priority

    from plays
    left join source_priority
        on
            plays.source = source_priority.source
            and plays.played_at_precision = source_priority.played_at_precision

),

-- Only users with plays from more than one source can have a play twice: the self-join below
-- never touches single-source users, however many plays they have.
multi_source_users as (

    select user_id

    from prioritised
    group by user_id
    having count(distinct source_priority) > 1

),

candidates as (

    select prioritised.*

    from prioritised
    inner join multi_source_users
        on prioritised.user_id = multi_source_users.user_id
    where prioritised.track_id is not null

),

-- A play repeats a better source's play of the same track within the window. Rows of one
-- source never match each other: a track played twice in a row stays two plays.
matches as (

    select
        candidate.play_id,
        better.play_id as kept_play_id,
        better.source as kept_source,
        abs({{ dbt.datediff('better.played_at', 'candidate.played_at', 'second') }})
            as seconds_apart

    from candidates as candidate
    inner join candidates as better
        on
            candidate.user_id = better.user_id
            and candidate.track_id = better.track_id
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
        prioritised.play_id,
        prioritised.user_id,
        prioritised.track_id,
        prioritised.track_name,
        prioritised.artist_name,
        prioritised.played_at,
        prioritised.played_at_precision,
        prioritised.play_seq,
        prioritised.ms_played,
        prioritised.content_type,
        prioritised.is_skipped,
        prioritised.reason_start,
        prioritised.reason_end,
        prioritised.is_shuffle,
        prioritised.platform,
        prioritised.is_offline,
        prioritised.is_private_session,
        prioritised.source,
        prioritised.source_priority,
        prioritised.load_id,
        best_matches.kept_play_id as duplicate_of_play_id,
        best_matches.kept_source as duplicate_of_source,
        best_matches.seconds_apart as duplicate_seconds_apart,
        best_matches.kept_play_id is not null as is_duplicate

    from prioritised
    left join best_matches
        on prioritised.play_id = best_matches.play_id
    where {{ in_rebuild_window(rebuild, 'prioritised.played_at', 'played_at') }}

)

select * from final
