"""Slack: Bolt (AsyncApp) in HTTP and Socket Mode, OAuth installs, Block Kit rendering."""
