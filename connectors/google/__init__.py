"""Google Calendar and Gmail drafts (the connector lands with issue 3)."""
