with

plays as (

    select * from {{ ref('fct_plays') }}

),

feature_dictionary as (

    select * from {{ ref('audio_feature_dictionary') }}

),

music_plays as (

    select * from plays
    where content_type = 'music' and track_id is not null

),

played_tracks as (

    select distinct
        track_id,
        {{ var('similarity_features') | join(', ') }}

    from music_plays

),

-- One row per played track and feature with a value.
feature_values as (

    {% for feature in var('similarity_features') %}
        select
            track_id,
            '{{ feature }}' as audio_feature,
            {{ feature }} as feature_value

        from played_tracks
        where {{ feature }} is not null
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

-- Buckets of equal numbers of played tracks (not plays), so play counts can differ between
-- them; equal values are ordered by track id.
bucketed as (

    select
        *,
        -- ntile is an int on PostgreSQL and Spark, a bigint on DuckDB.
        cast(ntile({{ var('feature_engagement_buckets') }}) over (
            partition by audio_feature
            order by feature_value, track_id
        ) as bigint) as feature_bucket

    from feature_values

),

bucket_plays as (

    select
        bucketed.audio_feature,
        bucketed.feature_bucket,
        bucketed.feature_value,
        bucketed.track_id,
        music_plays.is_music_stream,
        music_plays.listened_ms,
        music_plays.completion_ratio,
        music_plays.is_skipped

    from bucketed
    inner join music_plays
        on bucketed.track_id = music_plays.track_id

),

aggregated as (

    select
        audio_feature,
        feature_bucket,
        min(feature_value) as min_value,
        max(feature_value) as max_value,
        count(distinct track_id) as tracks,
        count(*) as plays,
        count(case when is_music_stream then 1 end) as streams,
        {{ ms_to_minutes('sum(case when is_music_stream then listened_ms end)') }}
            as minutes_listened,
        {{ completion_rate('completion_ratio') }} as completion_rate,
        count(completion_ratio) as plays_with_completion_data,
        {{ skip_rate('is_skipped') }} as skip_rate,
        count(is_skipped) as plays_with_skip_data

    from bucket_plays
    group by audio_feature, feature_bucket

),

final as (

    select
        aggregated.audio_feature,
        feature_dictionary.feature_label,
        aggregated.feature_bucket,
        aggregated.min_value,
        aggregated.max_value,
        aggregated.tracks,
        aggregated.plays,
        aggregated.streams,
        aggregated.minutes_listened,
        aggregated.completion_rate,
        aggregated.plays_with_completion_data,
        aggregated.skip_rate,
        aggregated.plays_with_skip_data

    from aggregated
    left join feature_dictionary
        on aggregated.audio_feature = feature_dictionary.audio_feature

)

select * from final
