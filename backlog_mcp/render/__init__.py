"""Pure `data -> str` renderers: Backlog JSON in, compact Markdown out. No I/O here."""
