"""A local Microsoft Graph emulator for Bookings, mailbox events, subscriptions and notifications.

It never imports project code: it is a black box that behaves like Graph (graph-facts.md).
"""

from .server import EmulatorServer, serve_forever

__all__ = ["EmulatorServer", "serve_forever"]
