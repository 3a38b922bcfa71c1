"""GridGov: one patrol system for river, forest and field chiefs (河长制·林长制·田长制)."""

__version__ = "0.1.0"
