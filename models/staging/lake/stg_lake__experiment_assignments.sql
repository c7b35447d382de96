with

source as (

    select * from {{ source('lake', 'experiment_assignments') }}

),

renamed as (

    select
        cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(variant as {{ dbt.type_string() }}) as variant,
        cast(assigned_at as timestamp) as assigned_at,
        cast(load_id as {{ dbt.type_string() }}) as load_id,
        cast(_loaded_at as timestamp) as loaded_at

    from source

),

-- A user is in one arm of an experiment: the latest assignment holds.
deduplicated as (

    {{ deduplicate(
        'renamed',
        'experiment_id, user_id',
        'assigned_at desc, loaded_at desc, load_id desc'
    ) }}

),

final as (

    select
        experiment_id,
        user_id,
        variant,
        assigned_at,
        load_id,
        loaded_at

    from deduplicated

)

select * from final
