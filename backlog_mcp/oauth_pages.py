"""The two pages a user sees of sign-in: this server's consent page, and a message when a sign-in cannot go on.

Pure `data → HTML`: every value a client or user chose (the client's name, its redirect address) is
escaped, and the pages load nothing, run nothing and may not be framed (the headers say so).
"""

from __future__ import annotations

from html import escape

HEADERS = {
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}

_STYLE = "body{font:16px/1.5 system-ui,sans-serif;max-width:34em;margin:3em auto;padding:0 1em}button{font:inherit}"


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width"><style>{_STYLE}</style></head><body>{body}</body></html>'
    )


def consent_page(*, client: str, returns_to: str, space: str, request: str, csrf: str) -> str:
    """Ask the user whether this client may act as them in the space; the answer is posted back with `csrf`."""
    return _page(
        "Allow access to Backlog?",
        f"<h1>Allow access to Backlog?</h1>"
        f"<p><b>{escape(client)}</b> asks to read and change <b>{escape(space)}</b> as you, through this server.</p>"
        f"<p>After you sign in, you are sent back to <b>{escape(returns_to)}</b>. "
        "If you did not just add this server to an assistant, or you do not know that address, deny.</p>"
        '<form method="post" action="/oauth/consent">'
        f'<input type="hidden" name="request" value="{escape(request)}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        '<button name="decision" value="allow">Continue to Backlog</button> '
        '<button name="decision" value="deny">Deny</button></form>',
    )


def message_page(title: str, text: str) -> str:
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(text)}</p>")
