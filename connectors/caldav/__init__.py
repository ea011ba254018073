"""The caldav account kind: a CalDAV calendar and IMAP Drafts (iCloud, Fastmail, Yahoo,
Nextcloud, any CalDAV/IMAP server), reached with a user name and an app password."""
