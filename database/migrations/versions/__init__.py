"""Migration scripts, applied in order by `database.engine.upgrade`."""
