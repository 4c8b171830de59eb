"""One module per `bookings-ledger` subcommand; each exposes a click command named `command` (shared.py: what several share)."""
