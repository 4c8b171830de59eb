"""Everything bookings-ledger does to Microsoft 365, through Microsoft Graph (docs/connector.md).

The only package that imports msgraph, azure.identity or kiota, and only once a
GraphConnector is opened: importing this package stays cheap enough for the web process.
"""
from .credentials import StaticCredential, credential_from_settings
from .errors import (
    AuthenticationFailed, Gone, GraphError, InvalidRequest, NotFound, OutcomeUnknown, PermissionMissing,
    Throttled, Unavailable,
)
from .facade import GraphConnector, connector_from_settings
from .mail import Mail
from .mailbox import DeltaRound
from .models import (
    Address, Appointment, AppointmentUpdate, Business, Customer, CustomerInfo, CustomerUpdate, Event,
    ItemResult, MailMessage, Phone, QuestionAnswer, Subscription,
)
from .retry import RetryPolicy

__all__ = [
    "Address", "Appointment", "AppointmentUpdate", "AuthenticationFailed", "Business", "Customer",
    "CustomerInfo", "CustomerUpdate", "DeltaRound", "Event", "Gone", "GraphConnector", "GraphError",
    "InvalidRequest", "ItemResult", "Mail", "MailMessage", "NotFound", "OutcomeUnknown", "PermissionMissing", "Phone",
    "QuestionAnswer", "RetryPolicy", "StaticCredential", "Subscription", "Throttled", "Unavailable",
    "connector_from_settings", "credential_from_settings",
]
