"""Fresh values for every key setting of every process, ready to paste into the environment."""
from __future__ import annotations

from config.settings import DEFAULT_CHECKPOINT_ORIGIN
from ledger.key_rotation import generate_settings_keys
from state.client_states import generate_client_state_key


def generate_all_keys(checkpoint_origin: str = DEFAULT_CHECKPOINT_ORIGIN) -> dict[str, str]:
    """The ledger's keys (the verifier key under `checkpoint_origin`) and the web process's
    CLIENT_STATE_KEY, by setting name."""
    return {**generate_settings_keys(checkpoint_origin), "CLIENT_STATE_KEY": generate_client_state_key()}
