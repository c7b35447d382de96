with

source as (

    select * from {{ source('lake', 'loads') }}

),

final as (

    select
        cast(load_id as {{ dbt.type_string() }}) as load_id,
        cast(kind as {{ dbt.type_string() }}) as load_kind,
        cast(source_file as {{ dbt.type_string() }}) as source_file,
        cast(input_checksum as {{ dbt.type_string() }}) as input_checksum,
        cast(options as {{ dbt.type_string() }}) as load_options,
        cast(rows_in as bigint) as rows_in,
        cast(rows_landed as bigint) as rows_landed,
        cast(rows_rejected as bigint) as rows_rejected,
        cast(started_at as timestamp) as started_at,
        cast(finished_at as timestamp) as finished_at,
        cast(notes as {{ dbt.type_string() }}) as notes,
        cast(entities as {{ dbt.type_string() }}) as loaded_entities,
        cast(plays_from as timestamp) as plays_from,
        cast(lists_from as timestamp) as lists_from,
        cast(_loaded_at as timestamp) as loaded_at

    from source

)

select * from final
