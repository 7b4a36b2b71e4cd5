"""Persistence: SQLAlchemy tables, the engine, and the few queries the pipeline and CLI need."""
