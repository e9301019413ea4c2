"""rules and explain: the rule registry, as a table and as one page per rule."""

from __future__ import annotations

import click

from podaudit.cli.helpfmt import SectionedCommand
from podaudit.cli.options import OUTPUT, Options, check_format, fail, shared_options

RULES_FORMATS = ("table", "markdown", "json")


@click.command(cls=SectionedCommand)
@shared_options(sections=(OUTPUT,), formats=RULES_FORMATS)
@click.option("--cis", "by_cis", is_flag=True,
              help="Only the rules that check CIS Kubernetes Benchmark controls, by control number.")
@click.pass_obj
def rules(opts: Options, by_cis: bool) -> None:
    """List every rule: ID, severity, CIS controls, title."""
    from podaudit.audit import docs
    from podaudit.audit.registry import cis_key, load_all_rules

    check_format(opts, RULES_FORMATS)
    if opts.output == "json":
        from podaudit.report.jsonout import dumps, rules_json

        listed = sorted(load_all_rules().values(), key=lambda r: r.id)
        if by_cis:
            listed = sorted((r for r in listed if r.cis), key=lambda r: cis_key(r.cis[0]))
        click.echo(dumps(rules_json(listed)))
    elif opts.output == "markdown":
        click.echo(docs.cis_markdown() if by_cis else docs.rules_markdown(), nl=False)
    else:
        click.echo(docs.cis_table() if by_cis else docs.rules_table(), nl=False)


@click.command(cls=SectionedCommand)
@click.argument("rule_id", metavar="ID")
def explain(rule_id: str) -> None:
    """The page of one rule: what it flags, why it matters, how to fix it, an example."""
    from podaudit.audit.docs import rule_page
    from podaudit.audit.registry import load_all_rules

    found = load_all_rules().get(rule_id.upper())
    if found is None:
        fail(f"no rule {rule_id}; `podaudit rules` lists them")
    click.echo(rule_page(found), nl=False)
