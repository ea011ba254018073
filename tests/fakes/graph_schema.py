"""A trimmed copy of Microsoft Graph's ``message`` resource, enough to check request bodies.

Written from the documented properties of ``microsoft.graph.message`` (v1.0): the writable ones
with their types, and the read-only ones (which a client must not send). Unknown properties,
read-only ones and wrong types are refused the way Graph refuses them: 400 with an ``error``
object whose ``code`` and ``message`` say what was wrong.
"""

from __future__ import annotations

import re
from typing import Any

Spec = Any
"""``str``, ``bool``, a ``frozenset`` of allowed strings, a ``list`` of one spec (a collection)
or a ``dict`` of property -> spec (a complex type)."""

EMAIL_ADDRESS: dict[str, Spec] = {"address": str, "name": str}
RECIPIENT: dict[str, Spec] = {"emailAddress": EMAIL_ADDRESS}
ITEM_BODY: dict[str, Spec] = {"contentType": frozenset({"text", "html"}), "content": str}
HEADER: dict[str, Spec] = {"name": str, "value": str}
EXTENDED_PROPERTY: dict[str, Spec] = {"id": str, "value": str}
FOLLOWUP_FLAG: dict[str, Spec] = {"flagStatus": frozenset({"notFlagged", "complete",
                                                           "flagged"})}

WRITABLE: dict[str, Spec] = {
    "subject": str,
    "body": ITEM_BODY,
    "toRecipients": [RECIPIENT],
    "ccRecipients": [RECIPIENT],
    "bccRecipients": [RECIPIENT],
    "replyTo": [RECIPIENT],
    "from": RECIPIENT,
    "sender": RECIPIENT,
    "importance": frozenset({"low", "normal", "high"}),
    "categories": [str],
    "internetMessageHeaders": [HEADER],
    "singleValueExtendedProperties": [EXTENDED_PROPERTY],
    "isReadReceiptRequested": bool,
    "isDeliveryReceiptRequested": bool,
    "isRead": bool,
    "flag": FOLLOWUP_FLAG,
    "inferenceClassification": frozenset({"focused", "other"}),
}
"""Properties a client may send when creating or updating a message. Extended properties are a
relationship, but Graph documents setting them in the body of a create or an update."""

CREATE_ONLY = frozenset({"internetMessageHeaders"})
"""Graph accepts these only when the message is created."""

READ_ONLY = frozenset({
    "id", "@odata.etag", "@odata.context", "createdDateTime", "lastModifiedDateTime",
    "changeKey", "isDraft", "parentFolderId", "conversationId", "conversationIndex",
    "bodyPreview", "hasAttachments", "internetMessageId", "receivedDateTime", "sentDateTime",
    "webLink", "uniqueBody",
})

READABLE = (frozenset(WRITABLE) | READ_ONLY) - {"singleValueExtendedProperties"}
"""Every property a ``$select`` may name (extended properties are read with ``$expand``)."""

_PROPERTY_ID = re.compile(
    r"(String|Integer|Boolean|SystemTime|Binary|Long|Double|CLSID)\s+"
    r"(0x[0-9A-Fa-f]{1,4}|\{[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\}\s+"
    r"(Name\s+\S.*|Id\s+0x[0-9A-Fa-f]+))")
"""The documented forms of an extended property id: a proptag, or a GUID with a name or an
id."""


def error(code: str, message: str) -> dict[str, Any]:
    """A Graph-style error body."""
    return {"error": {"code": code, "message": message,
                      "innerError": {"request-id": "00000000-0000-0000-0000-000000000000"}}}


def check_message(body: Any, *, creating: bool) -> dict[str, Any] | None:
    """Return a Graph error body when ``body`` is not a valid message for a create (or an
    update when ``creating`` is False), else ``None``."""
    if not isinstance(body, dict):
        return error("RequestBodyRead", "The request body must be a JSON object.")
    for name, value in body.items():
        if name in READ_ONLY:
            return error("ErrorInvalidPropertyUpdate",
                         f"The property '{name}' is read-only and cannot be set.")
        if name not in WRITABLE:
            return error("RequestBodyRead",
                         f"The property '{name}' does not exist on type "
                         "'microsoft.graph.message'. Make sure to only use property names "
                         "that are defined by the type or mark the type as open type.")
        if name in CREATE_ONLY and not creating:
            return error("ErrorInvalidPropertyUpdate",
                         f"The property '{name}' can only be set when the message is created.")
        problem = _check(value, WRITABLE[name], name)
        if problem is not None:
            return error("RequestBodyRead", problem)
    for prop in body.get("singleValueExtendedProperties", []) or []:
        if not _PROPERTY_ID.fullmatch(str(prop.get("id", ""))):
            return error("ErrorInvalidProperty",
                         f"The extended property id '{prop.get('id')}' is not valid.")
    for header in body.get("internetMessageHeaders", []) or []:
        if not str(header.get("name", "")).lower().startswith("x-"):
            return error("InvalidInternetMessageHeader",
                         f"The internet message header name '{header.get('name')}' should "
                         "start with 'x-' or 'X-'.")
    return None


def _check(value: Any, spec: Spec, where: str) -> str | None:
    if spec is str:
        return None if isinstance(value, str) else _wrong(value, "Edm.String", where)
    if spec is bool:
        return None if isinstance(value, bool) else _wrong(value, "Edm.Boolean", where)
    if isinstance(spec, frozenset):
        if isinstance(value, str) and value.lower() in {s.lower() for s in spec}:
            return None
        return f"The value '{value}' of '{where}' is not one of {sorted(spec)}."
    if isinstance(spec, list):
        if not isinstance(value, list):
            return f"A collection was expected for '{where}'."
        for n, item in enumerate(value):
            problem = _check(item, spec[0], f"{where}[{n}]")
            if problem is not None:
                return problem
        return None
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return f"An object was expected for '{where}'."
        for key, item in value.items():
            if key not in spec:
                return (f"The property '{key}' does not exist on the type of '{where}'. Make "
                        "sure to only use property names that are defined by the type.")
            problem = _check(item, spec[key], f"{where}.{key}")
            if problem is not None:
                return problem
        return None
    raise TypeError(f"bad spec for {where}")


def _wrong(value: Any, edm: str, where: str) -> str:
    return f"Cannot convert the literal '{value}' to the expected type '{edm}' ({where})."
