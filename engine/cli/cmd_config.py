"""`putdesk config check|show|path|schema`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from config.loader import (
    CONFIG_ENV,
    SHIPPED_CONFIG,
    ConfigError,
    default_config_path,
    load_config,
    load_nakedtrader_config,
)
from config.models import PutdeskConfig
from config.nakedtrader import NakedTraderConfig
from config.secrets import SecretError, get_secret, mask


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="check, show and locate the configuration")
    csub = p.add_subparsers(dest="config_cmd", metavar="ACTION")
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])

    c = csub.add_parser("check", help="validate a config file (exit 1 on errors)")
    c.add_argument("file", nargs="?", help="file to check (default: the config in use)")
    c.add_argument("--nakedtrader", action="store_true", help="check a daily_spx_options.yaml")
    c.add_argument("--json", action="store_true", help="print problems as JSON")
    c.set_defaults(func=_check)

    s = csub.add_parser("show", help="print the effective configuration (secrets masked)")
    s.add_argument("--config", metavar="FILE")
    s.add_argument(
        "--account", metavar="ID", help="that account's settings (its profile merged in)"
    )
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_show)

    pa = csub.add_parser("path", help="print which config file is in use and where state lives")
    pa.add_argument("--config", metavar="FILE")
    pa.add_argument("--account", metavar="ID", help="the account whose files to show")
    pa.add_argument("--json", action="store_true")
    pa.set_defaults(func=_path)

    sc = csub.add_parser("schema", help="print the JSON schema of the configuration")
    sc.add_argument("--nakedtrader", action="store_true")
    sc.set_defaults(func=_schema)


def _check(args: argparse.Namespace) -> int:
    path = Path(args.file) if args.file else default_config_path()
    try:
        if args.nakedtrader:
            load_nakedtrader_config(path)
        else:
            load_config(path)
    except ConfigError as exc:
        if args.json:
            _print_doc(
                args,
                ok=False,
                error=f"{path}: {len(exc.problems)} problem(s)",
                data={
                    "file": str(path),
                    "problems": [
                        {
                            "source": p.source,
                            "line": p.line,
                            "field": p.field,
                            "message": p.message,
                        }
                        for p in exc.problems
                    ],
                },
            )
        else:
            print(f"{path}: {len(exc.problems)} problem(s)", file=sys.stderr)
            for prob in exc.problems:
                print(f"  {prob}", file=sys.stderr)
        return 1
    if args.json:
        _print_doc(args, ok=True, data={"file": str(path), "problems": []})
    else:
        print(f"{path}: OK")
    return 0


def _print_doc(
    args: argparse.Namespace, *, ok: bool, data: Mapping[str, object], error: str | None = None
) -> None:
    """The versioned JSON document of docs/cli.md."""
    from engine.cli.common import command_name, json_document, print_json

    code = 0 if ok else 1
    print_json(
        json_document(
            command_name(args),
            ok=ok,
            exit_code=code,
            error=error,
            reason_code=None if ok else "config.invalid",
            data=dict(data),
        )
    )


def _load(args: argparse.Namespace) -> tuple[Path, PutdeskConfig] | int:
    path = Path(args.config) if getattr(args, "config", None) else default_config_path()
    try:
        return path, load_config(path)
    except ConfigError as exc:
        from engine.cli.common import fail

        return fail(args, str(exc), 1, "config.invalid")


def _show(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    path, cfg = loaded
    try:
        cfg = cfg.for_account(args.account)
    except ValueError as exc:
        from engine.cli.common import fail

        return fail(args, str(exc), 1, "config.invalid")
    data = cfg.model_dump(mode="json")
    secrets: dict[str, str] = {}
    try:
        key = get_secret(cfg.ai.api_key_env)
        secrets["ai_api_key"] = mask(key.reveal() if key else None)
    except SecretError as exc:
        secrets["ai_api_key"] = f"(unreadable: {exc})"
    try:
        tok = get_secret(cfg.flex.token_env, cfg.flex.token_file)
        secrets["flex_token"] = mask(tok.reveal() if tok else None)
    except SecretError as exc:
        secrets["flex_token"] = f"(unreadable: {exc})"
    data["secrets"] = secrets
    if args.json:
        _print_doc(args, ok=True, data={"file": str(path), "config": data})
    else:
        import yaml

        print(f"# effective configuration from {path}")
        print(yaml.safe_dump(data, sort_keys=False), end="")
    return 0


def _path(args: argparse.Namespace) -> int:
    from config.paths import state_dir, user_config_file

    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    path, cfg = loaded
    from engine.runtime.paths import EnginePaths

    state = state_dir(cfg.paths.state_dir)
    engine_paths = EnginePaths.of(cfg, getattr(args, "account", None))
    info = {
        "config": str(path),
        "config_env": os.environ.get(CONFIG_ENV),
        "user_config": str(user_config_file()),
        "shipped_defaults": str(SHIPPED_CONFIG),
        "state_dir": str(state),
        # the files the account's engine and every command use (EnginePaths)
        "database": str(engine_paths.database),
        "log_dir": str(engine_paths.logs),
        "socket": str(engine_paths.socket),
    }
    if args.json:
        _print_doc(args, ok=True, data=info)
    else:
        for k, v in info.items():
            print(f"{k:17} {v if v is not None else '-'}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    model = NakedTraderConfig if args.nakedtrader else PutdeskConfig
    print(json.dumps(model.model_json_schema(), indent=2))
    return 0
