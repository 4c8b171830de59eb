"""A certificate as a standalone HTML page, for the file and for a person to read (`certificate show ID --html`).

The page is a rendering only: the signed JSON document is what verifies, and the page says so and
embeds it. Autoescaped throughout; no script, no external resource.
"""
from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, StrictUndefined

_ENVIRONMENT = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_PAGE = _ENVIRONMENT.from_string("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Certificate {{ body.certificate_id }}</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #111; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #bbb; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
code, pre { font-size: 13px; } pre { white-space: pre-wrap; word-break: break-all; background: #f4f4f4; padding: 0.5rem; }
</style>
</head>
<body>
<h1>Certificate of request {{ request.request_id }}</h1>
<p>Certificate <code>{{ body.certificate_id }}</code>, issued {{ body.issued_at }}. This page renders the signed
JSON document embedded below; check that document, not this page, with
<code>bookings-ledger certificate verify FILE --key VERIFIER_KEY</code>.</p>
<h2>The request</h2>
<table>
{% for name in ("request_type", "regime", "channel", "received_at", "verification", "verified_at", "state", "outcome", "completed_at", "due_at") %}
<tr><th scope="row">{{ name.replace("_", " ") }}</th><td>{{ request[name] if request[name] is not none else "—" }}</td></tr>
{% endfor %}
</table>
<h2>What was found and done</h2>
{% for subject in facts.subjects %}
<h3>Subject <code>{{ subject.subject }}</code></h3>
<table>
<tr><th scope="col">surface</th><th scope="col">business</th><th scope="col">object</th><th scope="col">action</th><th scope="col">detail</th><th scope="col">Graph evidence</th><th scope="col">ledger seqs</th></tr>
{% for surface in subject.surfaces %}
<tr><td>{{ surface.surface }}</td><td>{{ surface.business or "—" }}</td><td>{{ surface.object_id or "—" }}</td><td>{{ surface.action }}</td><td>{{ surface.detail or "—" }}</td>
<td>{% for answer in surface.graph %}{{ answer.status }} {{ answer.request_id or "" }}{% if not loop.last %}; {% endif %}{% endfor %}</td>
<td>{{ surface.seqs | join(", ") }}</td></tr>
{% endfor %}
</table>
{% if subject.erased_seq is not none %}
<p>Erased at seq {{ subject.erased_seq }}; keys destroyed at seq {{ subject.key_destroyed_seq }}, {{ subject.keys_destroyed_at }};
final everywhere the service controls {{ subject.final_everywhere_at }}.</p>
{% endif %}
{% endfor %}
<p>Counts: {% for name, count in facts.counts | dictsort %}{{ name }} {{ count }}{% if not loop.last %}, {% endif %}{% else %}—{% endfor %}.
{% if body.erasure_final_at %}Erasure final: <strong>{{ body.erasure_final_at }}</strong>.{% endif %}</p>
{% if facts.kept %}
<h2>What was kept, and why</h2>
<table>
<tr><th scope="col">subject</th><th scope="col">surface</th><th scope="col">object</th><th scope="col">reason</th><th scope="col">holds</th></tr>
{% for item in facts.kept %}
<tr><td><code>{{ item.subject }}</code></td><td>{{ item.surface }}</td><td>{{ item.object_id or "—" }}</td><td>{{ item.reason }}</td><td>{{ item.holds | join(", ") or "—" }}</td></tr>
{% endfor %}
</table>
{% endif %}
<h2>What may remain outside the service's reach</h2>
<table>
<tr><th scope="col">where</th><th scope="col">until</th><th scope="col">why</th></tr>
{% for item in body.remains %}
<tr><td>{{ item.where }}</td><td>{{ item.until or "no known end" }}</td><td>{{ item.why }}</td></tr>
{% else %}
<tr><td colspan="3">nothing known</td></tr>
{% endfor %}
</table>
<h2>Ledger evidence</h2>
<p>{{ body.ledger.entries | length }} ledger entries (seqs {{ facts.seqs | join(", ") or "none" }}), each with its
inclusion proof against this signed checkpoint:</p>
<pre>{{ body.ledger.checkpoint }}</pre>
<h2>The signed document</h2>
<pre>{{ document_json }}</pre>
</body>
</html>
""")


def render_html(document: dict[str, Any]) -> str:
    """The HTML page of a certificate document (the parsed JSON file: `certificate` and `signature`)."""
    body = document["certificate"]
    return _PAGE.render(body=body, request=body["request"], facts=body["facts"],
                        document_json=json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))
