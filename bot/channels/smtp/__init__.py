"""Mail through an SMTP server (aiosmtplib): a delivery channel for invitations, reached by the
outbox like the chat places, but nothing comes in by it except one-click unsubscribes."""
