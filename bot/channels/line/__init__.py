"""LINE: line-bot-sdk v3 (async), the webhook inside `serve`, quick replies and templates."""
