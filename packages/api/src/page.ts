/** A small live page: who the probe is, and its alerts as they fire and resolve (EventSource). */
export const livePage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>probemesh</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222}h1{font-size:1.3em}
table{border-collapse:collapse;min-width:40em}td,th{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left}
.firing{color:#b00020;font-weight:600}.resolved{color:#1b5e20}#status{color:#666}
</style></head><body>
<h1>probemesh probe <span id="probe">…</span></h1>
<p id="status">connecting…</p>
<p><a href="/openapi.json">API (OpenAPI 3.1)</a> · <a href="/health">health</a></p>
<table><thead><tr><th>time</th><th>state</th><th>severity</th><th>rule</th><th>device</th><th>value</th><th>message</th></tr></thead><tbody id="alerts"></tbody></table>
<script>
const token = new URLSearchParams(location.hash.slice(1)).get('token') || prompt('API token (read)');
fetch('/health').then(r => r.json()).then(h => document.getElementById('probe').textContent = h.probe);
const es = new EventSource('/alerts/stream?token=' + encodeURIComponent(token));
const status = document.getElementById('status');
es.addEventListener('hello', () => status.textContent = 'live: alerts appear as they fire and resolve');
es.onerror = () => status.textContent = 'disconnected (wrong token or probe stopped); retrying…';
es.addEventListener('alert', (e) => {
  const a = JSON.parse(e.data);
  const tr = document.createElement('tr');
  for (const v of [new Date(a.ts).toLocaleTimeString(), a.state, a.severity, a.rule + '/' + a.decision, a.device ?? '', a.value ?? '', a.message]) {
    const td = document.createElement('td'); td.textContent = String(v); tr.appendChild(td);
  }
  tr.children[1].className = a.state;
  document.getElementById('alerts').prepend(tr);
});
</script></body></html>`;
