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
