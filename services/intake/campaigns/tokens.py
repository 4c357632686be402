"""The signed links of an invitation and the keyed hash of an address.

* The **invitation link** (``/invitation/{token}``) carries the contact's id, signed (itsdangerous,
  salt ``intake-campaign-invitation``): the campaign and partner a request is attributed to are read
  from the database through it, never from a field the browser could change.
* The **unsubscribe link** (``/desinscription/{token}``, also the ``List-Unsubscribe`` header)
  carries the contact's id and the hash of its address, so it still works after the contact was
  erased: the hash is all an unsubscribe keeps.
* The **address hash** is HMAC-SHA256 of the normalised address under ``MLP_CAMPAIGN_HASH_KEY``
  (the secret key when unset): without the key, a list of hashes tells nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

INVITATION_SALT = "intake-campaign-invitation"
UNSUBSCRIBE_SALT = "intake-campaign-unsubscribe"


def address_hash(key: str, email: str) -> str:
    return hmac.new(key.encode(), email.strip().lower().encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Unsubscribe:
    contact_id: int
    address_hash: str


class CampaignTokens:
    def __init__(self, secret_key: str, hash_key: str | None = None) -> None:
        self._invitation = URLSafeSerializer(secret_key, salt=INVITATION_SALT)
        self._unsubscribe = URLSafeSerializer(secret_key, salt=UNSUBSCRIBE_SALT)
        self.hash_key = hash_key or secret_key

    def hash(self, email: str) -> str:
        return address_hash(self.hash_key, email)

    def invitation(self, contact_id: int) -> str:
        return str(self._invitation.dumps({"c": contact_id}))

    def invitation_contact(self, token: str) -> int | None:
        """The contact id of a genuine invitation token, else None."""
        try:
            data = self._invitation.loads(token[:500])
        except (BadSignature, ValueError, UnicodeDecodeError):
            return None
        contact = data.get("c") if isinstance(data, dict) else None
        return contact if isinstance(contact, int) else None

    def unsubscribe(self, contact_id: int, email: str) -> str:
        return str(self._unsubscribe.dumps({"c": contact_id, "h": self.hash(email)}))

    def unsubscribe_of(self, token: str) -> Unsubscribe | None:
        try:
            data = self._unsubscribe.loads(token[:500])
        except (BadSignature, ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), int) or not isinstance(data.get("h"), str):
            return None
        return Unsubscribe(data["c"], data["h"])


def tokens_for(settings) -> CampaignTokens:
    return CampaignTokens(settings.secret_key, settings.campaign_hash_key)
