"""Load putdesk YAML into pydantic models with errors that name file, line and field path.

Order of precedence: shipped defaults (the models) < YAML file < `PUTDESK_*` environment
variables (`PUTDESK_BUDGET__MARGIN_PCT_OF_NLV=15`). `PUTDESK_CONFIG` points at another file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from config.models import PutdeskConfig, deep_merge
from config.nakedtrader import NakedTraderConfig

ENV_PREFIX = "PUTDESK_"
CONFIG_ENV = "PUTDESK_CONFIG"
SHIPPED_DIR = Path(__file__).resolve().parent
SHIPPED_CONFIG = SHIPPED_DIR / "putdesk.yaml"
SHIPPED_NT_CONFIG = SHIPPED_DIR / "daily_spx_options.yaml"
#: Environment variables with the prefix that are not setting overrides.
_NOT_OVERRIDES = {"PUTDESK_CONFIG", "PUTDESK_FLEX_TOKEN", "PUTDESK_HOME", "PUTDESK_STATE_DIR"}

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ConfigProblem:
    """One problem found in a config source."""

    source: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.field}: {self.message}"


class ConfigError(Exception):
    """Raised with every problem found; `str()` lists them one per line."""

    def __init__(self, problems: list[ConfigProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def default_config_path() -> Path:
    """The config file in use: `$PUTDESK_CONFIG`, else the user's config dir, else shipped."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    from config.paths import user_config_file

    user = user_config_file()
    return user if user.exists() else SHIPPED_CONFIG


def _line_index(
    node: yaml.Node, path: tuple[str | int, ...], out: dict[tuple[Any, ...], int]
) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[(*path, key)] = key_node.start_mark.line + 1
            _line_index(value_node, (*path, key), out)
            out[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, (*path, i), out)


def _read_yaml(text: str, source: str) -> tuple[dict[str, Any], dict[tuple[Any, ...], int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            [ConfigProblem(source, line, "(yaml)", f"not valid YAML: {problem}")]
        ) from None
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise ConfigError(
            [ConfigProblem(source, 1, "(top level)", "must be a mapping of sections")]
        )
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _line_index(node, (), lines)
    return data, lines


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """`PUTDESK_A__B=value` -> {"a": {"b": value}}; values parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name in _NOT_OVERRIDES:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not parts:
            continue
        try:
            value = yaml.safe_load(raw) if raw != "" else None
        except yaml.YAMLError:
            value = raw
        cur = out
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
            if not isinstance(cur, dict):
                break
        else:
            cur[parts[-1]] = value
    return out


def _allowed_hint(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """For an unknown key, list the keys that are allowed at that level."""
    cur: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(cur, "model_fields", None)
        if not fields or part not in fields:
            return ""
        ann = fields[part].annotation
        cur = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        if cur is None:
            return ""
    fields = getattr(cur, "model_fields", None)
    return f" (allowed here: {', '.join(sorted(fields))})" if fields else ""


def _problems(
    exc: ValidationError,
    model: type[BaseModel],
    source: str,
    lines: dict[tuple[Any, ...], int],
    env_keys: set[tuple[str, ...]],
) -> list[ConfigProblem]:
    out = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if p != "__root__")
        field = ".".join(str(p) for p in loc) or "(top level)"
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if err["type"] == "extra_forbidden":
            msg = "unknown setting" + _allowed_hint(model, loc)
        elif "input" in err and err["type"] not in {"model_type", "missing"}:
            shown = repr(err["input"])
            if len(shown) < 60 and not isinstance(err["input"], dict):
                msg = f"{msg} (got {shown})"
        line = None
        src = source
        probe = loc
        if tuple(str(p) for p in loc if isinstance(p, str)) in env_keys:
            src = ENV_PREFIX + "__".join(str(p).upper() for p in loc)
        else:
            while probe:
                if probe in lines:
                    line = lines[probe]
                    break
                probe = probe[:-1]
        out.append(ConfigProblem(src, line, field, msg))
    return out


def _flatten_keys(d: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    keys: set[tuple[str, ...]] = set()
    for k, v in d.items():
        keys.add((*prefix, k))
        if isinstance(v, Mapping):
            keys |= _flatten_keys(v, (*prefix, k))
    return keys


def load_model(
    model: type[M],
    path: Path | None,
    *,
    text: str | None = None,
    environ: Mapping[str, str] | None = None,
    env_section: str | None = None,
) -> M:
    """Load `model` from YAML at `path` (or `text`), applying env overrides."""
    source = str(path) if path is not None else "<text>"
    if text is None:
        if path is None:
            text = ""
        else:
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise ConfigError(
                    [ConfigProblem(source, None, "(file)", "file not found")]
                ) from None
            except OSError as exc:
                raise ConfigError(
                    [ConfigProblem(source, None, "(file)", f"cannot read: {exc.strerror}")]
                ) from None
            except UnicodeDecodeError:
                raise ConfigError(
                    [ConfigProblem(source, None, "(file)", "not UTF-8 text")]
                ) from None
    data, lines = _read_yaml(text, source)
    env = _env_overrides(os.environ if environ is None else environ)
    if env_section is not None:
        env = env.get(env_section, {}) if isinstance(env.get(env_section), dict) else {}
    else:
        env.pop("nt", None)
    merged = deep_merge(data, env)
    try:
        return model.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_problems(exc, model, source, lines, _flatten_keys(env))) from None


def load_config(
    path: Path | str | None = None, *, environ: Mapping[str, str] | None = None
) -> PutdeskConfig:
    """Load the main config. `path=None` uses `default_config_path()`."""
    p = Path(path).expanduser() if path is not None else default_config_path()
    return load_model(PutdeskConfig, p, environ=environ)


def nakedtrader_config_path(cfg: PutdeskConfig, main_path: Path | None = None) -> Path:
    if cfg.nakedtrader_config is not None:
        return cfg.nakedtrader_config.expanduser()
    if main_path is not None:
        beside = main_path.parent / "daily_spx_options.yaml"
        if beside.exists():
            return beside
    return SHIPPED_NT_CONFIG


def load_nakedtrader_config(
    path: Path | str | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> NakedTraderConfig:
    """Load daily_spx_options.yaml; `overrides` (from the command line) win over the file.

    Environment overrides use `PUTDESK_NT__<KEY>`.
    """
    p = Path(path).expanduser() if path is not None else SHIPPED_NT_CONFIG
    cfg = load_model(NakedTraderConfig, p, environ=environ, env_section="nt")
    if overrides:
        merged = cfg.model_dump()
        merged.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return NakedTraderConfig.model_validate(merged)
        except ValidationError as exc:
            probs = _problems(exc, NakedTraderConfig, "command line", {}, set())
            for prob in probs:
                if prob.field in overrides:
                    object.__setattr__(prob, "source", f"--{prob.field.replace('_', '-')}")
            raise ConfigError(probs) from None
    return cfg


def dump_yaml(cfg: BaseModel) -> str:
    """YAML text of a model, in field order, with JSON-friendly scalars."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
