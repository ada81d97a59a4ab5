"""The putdesk operator console (Textual). Talks to the engine only through EngineAPI."""
