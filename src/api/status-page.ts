/**
 * GET /: a small status page, plain HTML and a script (no build step). It polls the API with the
 * key typed into it (kept in the browser's localStorage), so it shows only what that key may read.
 */
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>etl serve</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px system-ui, sans-serif; margin: 1.5rem; color: #222; }
  table { border-collapse: collapse; width: 100%; margin-bottom: 2rem; }
  th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #ddd; white-space: nowrap; }
  td.error { white-space: normal; color: #a00; }
  .succeeded { color: #070; } .failed, .aborted { color: #a00; } .canceled { color: #777; }
  .running, .staging, .merging, .queued { color: #06c; }
  #problem { color: #a00; }
</style>
</head>
<body>
<h1>etl serve</h1>
<p><label>API key <input id="key" type="password" size="60" autocomplete="off"></label>
   <span id="problem" role="alert"></span></p>
<h2>Imports</h2>
<table id="imports">
  <thead><tr><th>id</th><th>sync</th><th>status</th><th>progress</th><th>read</th><th>inserted</th><th>updated</th>
  <th>unchanged</th><th>deleted</th><th>rejected</th><th>duration</th><th>error</th></tr></thead>
  <tbody></tbody>
</table>
<h2>Loads (imports, scheduled and command-line syncs)</h2>
<table id="loads">
  <thead><tr><th>load</th><th>table</th><th>status</th><th>started</th><th>read</th><th>inserted</th><th>updated</th>
  <th>deleted</th><th>rejected</th><th>error</th></tr></thead>
  <tbody></tbody>
</table>
<script>
  const keyInput = document.getElementById('key');
  keyInput.value = localStorage.getItem('etl-key') || '';
  keyInput.addEventListener('change', () => { localStorage.setItem('etl-key', keyInput.value); refresh(); });

  function cell(row, text, cls) {
    const td = document.createElement('td');
    td.textContent = text === null || text === undefined ? '' : String(text);
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }
  function seconds(ms) { return ms === null ? '' : (ms / 1000).toFixed(1) + ' s'; }
  async function get(path) {
    const headers = keyInput.value ? { Authorization: 'Bearer ' + keyInput.value } : {};
    const answer = await fetch(path, { headers });
    const body = await answer.json();
    if (!answer.ok) throw new Error(body.error || answer.statusText);
    return body;
  }
  function showImports(imports) {
    const body = document.querySelector('#imports tbody');
    body.replaceChildren();
    for (const i of imports) {
      const tr = document.createElement('tr');
      tr.dataset.id = i.id;
      const link = document.createElement('a');
      link.href = i.links.rejects;
      link.textContent = i.id.slice(0, 8);
      link.title = 'rejected rows of ' + i.id;
      cell(tr, '').appendChild(link);
      cell(tr, i.sync);
      cell(tr, i.status, 'status ' + i.status);
      cell(tr, i.progress.rows.toLocaleString() + ' rows' + (i.progress.bytes_total ? ', ' + Math.round(100 * i.progress.bytes / i.progress.bytes_total) + '%' : ''), 'progress');
      const c = i.counts || {};
      for (const k of ['read', 'inserted', 'updated', 'unchanged', 'deleted', 'rejected']) cell(tr, c[k], 'count-' + k);
      cell(tr, seconds(i.duration_ms));
      cell(tr, i.error ? i.error.code + ': ' + i.error.message : '', 'error');
      body.appendChild(tr);
    }
  }
  function showLoads(loads) {
    const body = document.querySelector('#loads tbody');
    body.replaceChildren();
    for (const l of loads) {
      const tr = document.createElement('tr');
      cell(tr, l.load_id.slice(0, 8));
      cell(tr, l.table);
      cell(tr, l.status + (l.dry_run ? ' (dry run)' : ''), l.status);
      cell(tr, l.started_at.replace('T', ' ').slice(0, 19));
      for (const k of ['read', 'inserted', 'updated', 'deleted', 'rejected']) cell(tr, l.counts[k]);
      cell(tr, l.error, 'error');
      body.appendChild(tr);
    }
  }
  async function refresh() {
    try {
      const [imports, loads] = await Promise.all([get('/v1/imports?limit=20'), get('/v1/loads')]);
      showImports(imports.imports);
      showLoads(loads.loads);
      document.getElementById('problem').textContent = '';
    } catch (e) {
      document.getElementById('problem').textContent = e.message;
    }
  }
  refresh();
  setInterval(refresh, 1000);
</script>
</body>
</html>
`;
