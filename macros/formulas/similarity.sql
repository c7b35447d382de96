{#- Predicted-vs-actual similarity over the audio features of one (list, top song). -#}

{#- Mean absolute difference over the features compared: 0 is a perfect prediction. -#}
{% macro mean_absolute_difference(abs_difference) -%}
    {{ exact_avg(abs_difference) }}
{%- endmacro %}

{#- 1 - mean absolute difference: 1 is a perfect prediction, 0 the worst on a 0..1 scale. -#}
{% macro mean_absolute_similarity(abs_difference) -%}
    1 - {{ mean_absolute_difference(abs_difference) }}
{%- endmacro %}

{#- Cosine similarity of the predicted and actual feature vectors (null when either is zero). -#}
{% macro cosine_similarity(predicted, actual) -%}
    {{ exact_sum(predicted ~ ' * ' ~ actual) }}
    / nullif(
        sqrt({{ exact_sum(predicted ~ ' * ' ~ predicted) }})
        * sqrt({{ exact_sum(actual ~ ' * ' ~ actual) }}),
        0
    )
{%- endmacro %}

{#- Euclidean distance of the predicted and actual feature vectors (0 is a perfect prediction). -#}
{% macro euclidean_distance(difference) -%}
    sqrt({{ exact_sum(difference ~ ' * ' ~ difference) }})
{%- endmacro %}
