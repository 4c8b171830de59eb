"""Moving the data keys of a pre-0007 main database into the key store (migration 0007_key_store).

Each subject had one key in the main database's `data_keys`. Every category its rows have gets a
fresh key in the key store, and each row is re-encrypted (same associated data, new key) in the
migration's transaction. The key store commits its keys first: a crash before the migration
commits leaves unused keys there, and the rerun finds and reuses them (`keys_for`), decrypting
the rows again from the old key, which is still in the untouched `data_keys`.

The `collected` entries' ciphertext digests name the ciphertexts as first written; after this
move they no longer match the stored rows (they never were a check on them).
"""
from __future__ import annotations

from sqlalchemy import Connection, text

from ledger import encryption
from ledger.keystore import KeyStore


def move_data_keys(connection: Connection, keystore: KeyStore, master: encryption.MasterKeys) -> int:
    """Re-encrypt every subject's rows under per-category keys of `keystore`; how many subjects moved."""
    subjects = connection.execute(text("SELECT subject_ref, wrapped_key, master_key_id FROM data_keys ORDER BY subject_ref")).all()
    for subject, wrapped, master_key_id in subjects:
        old_key = encryption.unwrap_subject_key(master.get(master_key_id), wrapped, subject)
        rows = connection.execute(text(
            "SELECT id, field, category, purpose, ciphertext FROM personal_data WHERE subject_ref = :subject"
        ), {"subject": subject}).all()
        new_keys = keystore.keys_for(subject, {row.category for row in rows})
        for row in rows:
            context = encryption.field_context(subject, row.id, row.field, row.category, row.purpose)
            value = encryption.decrypt_value(old_key, row.ciphertext, context, row_id=row.id)
            connection.execute(text("UPDATE personal_data SET ciphertext = :ciphertext WHERE id = :id"),
                               {"ciphertext": encryption.encrypt_value(new_keys[row.category], value, context), "id": row.id})
    return len(subjects)
