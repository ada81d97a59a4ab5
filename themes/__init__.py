"""putdesk's shipped Textual themes (YAML definitions) and the app stylesheet (putdesk.tcss).

A package only so the files install with putdesk; `console.themes` reads them from here.
"""

from pathlib import Path

THEMES_DIR = Path(__file__).resolve().parent
