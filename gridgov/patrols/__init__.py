"""Patrols (巡查): an officer's walk over their grid, its GPS track, checklists and compliance."""
