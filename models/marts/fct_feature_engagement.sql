with

track_days as (

    select * from {{ ref('int_track_days_aggregated') }}

),

tracks as (

    select * from {{ ref('int_tracks_enriched') }}

),

feature_dictionary as (

    select * from {{ ref('audio_feature_dictionary') }}

),

-- Each played track's engagement over every day, with its features. (Sums of bigints are
-- wider on DuckDB: cast back.)
played_tracks as (

    select
        track_days.track_id,
        {% for feature in var('similarity_features') %}
            max(tracks.{{ feature }}) as {{ feature }},
        {% endfor %}
        {{ completion_ratio_sum('track_days.completion_ratio_sum') }} as completion_ratio_sum,
        cast(sum(track_days.plays) as {{ dbt.type_bigint() }}) as plays,
        cast(sum(track_days.streams) as {{ dbt.type_bigint() }}) as streams,
        cast(sum(track_days.stream_listened_ms) as {{ dbt.type_bigint() }}) as stream_listened_ms,
        cast(sum(track_days.plays_with_completion_data) as {{ dbt.type_bigint() }})
            as plays_with_completion_data,
        cast(sum(track_days.skipped_plays) as {{ dbt.type_bigint() }}) as skipped_plays,
        cast(sum(track_days.plays_with_skip_data) as {{ dbt.type_bigint() }})
            as plays_with_skip_data

    from track_days
    left join tracks
        on track_days.track_id = tracks.track_id
    group by track_days.track_id

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

aggregated as (

    select
        bucketed.audio_feature,
        bucketed.feature_bucket,
        min(bucketed.feature_value) as min_value,
        max(bucketed.feature_value) as max_value,
        count(*) as tracks,
        cast(sum(played_tracks.plays) as {{ dbt.type_bigint() }}) as plays,
        cast(sum(played_tracks.streams) as {{ dbt.type_bigint() }}) as streams,
        {{ ms_to_minutes('sum(played_tracks.stream_listened_ms)') }} as minutes_listened,
        {{ completion_rate_of(
            'sum(played_tracks.completion_ratio_sum)',
            'sum(played_tracks.plays_with_completion_data)'
        ) }} as completion_rate,
        cast(sum(played_tracks.plays_with_completion_data) as {{ dbt.type_bigint() }})
            as plays_with_completion_data,
        {{ skip_rate_of(
            'sum(played_tracks.skipped_plays)', 'sum(played_tracks.plays_with_skip_data)'
        ) }} as skip_rate,
        cast(sum(played_tracks.plays_with_skip_data) as {{ dbt.type_bigint() }})
            as plays_with_skip_data

    from bucketed
    inner join played_tracks
        on bucketed.track_id = played_tracks.track_id
    group by bucketed.audio_feature, bucketed.feature_bucket

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
