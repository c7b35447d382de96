with

source as (

    select * from {{ source('lake', 'rejects') }}

),

final as (

    select
        cast(load_id as {{ dbt.type_string() }}) as load_id,
        cast(source as {{ dbt.type_string() }}) as source,
        cast(source_file as {{ dbt.type_string() }}) as source_file,
        cast(source_line as bigint) as source_line,
        cast(reason as {{ dbt.type_string() }}) as reason,
        cast(raw_record as {{ dbt.type_string() }}) as raw_record,
        cast(_loaded_at as timestamp) as loaded_at

    from source

)

select * from final
