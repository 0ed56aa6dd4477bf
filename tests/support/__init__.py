"""Helpers the tests share: dialogs, crowds, the demo-like company, a Slack workspace."""
