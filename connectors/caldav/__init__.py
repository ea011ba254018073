"""CalDAV calendars and IMAP Drafts: the account kind for iCloud, Fastmail, Nextcloud, Yahoo and
any standard server."""
