"""`bookings-ledger emulator`: the local Microsoft Graph stand-in, in the foreground."""
from __future__ import annotations

import click


@click.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def command(ctx: click.Context, args: tuple[str, ...]) -> None:
    """Run the Graph emulator (its options: `bookings-ledger emulator --help`)."""
    from emulator.cli import main

    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse exits on --help and on usage errors
        code = exc.code if isinstance(exc.code, int) else 0
    ctx.exit(code)
