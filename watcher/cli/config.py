"""`watcher config ...`: the config file's JSON Schema (checking a config stays `watcher check-config`)."""

from __future__ import annotations

import json

import typer

config_app = typer.Typer(no_args_is_help=True, help="The config file: its JSON Schema for editors and CI.")


@config_app.command("schema")
def schema() -> None:
    """Print the config's JSON Schema (durations as 15m-style strings); needs no config file.

    Editors: `watcher config schema > config.schema.json` and the yaml-language-server line at the top
    of config.yaml. CI: check-jsonschema --schemafile config.schema.json config.yaml.
    """
    from watcher.config import schema as config_schema

    typer.echo(json.dumps(config_schema.build(), indent=2))
