"""People who answer for areas: grid officers (网格员) and river, forest and field chiefs."""
