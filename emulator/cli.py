"""``python -m emulator`` / ``bookings-ledger emulator``: run the emulator in the foreground."""

from __future__ import annotations

import argparse

from .seed import seed as seed_data
from .seed_mail import REQUESTS, seed_privacy_mail
from .server import EmulatorServer


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, start, optionally seed data and traffic, serve until Ctrl-C. Returns the exit code."""
    parser = argparse.ArgumentParser(prog="emulator", description="Local Microsoft Graph emulator (Bookings, events, subscriptions).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--seed", type=int, help="seed ids and demo data (also seeds businesses)")
    parser.add_argument("--businesses", type=int, default=2, help="businesses to seed when --seed is given")
    parser.add_argument("--appointments", type=int, default=200, help="appointments per seeded business")
    parser.add_argument("--privacy-mailbox", metavar="ADDRESS", help="with --seed: deliver demo request mails to this mailbox")
    parser.add_argument("--traffic", type=float, metavar="RATE", help="simulate booking traffic at RATE operations/second")
    parser.add_argument("--strict-auth", action="store_true", help="accept only tokens issued by the emulator's token endpoint")
    args = parser.parse_args(argv)
    server = EmulatorServer(args.host, args.port, seed=args.seed, strict_auth=args.strict_auth).start()
    if args.seed is not None:
        seed_data(server.emulator.store, seed=args.seed, businesses=args.businesses, appointments=args.appointments)
        if args.privacy_mailbox:
            seed_privacy_mail(server.emulator, args.privacy_mailbox, seed=args.seed, requests=len(REQUESTS))
    if args.traffic:
        server.emulator.traffic.start(rate=args.traffic, seed=args.seed or 0)
    print(f"Graph emulator at {server.graph_url} (tokens: {server.base_url}/{{tenant}}/oauth2/v2.0/token, "
          f"control: {server.base_url}/_emulator/)", flush=True)
    server.serve_until_interrupted()
    return 0
