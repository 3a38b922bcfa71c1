"""The county's spatial hierarchy (county → town → village → grid → micro-grid) and resource layers."""
