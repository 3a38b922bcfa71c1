"""Findings (问题): problems found on patrol, their photos, and the county's taxonomy of them."""
