"""Real servers (Dovecot, Radicale) the tests start on 127.0.0.1 with their own config."""
