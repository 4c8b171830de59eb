"""One module per `bookings-ledger` subcommand; each exposes a click command named `command`."""
