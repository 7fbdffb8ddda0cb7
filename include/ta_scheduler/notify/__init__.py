"""Outgoing messages: failure alerts and report delivery through Slack and email."""
