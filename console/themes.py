"""Theme loading: the shipped putdesk-dark / putdesk-light YAML files and user themes.

A theme file holds Textual `Theme` fields plus `variables`; the domain colours (profit, loss,
warning-domain, stale, live) default to `DOMAIN_DEFAULTS` when a theme leaves them out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from textual.theme import Theme

from themes import THEMES_DIR as _SHIPPED_THEMES_DIR

THEMES_DIR: Path = _SHIPPED_THEMES_DIR
CSS_FILE = THEMES_DIR / "putdesk.tcss"
DEFAULT_THEME = "putdesk-dark"

#: Fallback values of the domain colour variables used by putdesk.tcss.
DOMAIN_DEFAULTS: dict[str, str] = {
    "profit": "#4CBF7A",
    "loss": "#E05D5D",
    "warning-domain": "#E0B04F",
    "stale": "#8A7FBF",
    "live": "#4CBF7A",
}

_FIELDS = {
    "name",
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
    "dark",
    "luminosity_spread",
    "text_alpha",
    "variables",
}


class ThemeFileError(ValueError):
    """A theme file that cannot be read as a Textual theme."""


def theme_from_mapping(data: dict[str, Any], source: str) -> Theme:
    """Build a `Theme` from a parsed YAML mapping, refusing unknown keys."""
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ThemeFileError(f"{source}: unknown theme keys: {', '.join(unknown)}")
    if "name" not in data or "primary" not in data:
        raise ThemeFileError(f"{source}: a theme needs at least `name` and `primary`")
    variables = {
        **DOMAIN_DEFAULTS,
        **{str(k): str(v) for k, v in data.get("variables", {}).items()},
    }
    fields = {k: v for k, v in data.items() if k != "variables"}
    return Theme(**fields, variables=variables)


def load_theme_file(path: Path) -> Theme:
    """Read one YAML theme file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ThemeFileError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ThemeFileError(f"{path}: a theme file must be a mapping")
    return theme_from_mapping(data, str(path))


def load_themes(*dirs: Path) -> list[Theme]:
    """Themes from the shipped directory, then from each extra directory (later ones win)."""
    found: dict[str, Theme] = {}
    for d in (THEMES_DIR, *dirs):
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.yaml")):
            theme = load_theme_file(path)
            found[theme.name] = theme
    return list(found.values())
