"""Domain colours (profit, loss, warning-domain, stale, live) from the active theme."""

from __future__ import annotations

from textual.dom import DOMNode

from console.themes import DOMAIN_DEFAULTS


def tone(node: DOMNode, name: str) -> str:
    """The colour of a domain variable in the app's current theme."""
    try:
        variables = node.app.theme_variables
    except Exception:
        variables = {}
    return variables.get(name) or DOMAIN_DEFAULTS[name]
