"""rules and explain: the rule registry, as a table and as one page per rule."""

from __future__ import annotations

import click

from podaudit.cli.options import Options, check_format, fail, shared_options


@click.command()
@shared_options
@click.pass_obj
def rules(opts: Options) -> None:
    """List every rule: ID, severity, title."""
    from podaudit.audit.docs import rules_markdown, rules_table

    check_format(opts, ("table", "markdown"))
    click.echo(rules_markdown() if opts.output == "markdown" else rules_table(), nl=False)


@click.command()
@click.argument("rule_id", metavar="ID")
def explain(rule_id: str) -> None:
    """The page of one rule: what it flags, why it matters, how to fix it, an example."""
    from podaudit.audit.docs import rule_page
    from podaudit.audit.registry import load_all_rules

    found = load_all_rules().get(rule_id.upper())
    if found is None:
        fail(f"no rule {rule_id}; `podaudit rules` lists them")
    click.echo(rule_page(found), nl=False)
