"""Cycles composed from the steps: fetch, detect, store, forecast, deliver from the outbox."""
