"""The composition root: the `bookings-ledger` command and the Flask app factory.

It is the only code besides tests that imports all the packages and wires them together.
"""
