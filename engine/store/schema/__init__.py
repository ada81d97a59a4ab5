"""One module per schema migration: `mNNNN_<name>.py` with VERSION, DESCRIPTION and SQL."""
