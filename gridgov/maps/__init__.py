"""Pages: server-rendered views of the county (maps and dashboards grow here)."""
