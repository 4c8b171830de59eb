"""msgraph-sdk against the emulator: base URL, paging, typed errors, PATCH over keep-alive (sdk-notes §2)."""

from __future__ import annotations

import asyncio
import time

import pytest

from emulator import EmulatorServer
from emulator.seed import seed
from emulator_helpers import FAST

msgraph = pytest.importorskip("msgraph")


class StaticCredential:
    """Duck-typed TokenCredential: the emulator accepts any non-empty bearer token by default."""

    def get_token(self, *scopes: str, **kwargs: object):
        from azure.core.credentials import AccessToken

        return AccessToken("static-fake-token", int(time.time()) + 3600)


def test_the_sdk_pages_patches_and_maps_errors() -> None:
    """GraphServiceClient with a static credential lists every appointment through nextLinks,
    PATCHes (None on 204) and raises ODataError with Graph's code on 404."""
    from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph.generated.models.booking_appointment import BookingAppointment
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    from msgraph_core.tasks.page_iterator import PageIterator

    with EmulatorServer(seed=3, page_size=4, **FAST) as server:
        business_id = seed(server.emulator.store, seed=3, appointments=10, customers=5)[0]

        async def scenario() -> tuple[list[str], object, str]:
            auth = AzureIdentityAuthenticationProvider(StaticCredential(), scopes=["https://graph.microsoft.com/.default"])
            adapter = GraphRequestAdapter(auth)
            adapter.base_url = server.graph_url
            client = GraphServiceClient(request_adapter=adapter)
            appointments = client.solutions.booking_businesses.by_booking_business_id(business_id).appointments
            page = await appointments.get()
            ids: list[str] = []
            await PageIterator(page, adapter).iterate(lambda a: ids.append(a.id) or True)
            patched = await appointments.by_booking_appointment_id(ids[0]).patch(BookingAppointment(service_notes="via sdk"))
            try:
                await appointments.by_booking_appointment_id("AAMkADmissing=").get()
                code = ""
            except ODataError as error:
                code = error.error.code
            finally:
                # msgraph_core's transport has no aclose(): close the inner pool too (sdk-notes §4).
                await adapter._http_client.aclose()
                await adapter._http_client._transport.transport.aclose()
                await asyncio.sleep(0)
            return ids, patched, code

        ids, patched, code = asyncio.run(scenario())
        assert len(ids) == 10 and len(set(ids)) == 10
        assert patched is None and code == "ErrorItemNotFound"
        assert server.emulator.store.appointment(business_id, ids[0])["serviceNotes"] == "via sdk"


def test_the_sdk_drafts_sends_and_reads_the_privacy_mailbox() -> None:
    """The mail calls a privacy-mailbox sender makes: create a draft with a marker header, find it by
    $select=internetMessageHeaders, send it (202, None), read the Inbox through every page. Prefer is a
    request header, not part of the nextLink: msgraph_core's PageIterator does not resend it, so
    later pages come as HTML (a reader wanting text must ask on every page)."""
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph.generated.models.body_type import BodyType
    from msgraph.generated.models.email_address import EmailAddress
    from msgraph.generated.models.internet_message_header import InternetMessageHeader
    from msgraph.generated.models.item_body import ItemBody
    from msgraph.generated.models.message import Message
    from msgraph.generated.models.recipient import Recipient
    from msgraph.generated.users.item.mail_folders.item.messages.messages_request_builder import MessagesRequestBuilder
    from msgraph_core.tasks.page_iterator import PageIterator

    privacy = "privacy@contoso.example"
    with EmulatorServer(seed=3, **FAST) as server:
        import httpx
        for n in range(12):
            httpx.post(f"{server.base_url}/_emulator/mailboxes/{privacy}/messages",
                       json={"html": f"<p>request {n}</p>", "from": "ada@example.com", "subject": f"r{n}"}).raise_for_status()

        async def scenario() -> tuple[str, list[str], object, list[str], list[str]]:
            auth = AzureIdentityAuthenticationProvider(StaticCredential(), scopes=["https://graph.microsoft.com/.default"])
            adapter = GraphRequestAdapter(auth)
            adapter.base_url = server.graph_url
            client = GraphServiceClient(request_adapter=adapter)
            mailbox = client.users.by_user_id(privacy)
            try:
                draft = await mailbox.messages.post(Message(
                    subject="Your request", body=ItemBody(content_type=BodyType.Text, content="Received."),
                    to_recipients=[Recipient(email_address=EmailAddress(address="ada@example.com"))],
                    internet_message_headers=[InternetMessageHeader(name="x-bookings-ledger-message", value="m-7")]))
                query = MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(select=["internetMessageHeaders"])
                drafts = await mailbox.mail_folders.by_mail_folder_id("drafts").messages.get(RequestConfiguration(query_parameters=query))
                markers = [h.value for m in drafts.value for h in m.internet_message_headers or []]
                sent = await mailbox.messages.by_message_id(draft.id).send.post()
                config = RequestConfiguration(query_parameters=MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(
                    filter="receivedDateTime ge 2000-01-01T00:00:00Z", orderby=["receivedDateTime asc"], top=5))
                config.headers.add("Prefer", 'outlook.body-content-type="text"')
                page = await mailbox.mail_folders.by_mail_folder_id("inbox").messages.get(config)
                texts: list[str] = []
                await PageIterator(page, adapter).iterate(lambda m: texts.append(m.body.content) or True)
                subjects = [m.subject for m in (await mailbox.mail_folders.by_mail_folder_id("sentitems").messages.get()).value]
            finally:
                await adapter._http_client.aclose()
                await adapter._http_client._transport.transport.aclose()
                await asyncio.sleep(0)
            return draft.id, markers, sent, texts, subjects

        draft_id, markers, sent, texts, subjects = asyncio.run(scenario())
    assert draft_id and markers == ["m-7"] and sent is None
    assert texts == [f"request {n}" for n in range(5)] + [f"<p>request {n}</p>" for n in range(5, 12)]
    assert subjects == ["Your request"]
