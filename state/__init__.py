"""The working state of the service: inbox, leases and job runs, subscriptions, sync watermarks,
the Bookings mirror. Never the chain, never personal data."""
