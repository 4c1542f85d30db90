"""Payments: lifecycle state machine, idempotency, the event outbox and merchant webhooks."""
