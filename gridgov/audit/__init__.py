"""The audit log (追踪问效): who changed what, when, from what to what. Append-only."""
