"""The `putdesk` command tree (argparse; never loads Textual except for `putdesk console`)."""
