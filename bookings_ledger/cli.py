"""The `bookings-ledger` command.

Each subcommand lives in its own module under `bookings_ledger.commands` and is imported only
when it runs, so `bookings-ledger --help` answers without loading SQLAlchemy or msgraph.
Exit codes: 0 success; 1 the thing checked is wrong; 2 bad usage or settings.
"""
from __future__ import annotations

import importlib
import sys

import click

# name -> (module under bookings_ledger.commands, one-line help shown by --help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "Run everything on this machine: SQLite, the Graph emulator, live bookings."),
    "db": ("db", "Database schema: `db upgrade` applies the migrations."),
    "verify": ("verify", "Check the ledger's hash chain and checkpoints."),
    "checkpoint": ("checkpoint", "Export or verify a signed checkpoint of the ledger."),
    "certificate": ("certificate", "Verify a request's certificate offline, or show a stored one (`--html`)."),
    "export": ("export", "Export the ledger for an auditor (entries, checkpoints, public key, verifier)."),
    "keys": ("keys", "Generate keys, or re-wrap every data key under the current master key."),
    "subject": ("subject", "Find a data subject by email or phone, show (recorded) or erase one."),
    "retention": ("retention", "Show what expires when, or run retention and anonymisation now (`--dry-run`)."),
    "hold": ("hold", "Place, release or list legal holds on a subject, an appointment or a business."),
    "notice": ("notice", "Register a privacy-notice version; `--material` tells everyone whose data is held."),
    "serve": ("serve", "Serve the web app (webhooks, health, metrics, dashboard) under gunicorn."),
    "worker": ("worker", "Process the webhook inbox into the ledger (any number on PostgreSQL)."),
    "emulator": ("emulator", "Run the local Microsoft Graph emulator."),
    "subscribe": ("subscribe", "Create or renew the Graph subscription of every booking business."),
    "sync": ("sync", "Reconcile every booking business with Graph now and back-fill gaps."),
    "doctor": ("doctor", "Check the set-up: settings, Graph token and permissions, public URL, databases, files, keys."),
    "scheduler": ("scheduler", "Run renewal, reconciliation and checkpoint jobs (one leader among many)."),
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that subcommand is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"bookings_ledger.commands.{COMMANDS[name][0]}")
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Reads help from the table above, so listing the commands imports none of them.
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in sorted(COMMANDS)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """bookings-ledger: keeps the privacy promises of Microsoft Bookings, with evidence."""
    # Here rather than in `main`, so `--help` still answers without reading the settings.
    from bookings_ledger.logs import bind_to_process, configure_process_logging

    configure_process_logging()
    bind_to_process(command=ctx.invoked_subcommand)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; maps settings errors to exit code 2."""
    from config import SettingsError

    try:
        return cli.main(args=argv, prog_name="bookings-ledger", standalone_mode=False) or 0
    except SettingsError as exc:
        click.echo(f"bookings-ledger: {exc}", err=True)
        return 2
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return 2
    except click.Abort:
        click.echo("Aborted.", err=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
