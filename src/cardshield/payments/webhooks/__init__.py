"""Merchant webhooks: endpoints, signing, the delivery worker and replay."""
