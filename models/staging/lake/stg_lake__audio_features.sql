with

source as (

    select * from {{ source('lake', 'audio_features') }}

),

-- Ingestion converts every scale to 0..1 at the door; source_scale records what came in.
renamed as (

    select
        cast(track_id as {{ dbt.type_string() }}) as track_id,
        cast(acousticness as {{ type_double() }}) as acousticness,
        cast(danceability as {{ type_double() }}) as danceability,
        cast(energy as {{ type_double() }}) as energy,
        cast(instrumentalness as {{ type_double() }}) as instrumentalness,
        cast(liveness as {{ type_double() }}) as liveness,
        cast(speechiness as {{ type_double() }}) as speechiness,
        cast(valence as {{ type_double() }}) as valence,
        cast(tempo as {{ type_double() }}) as tempo,
        cast(loudness as {{ type_double() }}) as loudness,
        cast(key as integer) as musical_key,
        cast(mode as integer) as musical_mode,
        cast(time_signature as integer) as time_signature,
        cast(source_scale as {{ dbt.type_string() }}) as source_scale,
        cast(source as {{ dbt.type_string() }}) as source,
        cast(load_id as {{ dbt.type_string() }}) as load_id,
        cast(_loaded_at as timestamp) as loaded_at

    from source

),

deduplicated as (

    {{ deduplicate('renamed', 'track_id', 'loaded_at desc, load_id desc') }}

),

final as (

    select
        track_id,
        acousticness,
        danceability,
        energy,
        instrumentalness,
        liveness,
        speechiness,
        valence,
        tempo,
        loudness,
        musical_key,
        musical_mode,
        time_signature,
        source_scale,
        source,
        load_id,
        loaded_at

    from deduplicated

)

select * from final
