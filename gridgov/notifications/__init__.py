"""Notifications: a transactional outbox, delivered by adapters (log, webhook) with retries."""
