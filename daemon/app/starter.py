"""The commented starter configuration written by ``coffeechat init`` (and by the demo)."""

from __future__ import annotations

import json


def starter_config(*, name: str, email: str, timezone: str, calendar: str, drafts: str,
                   state: str | None = None, templates: str | None = None,
                   working_hours: str = "09:00-17:00") -> str:
    """A complete, commented config.toml. String values are written as TOML basic strings."""
    q = json.dumps  # a JSON string literal is a valid TOML basic string
    state_line = (f"path = {q(state)}" if state else
                  '# path = "state.json"          # default: state.json in the XDG data folder')
    templates_line = (f"path = {q(templates)}" if templates else
                      '# path = "templates/"          # default: templates/ in the XDG config '
                      "folder")
    return f"""\
# coffeechat configuration. Relative paths are relative to this file's folder.
# Check it with: coffeechat plan   (nothing is written by plan)

[me]
name = {q(name)}
emails = [{q(email)}]                # every address that is you; never treated as a contact
timezone = {q(timezone)}             # IANA name; drafts are timed in this zone
# signature = "Sam\\nsam.example.com" # how drafts are signed; default: your name

[tagging]
# A meeting is an informational interview when one of these appears in its title or
# description (any case), or when it carries one of the categories (Outlook).
keywords = ["#infointerview", "informational interview", "info interview", "coffee chat"]
categories = ["Informational Interview"]

[cadence]
confirmation_days_before = 2   # days before the meeting, same local time
thank_you_hours_after = 1      # hours after it ends
follow_up_days_after = 30      # days after it ends
catch_up_every_days = 90       # then every this many days, until you stop the contact
max_new_catch_ups_per_day = 5  # spreads old catch-ups out on a first sync
# Confirmations, follow-ups and catch-ups wait for working time in your zone; thank-yous
# and prep notes do not. working_hours = "any" drafts at any hour of any day.
working_days = ["mon", "tue", "wed", "thu", "fri"]
working_hours = {q(working_hours)}
max_new_drafts_per_day = 25    # all kinds together; 0 = no limit
prep_sheet = false             # true: a prep note to yourself the day before each meeting

[state]
{state_line}

[templates]
# A file here named like a default template (confirmation.txt, thank_you.txt,
# follow_up.txt, catch_up.txt, news.txt, prep.txt) replaces it. See `coffeechat preview`.
{templates_line}

[service]
poll_minutes = 5               # how often `coffeechat run` looks at the calendars

[announce]
max_drafts = 50                # coffeechat announce writes at most this many notes a run

[[accounts]]
name = "personal"
kind = "local"                 # a folder of .ics files (or one .ics file) and a Maildir
calendar = {q(calendar)}       # a vdir, e.g. as vdirsyncer keeps it, or one .ics file
drafts = {q(drafts)}           # a Maildir folder; created if missing
# reply_detection = true       # read your mail to see who wrote to whom (needs `mail`)
# mail = "~/Mail"              # a Maildir, or a folder of them (INBOX, Sent, ...)
"""
