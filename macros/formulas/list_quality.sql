{#- List quality, written once (see fct_recommendation_list_quality). -#}

{#-
  Euclidean distance between two tracks over the seven audio features of
  var('similarity_features'); `left` and `right` are table aliases.
-#}
{% macro feature_distance(left, right) -%}
    sqrt(
        {%- for feature in var('similarity_features') %}
        power({{ left }}.{{ feature }} - {{ right }}.{{ feature }}, 2){{ ' +' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#- Every feature of var('similarity_features') known on a table alias. -#}
{% macro has_all_features(alias) -%}
    (
        {%- for feature in var('similarity_features') %}
        {{ alias }}.{{ feature }} is not null{{ ' and' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#- Catalog coverage = distinct recommended tracks / tracks in the catalog. -#}
{% macro catalog_coverage(distinct_recommended, catalog_size) -%}
    cast({{ distinct_recommended }} as {{ type_double() }}) / nullif({{ catalog_size }}, 0)
{%- endmacro %}

{#-
  A track's popularity percentile in the catalog: the share of other known-popularity tracks
  that are less popular (percent_rank: ties share the lowest rank; 0 = least, 1 = most popular).
-#}
{% macro popularity_percentile(popularity, partition_by=none) -%}
    percent_rank() over (
        {% if partition_by %}partition by {{ partition_by }} {% endif %}order by {{ popularity }}
    )
{%- endmacro %}

{#- Popularity bias = mean popularity percentile of the recommendations - of the user's plays. -#}
{% macro popularity_bias(recommended_percentile, user_percentile) -%}
    {{ recommended_percentile }} - {{ user_percentile }}
{%- endmacro %}
