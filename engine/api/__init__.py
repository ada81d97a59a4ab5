"""EngineAPI: typed commands in, typed events out; in-process and local-socket forms."""
