"""The benchmark of issue 7: what a coffeechat cycle costs as the calendar grows, against a
naive poller, on the fake Google and Graph servers and a local vdir. ``python -m bench.run``."""
