"""Microsoft Graph calendar and Outlook drafts (the connector lands with issue 4)."""
