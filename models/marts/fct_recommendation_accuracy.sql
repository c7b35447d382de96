{{
    config(
        materialized='incremental',
        incremental_strategy=rebuild_strategy(),
        rebuild_window={
            'after': 'fct_plays',
            'lists': 'int_recommendations_positioned',
            'key': 'generated_at',
        },
    )
}}

{%- set rebuild = rebuild_window(config.get('rebuild_window')) %}

with

lists as (

    select * from {{ ref('int_recommendations_positioned') }}
    where {{ in_rebuild_window(rebuild, 'generated_at', 'generated_at') }}

),

-- A rebuilt list is judged by plays after it only, so the plays before the window are not read.
plays as (

    select * from {{ ref('fct_plays') }}
    where {{ in_rebuild_window(rebuild, 'played_at', 'generated_at') }}

),

user_tracks as (

    select * from {{ ref('int_user_tracks_aggregated') }}

),

top_k as (

    select * from lists
    where list_position <= {{ var('accuracy_k') }}

),

list_windows as (

    select
        run_id,
        user_id,
        seed_track_id,
        max(model_name) as model_name,
        max(model_version) as model_version,
        max(variant) as variant,
        max(generated_at) as generated_at,
        {{ accuracy_window_end('max(generated_at)') }} as window_end,
        count(*) as recommended_tracks

    from top_k
    group by run_id, user_id, seed_track_id

),

-- How far the plays reach: a window that ends later is not over yet. (Any play at or after a
-- rebuilt window's end lies inside the plays read, so their latest is the latest of all.)
horizon as (

    select max(played_at) as latest_play from plays

),

-- The lists one run made for one listener share a judgement window: the plays are read once
-- per window, not once per list.
windows as (

    select distinct
        user_id,
        generated_at,
        window_end

    from list_windows

),

-- Streamed in a window: a track the user streamed in (generated_at, window_end].
streamed_in_window as (

    select distinct
        windows.user_id,
        windows.generated_at,
        plays.track_id

    from windows
    inner join plays
        on
            windows.user_id = plays.user_id
            and windows.generated_at < plays.played_at
            and windows.window_end >= plays.played_at
    where
        plays.is_music_stream
        and plays.track_id is not null

),

-- With var('accuracy_new_tracks_only'), a track the user had played before the window is not
-- relevant.
window_tracks as (

    select
        streamed_in_window.user_id,
        streamed_in_window.generated_at,
        streamed_in_window.track_id

    from streamed_in_window
    left join user_tracks
        on
            streamed_in_window.user_id = user_tracks.user_id
            and streamed_in_window.track_id = user_tracks.track_id
    where
        not {{ var('accuracy_new_tracks_only') }}
        or {{ is_new_to_user('user_tracks.first_played_at', 'streamed_in_window.generated_at') }}

),

window_track_counts as (

    select
        user_id,
        generated_at,
        count(*) as window_tracks

    from window_tracks
    group by user_id, generated_at

),

-- Relevant to a list: its window's tracks other than its seed.
relevant_counts as (

    select
        list_windows.run_id,
        list_windows.user_id,
        list_windows.seed_track_id,
        coalesce(window_track_counts.window_tracks, 0)
        - case when streamed_seed.track_id is not null then 1 else 0 end as relevant_tracks

    from list_windows
    left join window_track_counts
        on
            list_windows.user_id = window_track_counts.user_id
            and list_windows.generated_at = window_track_counts.generated_at
    left join window_tracks as streamed_seed
        on
            list_windows.user_id = streamed_seed.user_id
            and list_windows.generated_at = streamed_seed.generated_at
            and list_windows.seed_track_id = streamed_seed.track_id

),

judged as (

    select
        top_k.run_id,
        top_k.user_id,
        top_k.seed_track_id,
        top_k.list_position,
        window_tracks.track_id is not null
        and top_k.recommended_track_id != top_k.seed_track_id as is_relevant

    from top_k
    inner join list_windows
        on
            top_k.run_id = list_windows.run_id
            and top_k.user_id = list_windows.user_id
            and top_k.seed_track_id = list_windows.seed_track_id
    left join window_tracks
        on
            list_windows.user_id = window_tracks.user_id
            and list_windows.generated_at = window_tracks.generated_at
            and top_k.recommended_track_id = window_tracks.track_id

),

list_hits as (

    select
        run_id,
        user_id,
        seed_track_id,
        cast(sum(case when is_relevant then 1 else 0 end) as bigint) as hits,
        {{ exact_sum(
            'case when is_relevant then ' ~ dcg_discount('list_position') ~ ' else 0 end'
        ) }} as dcg,
        min(case when is_relevant then list_position end) as first_hit_position

    from judged
    group by run_id, user_id, seed_track_id

),

positions as (

    select generated_number as list_position
    from ({{ numbers_up_to(var('accuracy_k')) }}) as series

),

-- The ideal DCG of n relevant tracks: the discounts of positions 1 .. n, for n up to k.
ideal_dcg as (

    select
        top_n.list_position as relevant_in_top_k,
        {{ exact_sum(dcg_discount('first_n.list_position')) }} as ideal_dcg

    from positions as top_n
    inner join positions as first_n
        on top_n.list_position >= first_n.list_position
    group by top_n.list_position

),

final as (

    select
        list_windows.run_id,
        list_windows.user_id,
        list_windows.seed_track_id,
        list_windows.model_name,
        list_windows.model_version,
        list_windows.variant,
        list_windows.generated_at,
        list_windows.window_end,
        coalesce(list_windows.window_end <= horizon.latest_play, false) as is_window_complete,
        cast({{ var('accuracy_k') }} as integer) as k,
        list_windows.recommended_tracks,
        coalesce(relevant_counts.relevant_tracks, 0) as relevant_tracks,
        list_hits.hits,
        {{ is_hit('list_hits.hits') }} as is_hit,
        {{ precision_at_k('list_hits.hits', var('accuracy_k')) }} as precision_at_k,
        {{ recall_at_k('list_hits.hits', 'relevant_counts.relevant_tracks') }} as recall_at_k,
        {{ ndcg_at_k('list_hits.dcg', 'ideal_dcg.ideal_dcg') }} as ndcg_at_k,
        {{ reciprocal_rank('list_hits.first_hit_position') }} as reciprocal_rank

    from list_windows
    cross join horizon
    inner join list_hits
        on
            list_windows.run_id = list_hits.run_id
            and list_windows.user_id = list_hits.user_id
            and list_windows.seed_track_id = list_hits.seed_track_id
    inner join relevant_counts
        on
            list_windows.run_id = relevant_counts.run_id
            and list_windows.user_id = relevant_counts.user_id
            and list_windows.seed_track_id = relevant_counts.seed_track_id
    left join ideal_dcg
        on
            least(coalesce(relevant_counts.relevant_tracks, 0), {{ var('accuracy_k') }})
            = ideal_dcg.relevant_in_top_k

)

select * from final
