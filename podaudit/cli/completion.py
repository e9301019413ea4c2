"""completion: print the shell completion script for bash, zsh or fish (click's own).

The script calls ``podaudit`` back with ``_PODAUDIT_COMPLETE`` set; click answers that in
``cli.main`` before any command runs, so completion stays as fast as ``--help``.
"""

from __future__ import annotations

import click

SHELLS = ("bash", "zsh", "fish")
PROG_NAME = "podaudit"
# click derives this name from the program's; the script must name the same one.
COMPLETE_VAR = "_PODAUDIT_COMPLETE"


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL.

    \b
    bash:  eval "$(podaudit completion bash)"            in ~/.bashrc
    zsh:   eval "$(podaudit completion zsh)"             in ~/.zshrc, after compinit
    fish:  podaudit completion fish > ~/.config/fish/completions/podaudit.fish
    """
    from click.shell_completion import get_completion_class

    found = get_completion_class(shell)
    if found is None:  # click dropped a shell: say so rather than print nothing
        raise click.UsageError(f"click has no completion for {shell}")
    root = ctx.find_root().command
    click.echo(found(root, {}, PROG_NAME, COMPLETE_VAR).source())
