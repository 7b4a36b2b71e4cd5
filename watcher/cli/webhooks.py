"""`watcher webhooks ...`: register the daemon's receiver with the Hub, and show what is registered."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from watcher.cli.options import ConfigOption, LogLevelOption, VerboseOption

webhooks_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Hub webhooks: register the receiver, list what is registered.")


@webhooks_app.command()
def setup(
    ctx: typer.Context,
    url: Annotated[str, typer.Option("--url", help="The receiver's public https URL (the reverse proxy in front of "
                                                   "webhooks.port), e.g. https://watcher.example.org/hooks/huggingface.")],
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
    verbose: VerboseOption = 0,
) -> None:
    """Create or update (idempotently) one Hub webhook for URL watching every watch's authors; secret from
    WATCHER_WEBHOOK_SECRET, token from HF_TOKEN."""
    from watcher.cli.common import fail, load_config
    from watcher.cli.hub_webhooks import SetupError, check_url
    from watcher.cli.hub_webhooks import setup as do_setup
    from watcher.daemon.webhooks import WebhookError, secret_from_env

    cfg = load_config(ctx, "ERROR")
    try:
        check_url(url)
        outcome = do_setup(cfg, url, secret_from_env())
    except (SetupError, WebhookError) as exc:
        fail(str(exc), 1)
    watched = ", ".join(f"{item['type']}:{item['name']}" for item in outcome.watched)
    typer.echo(f"webhook {outcome.webhook.id} {outcome.action}: {outcome.webhook.url} watches {watched} "
               "(domain repo; secret from WATCHER_WEBHOOK_SECRET)")
    if cfg.webhooks is None:
        typer.echo("note: the config has no `webhooks:` section, so `watcher run` does not listen yet")


@webhooks_app.command()
def status(
    ctx: typer.Context,
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
    verbose: VerboseOption = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List the Hub webhooks of HF_TOKEN's account: URL, state, what they watch, watch authors they miss."""
    from watcher.cli.common import fail, load_config
    from watcher.cli.hub_webhooks import SetupError, listing

    cfg = load_config(ctx, "ERROR")
    try:
        hooks = listing(cfg)
    except SetupError as exc:
        fail(str(exc), 1)
    if as_json:
        typer.echo(json.dumps(hooks, indent=2))
        return
    if not hooks:
        typer.echo("no webhooks on this account: run `watcher webhooks setup --url https://...`")
    for hook in hooks:
        state = "disabled" if hook["disabled"] else "enabled"
        typer.echo(f"{hook['id']} {state} {hook['url']} domains={','.join(hook['domains'])} "
                   f"watches={','.join(hook['watched'])}")
        if hook["missing_authors"]:
            typer.echo(f"  misses watch author(s): {', '.join(hook['missing_authors'])}; "
                       "run `watcher webhooks setup` again")
