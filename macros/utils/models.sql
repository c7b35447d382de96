{#-
  A recommender is a model name, a version and (optionally) an experiment variant. A run outside
  any experiment has no variant, so model joins compare variants null-safely.
-#}
{% macro same_model(left, right) -%}
    {{ left }}.model_name = {{ right }}.model_name
    and {{ left }}.model_version = {{ right }}.model_version
    and coalesce({{ left }}.variant, '') = coalesce({{ right }}.variant, '')
{%- endmacro %}

{#- One readable key per model version and variant: "taste-knn 2.0.0 (treatment)". -#}
{% macro model_key(model_name, model_version, variant) -%}
    {{ dbt.concat([
        model_name, "' '", model_version,
        "case when " ~ variant ~ " is null then '' else "
        ~ dbt.concat(["' ('", variant, "')'"]) ~ " end"
    ]) }}
{%- endmacro %}

{#- A recommendation list is one run's list for one user and seed track. -#}
{% macro same_list(left, right) -%}
    {{ left }}.run_id = {{ right }}.run_id
    and {{ left }}.user_id = {{ right }}.user_id
    and {{ left }}.seed_track_id = {{ right }}.seed_track_id
{%- endmacro %}
