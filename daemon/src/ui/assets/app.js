// Cortex dashboard: a one-page app over the daemon's authenticated APIs.
// No libraries and no build step: the daemon embeds this file as it is.
//
// Data comes only from the API with the token the user typed (kept in
// sessionStorage, so it dies with the tab): REST `/v1/*` for runs and the
// cluster, `/graphql` for the catalog. A running run is followed live by
// reading its Server-Sent Events stream with fetch(), because EventSource
// cannot send the Authorization header.
'use strict';

const TOKEN_KEY = 'cortex.token';
const ENDED = ['completed', 'failed', 'cancelled'];
const main = document.getElementById('main');
const statusLine = document.getElementById('status');

// ---- DOM ----------------------------------------------------------------

// Builds an element. Text is always added as text nodes, never parsed as
// HTML, so names coming from the API cannot inject markup.
function h(tag, attrs, ...children) {
  const svg = ['svg', 'line', 'rect', 'text', 'g', 'defs', 'marker', 'path', 'title', 'a'].includes(tag)
    && attrs && attrs.svg;
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === 'svg' || value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}
const s = (tag, attrs, ...children) => h(tag, { ...attrs, svg: true }, ...children);

function table(headers, rows) {
  return h('table', {},
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col', class: t.endsWith(' ') ? 'num' : null }, t.trim())))),
    h('tbody', {}, rows));
}
const num = (value) => h('td', { class: 'num' }, value);
const time = (ms) => (ms ? new Date(ms).toLocaleTimeString() : '');
const say = (text) => { statusLine.textContent = text; };

// ---- token and API ------------------------------------------------------

const token = () => sessionStorage.getItem(TOKEN_KEY);

// `#token=T` or `#/route?token=T` sets the token (handy for scripts and
// tests) and is then removed from the address bar and history.
function takeTokenFromHash() {
  const match = location.hash.match(/[#?&]token=([^&]*)/);
  if (!match) return;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
  let rest = location.hash.replace(/[?&]?token=[^&]*/, '').replace(/\?$/, '').replace(/\?&/, '?');
  if (rest === '#' || rest === '') rest = '#/runs';
  history.replaceState(null, '', rest);
}

async function request(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { Authorization: `Bearer ${token()}`, ...(options.headers || {}) },
  });
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    location.hash = '#/login';
    throw new Error('the token was refused');
  }
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw new Error(body && body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${response.status}`);
  }
  return response;
}
const api = async (path, options) => (await request(path, options)).json();

async function graphql(query, variables) {
  const body = await api('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  if (body.errors) throw new Error(body.errors.map((e) => e.message).join('; '));
  return body.data;
}

// ---- routing ------------------------------------------------------------

// What the page on screen left running (a poll timer, a stream); leaving
// the page stops it.
let leave = () => {};

// Which page is on screen, so an answer that arrives after the user moved
// on is not drawn over the new page.
let onScreen = null;

const routes = [
  [/^\/login$/, 'login', loginPage],
  [/^\/runs$/, 'runs', runsPage],
  [/^\/runs\/([^/]+)$/, 'run', runPage],
  [/^\/cluster$/, 'cluster', clusterPage],
  [/^\/catalog$/, 'catalog', catalogPage],
  [/^\/assets\/(.+)$/, 'asset', assetPage],
];

function route() {
  takeTokenFromHash();
  leave();
  leave = () => {};
  say('');
  const [path, query] = location.hash.slice(1).split('?');
  if (!token() && path !== '/login') {
    location.hash = '#/login';
    return;
  }
  const params = new URLSearchParams(query || '');
  const target = path && path !== '/' ? path : '/runs';
  for (const [pattern, name, page] of routes) {
    const match = target.match(pattern);
    if (!match) continue;
    onScreen = { name, hash: location.hash };
    main.replaceChildren(h('p', {}, 'Loading…'));
    delete main.dataset.ready;
    page(...match.slice(1).map(decodeURIComponent), params).catch((e) => {
      main.replaceChildren(h('p', { class: 'error' }, `Could not load: ${e.message}`));
    });
    return;
  }
  onScreen = null;
  main.replaceChildren(h('h1', {}, 'No such page'));
}

// Puts a page on screen; `ready` tells scripts (and the browser tests) that
// the page has its data.
function show(ready, ...children) {
  if (!onScreen || onScreen.name !== ready || onScreen.hash !== location.hash) return;
  const focused = document.activeElement && main.contains(document.activeElement) && document.activeElement.id;
  // Optional parts of a page come as null; replaceChildren would print them.
  main.replaceChildren(...children.filter((c) => c !== null && c !== undefined && c !== false));
  main.dataset.ready = ready;
  // A redraw must not throw the keyboard user's focus away.
  if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
}

// Runs `load` now and every `ms` until the page is left.
function poll(load, ms) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    try { await load(); say(''); } catch (e) { say(`Refresh failed: ${e.message}`); }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  leave = () => { stopped = true; clearTimeout(timer); };
  return tick();
}

// ---- login --------------------------------------------------------------

async function loginPage() {
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', required: true, size: 50 });
  const form = h('form', {
    onsubmit: (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      location.hash = '#/runs';
    },
  },
  h('p', {}, h('label', { for: 'token' }, 'API token '), input, ' ', h('button', { type: 'submit' }, 'Log in')),
  h('p', { class: 'muted' }, 'cortex dev keeps the admin token in .cortex-dev/admin-token. '
    + 'It stays in this tab only (session storage) and is sent only to this daemon.'));
  show('login', h('h1', {}, 'Log in'), form);
  input.focus();
}

// ---- runs ---------------------------------------------------------------

async function runsPage() {
  await poll(async () => {
    const runs = await api('/v1/runs');
    runs.sort((a, b) => b.submitted_at - a.submitted_at);
    show('runs', h('h1', {}, 'Runs'), runs.length === 0 ? h('p', {}, 'No runs yet.') : table(
      ['run', 'name', 'status', 'tasks completed ', 'tokens spent ', 'budget ', 'submitted'],
      runs.map((run) => h('tr', {},
        h('td', {}, h('a', { href: `#/runs/${encodeURIComponent(run.id)}` }, run.id)),
        h('td', {}, run.name),
        h('td', {}, run.status, run.reason ? ` (${run.reason})` : ''),
        num(`${run.tasks.completed} / ${run.tasks.total}`),
        num(run.tokens.spent), num(run.tokens.total),
        h('td', {}, time(run.submitted_at)))),
    ));
  }, 5000);
}

// A master's share done: ended tasks count whole, running ones by progress
// (what `cortex run watch` draws).
function masterProgress(tasks) {
  if (tasks.length === 0) return 1;
  let done = 0;
  for (const task of tasks) {
    if (ENDED.includes(task.state) || ['budget_exceeded', 'timed_out'].includes(task.state)) done += 1;
    else if (task.state === 'running') {
      const attempt = task.attempts[task.attempts.length - 1];
      done += attempt ? Math.min(attempt.progress || 0, 100) / 100 : 0;
    }
  }
  return done / tasks.length;
}

// The colour of one attempt in the workers grid.
function attemptState(attempt) {
  if (attempt.end === 'completed') return 'completed';
  if (attempt.end) return 'failed';
  return attempt.launched_at ? 'running' : 'pending';
}

async function runPage(id) {
  const path = `/v1/runs/${encodeURIComponent(id)}`;
  // Latest activity per master from the live stream (worker.activity).
  const activity = {};
  let run = await api(path);
  let report = null;
  let logs = null;
  let stream = null;
  let refreshing = null;
  // Events read from the stream (shown for people and checked by the tests).
  let eventsSeen = 0;

  const refresh = async () => {
    run = await api(path);
    if (ENDED.includes(run.status) && report === null) {
      report = await (await request(`${path}/report?format=md`)).text();
    }
    draw();
  };
  // Events come in bursts; the page redraws from the state at most every
  // half second instead of folding every event itself.
  const soon = () => {
    if (!refreshing) refreshing = setTimeout(() => { refreshing = null; refresh().catch((e) => say(e.message)); }, 500);
  };
  const act = async (label, url, body) => {
    try {
      await api(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body || {}) });
      say(`${label}: done`);
      await refresh();
    } catch (e) {
      say(`${label} refused: ${e.message}`);
    }
  };

  function draw() {
    const tasksOf = {};
    for (const master of Object.keys(run.ledger.masters)) tasksOf[master] = [];
    for (const task of run.tasks) (tasksOf[task.master] = tasksOf[task.master] || []).push(task);
    const ended = run.tasks.filter((t) => !['pending', 'running', 'blocked'].includes(t.state)).length;
    const ledger = run.ledger;

    const masters = Object.entries(tasksOf).map(([master, tasks]) => {
      const percent = Math.round(masterProgress(tasks) * 100);
      const latest = tasks.flatMap((t) => t.attempts.map((a) => ({ t, a })))
        .sort((x, y) => (y.a.started_at || 0) - (x.a.started_at || 0))[0];
      const text = activity[master]
        || (latest && latest.a.message)
        || `${tasks.filter((t) => t.state === 'completed').length}/${tasks.length} tasks completed`;
      const bar = h('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': percent, 'aria-label': `${master}-master` }, h('span'));
      bar.firstChild.style.width = `${percent}%`; // CSSOM, allowed by the CSP (inline style attributes are not)
      return h('div', { class: 'master', 'data-master': master, 'data-percent': percent },
        h('strong', {}, `${master}-master`), bar, h('span', { class: 'num' }, `${percent}%`),
        h('span', { class: 'activity' }, text));
    });

    // Workers per node: one cell per attempt, coloured by its state; tasks
    // not placed yet wait in their own row.
    const nodes = {};
    for (const node of Object.keys(run.nodes || {})) nodes[node] = [];
    for (const task of run.tasks) {
      for (const attempt of task.attempts) (nodes[attempt.node] = nodes[attempt.node] || []).push({ task, attempt });
    }
    const unplaced = run.tasks.filter((t) => t.attempts.length === 0 && ['pending', 'blocked'].includes(t.state));
    const cell = (state, label) => h('span', { class: `cell ${state}`, title: label, role: 'img', 'aria-label': label });
    const gridRows = Object.keys(nodes).sort().map((node) => {
      const counts = { completed: 0, running: 0, failed: 0, pending: 0 };
      const cells = nodes[node].map(({ task, attempt }) => {
        const state = attemptState(attempt);
        counts[state] += 1;
        return cell(state, `${task.id}#${attempt.number} ${state}`);
      });
      return h('div', { class: 'grid-row', 'data-node': node },
        h('div', {}, h('strong', {}, node), h('div', { class: 'muted' },
          `${counts.completed} ok · ${counts.running} running · ${counts.failed} failed · ${counts.pending} pending`)),
        h('div', { class: 'cells' }, cells));
    });
    if (unplaced.length > 0) {
      gridRows.push(h('div', { class: 'grid-row', 'data-node': '' }, h('strong', {}, 'not placed yet'),
        h('div', { class: 'cells' }, unplaced.map((t) => cell('pending', `${t.id} ${t.state}`)))));
    }

    const escalations = (run.escalations || []).map((e) => {
      const open = !e.resolution;
      const amount = h('input', { type: 'number', min: 1, value: 5000, 'aria-label': `tokens to grant for ${e.id}`, id: `grant-${e.id}` });
      const resolve = (action) => act(`resolve ${e.id}`, `/v1/escalations/${encodeURIComponent(e.id)}/resolve`, action);
      return h('tr', { 'data-escalation-task': e.task },
        h('td', {}, e.id), h('td', {}, e.task), h('td', {}, JSON.stringify(e.kind)), h('td', {}, time(e.raised_at)),
        h('td', {}, open ? h('span', {},
          amount, ' ',
          h('button', { type: 'button', 'data-action': 'grant_reserve', onclick: () => resolve({ action: 'grant_reserve', amount: Number(amount.value) }) }, 'Grant reserve'), ' ',
          h('button', { type: 'button', 'data-action': 'retry', onclick: () => resolve({ action: 'retry' }) }, 'Retry'), ' ',
          h('button', { type: 'button', 'data-action': 'cancel', onclick: () => resolve({ action: 'cancel' }) }, 'Cancel task'))
          : `${JSON.stringify(e.resolution)} at ${time(e.resolved_at)}`));
    });

    const tasks = run.tasks.map((task) => {
      const last = task.attempts[task.attempts.length - 1];
      const waiting = task.approval_required && !task.approved && !ENDED.includes(task.state);
      return h('tr', {},
        h('td', {}, task.id), h('td', {}, task.master), h('td', {}, task.phase || ''),
        h('td', {}, h('span', { class: `state ${attemptStateOfTask(task.state)}` }, task.state), task.reason ? ` ${task.reason}` : ''),
        num(task.attempts.length), h('td', {}, last ? last.node : ''), num(`${task.tokens_spent} / ${task.budget}`),
        h('td', {},
          waiting ? h('button', { type: 'button', 'data-approve': task.id, onclick: () => act(`approve ${task.id}`, `${path}/tasks/${encodeURIComponent(task.id)}/approve`) }, 'Approve') : null,
          task.attempts.length > 0 ? h('button', { type: 'button', id: `logs-${task.id}`, onclick: () => showLogs(task.id) }, 'Logs') : null));
    });

    show('run',
      h('h1', {}, `Run ${run.name} `, h('span', { class: 'muted' }, run.id)),
      h('div', { class: 'summary', id: 'run-summary', 'data-status': run.status },
        h('span', {}, 'status ', h('strong', {}, run.status), run.reason ? ` (${run.reason})` : ''),
        h('span', {}, `${ended}/${run.tasks.length} tasks ended`),
        h('span', {}, `tokens ${ledger.spent} spent + ${ledger.reserved} reserved of ${ledger.total}`),
        h('span', {}, `reserve ${ledger.emergency_reserve_left} of ${ledger.emergency_reserve} left`),
        h('span', { class: 'muted', id: 'live', 'data-events': eventsSeen },
          `${stream ? 'live' : (ENDED.includes(run.status) ? 'ended' : 'reconnecting')}, ${eventsSeen} events streamed`)),
      h('h2', {}, 'Masters'), h('div', { id: 'masters' }, masters),
      h('h2', {}, 'Workers per node'),
      h('div', { class: 'legend' }, ['completed', 'running', 'failed', 'pending'].map((st) => h('span', {}, cell(st, st), ` ${st}`))),
      h('div', { id: 'workers' }, gridRows),
      h('h2', {}, 'Ledger'),
      table(['master', 'limit ', 'used ', 'reserved ', 'remaining ', 'overrun '],
        Object.entries(ledger.masters).map(([master, m]) => h('tr', {},
          h('td', {}, master), num(m.allocation + m.granted + m.moved_in - m.moved_out), num(m.spent), num(m.reserved), num(m.available), num(m.overrun)))),
      h('h2', {}, 'Escalations'),
      escalations.length ? table(['id', 'task', 'kind', 'raised', 'resolution (operator)'], escalations) : h('p', { class: 'muted' }, 'None.'),
      h('h2', {}, 'Tasks'),
      table(['task', 'master', 'phase', 'state', 'attempts ', 'node', 'tokens ', ''], tasks),
      logs ? h('section', { 'aria-label': 'logs', id: 'logs' }, h('h2', {}, `Logs of ${logs.task}`), h('pre', {}, logs.text)) : null,
      report ? h('section', {}, h('h2', {}, 'Final report'), h('pre', { id: 'report' }, report)) : null);
  }

  async function showLogs(task) {
    const text = await (await request(`${path}/tasks/${encodeURIComponent(task)}/logs?format=text`)).text();
    logs = { task, text: text || '(nothing printed)' };
    draw();
  }

  // Follows the run's SSE stream until it ends or the page is left. Any
  // replicated event triggers a redraw from the state; worker.activity only
  // updates the master's activity line.
  async function follow() {
    const abort = new AbortController();
    leave = () => { abort.abort(); clearTimeout(refreshing); };
    let lastId = null;
    for (let failures = 0; failures < 30 && !ENDED.includes(run.status); failures += 1) {
      try {
        const response = await request(`${path}/events${lastId ? `?after=${encodeURIComponent(lastId)}` : ''}`,
          { signal: abort.signal, headers: { Accept: 'text/event-stream' } });
        stream = true;
        draw();
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          // SSE frames end with a blank line; fields are `name: value` lines.
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = frame.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
            const idLine = frame.split('\n').find((l) => l.startsWith('id:'));
            if (idLine) lastId = idLine.slice(3).trim();
            if (!data) continue;
            const event = JSON.parse(data);
            eventsSeen += 1;
            if (event.type === 'worker.activity') {
              const task = run.tasks.find((t) => t.id === event.task);
              if (task && event.message) activity[task.master] = event.message;
            }
            soon();
          }
        }
        failures = 0;
      } catch (e) {
        if (abort.signal.aborted) return;
        say(`Stream interrupted (${e.message}), reconnecting`);
      }
      stream = false;
      await refresh();
      if (!ENDED.includes(run.status)) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  const page = onScreen;
  await refresh();
  // Follow only if the user is still on this page (follow sets `leave`).
  if (!ENDED.includes(run.status) && page === onScreen) follow();
}

// Task states share the attempts' colours.
function attemptStateOfTask(state) {
  if (state === 'completed') return 'completed';
  if (state === 'running') return 'running';
  if (state === 'pending' || state === 'blocked') return 'pending';
  return 'failed';
}

// ---- cluster ------------------------------------------------------------

async function clusterPage() {
  await poll(async () => {
    const c = await api('/v1/cluster');
    show('cluster',
      h('h1', {}, 'Cluster'),
      h('div', { class: 'summary' },
        h('span', {}, 'leader ', h('strong', { id: 'leader' }, c.leader === null ? 'none' : `voter ${c.leader}`)),
        h('span', {}, `term ${c.term}`), h('span', {}, `applied ${c.last_applied}`),
        h('span', { class: 'muted' }, `answered by voter ${c.node_id}`)),
      h('h2', {}, 'Voters'),
      table(['id', 'role', 'reachable', 'raft', 'api', 'term ', 'applied ', 'log '],
        c.nodes.map((n) => h('tr', {}, h('td', {}, n.id), h('td', {}, n.role), h('td', {}, n.reachable ? 'yes' : 'NO'),
          h('td', {}, n.raft_addr), h('td', {}, n.api_addr || ''), num(n.term ?? ''), num(n.last_applied ?? ''), num(n.last_log_index ?? '')))),
      h('h2', {}, 'Master leases'),
      // Expiry in cluster time, shown as a clock time: the browser's clock
      // need not agree with the cluster's, so no countdown is computed.
      table(['role', 'holder', 'epoch ', 'expires at'],
        (c.leases || []).map((l) => h('tr', {}, h('td', {}, `${l.role}-master`), h('td', {}, l.holder === null || l.holder === undefined ? 'none' : `voter ${l.holder}`),
          num(l.epoch), h('td', {}, time(l.expires_at))))),
      h('h2', {}, 'Nodes'),
      table(['node', 'health', 'voter', 'running ', 'capacity ', 'last heartbeat'],
        (c.executors || []).map((e) => h('tr', { 'data-executor': e.name }, h('td', {}, e.name),
          h('td', {}, h('span', { class: `state ${e.status === 'alive' ? 'completed' : 'failed'}` }, e.status)),
          h('td', {}, e.voter ?? ''), num(e.running), num(e.capacity), h('td', {}, time(e.last_heartbeat))))));
  }, 2000);
}

// ---- catalog ------------------------------------------------------------

const ASSET_FIELDS = 'id name type source owner namespace health { status }';

async function catalogPage(params) {
  const q = params.get('q') || '';
  const type = params.get('type') || '';
  const stats = await graphql('{ stats { total byType { key count } } }');
  const data = q
    ? { list: await graphql(`query($q: String!, $t: AssetType) { search(query: $q, type: $t, first: 50) { ${ASSET_FIELDS} } }`,
      { q, t: type || null }).then((d) => d.search) }
    : { list: await graphql(`query($t: AssetType) { assets(type: $t, first: 50) { nodes { ${ASSET_FIELDS} } } }`,
      { t: type || null }).then((d) => d.assets.nodes) };
  const input = h('input', { id: 'q', name: 'q', type: 'search', value: q, placeholder: 'words, prefix*' });
  const select = h('select', { id: 'type', name: 'type' }, h('option', { value: '' }, 'any type'),
    stats.stats.byType.map((t) => h('option', { value: t.key, selected: t.key === type }, `${t.key} (${t.count})`)));
  const form = h('form', {
    class: 'search',
    role: 'search',
    onsubmit: (event) => {
      event.preventDefault();
      const next = new URLSearchParams();
      if (input.value) next.set('q', input.value);
      if (select.value) next.set('type', select.value);
      location.hash = `#/catalog?${next}`;
    },
  }, h('label', {}, 'Search', input), h('label', {}, 'Type', select), h('button', { type: 'submit' }, 'Search'));
  show('catalog',
    h('h1', {}, 'Catalog ', h('span', { class: 'muted' }, `${stats.stats.total} assets`)),
    form,
    h('h2', {}, q ? `Results for “${q}”` : 'Assets'),
    data.list.length === 0 ? h('p', {}, 'Nothing found.') : table(['name', 'type', 'id', 'source', 'health'],
      data.list.map((a) => h('tr', { class: 'result', 'data-type': a.type },
        h('td', {}, h('a', { href: `#/assets/${encodeURIComponent(a.id)}` }, a.name)), h('td', {}, a.type),
        h('td', { class: 'muted' }, a.id), h('td', {}, a.source), h('td', {}, a.health.status)))));
  if (!q) input.focus();
}

async function assetPage(id, params) {
  const depth = Math.min(Math.max(Number(params.get('depth')) || 1, 1), 10);
  const direction = ['UPSTREAM', 'DOWNSTREAM', 'BOTH'].includes(params.get('direction')) ? params.get('direction') : 'BOTH';
  const d = await graphql(`query($id: ID!, $depth: Int!, $dir: Direction!) {
    asset(id: $id) { ${ASSET_FIELDS} tags metadata health { message checkedAt } discoveredAt discoveredBy updatedAt updatedBy lastSeenAt version
      history(first: 20) { version at by kind diffs { field before after } } }
    lineage(id: $id, direction: $dir, depth: $depth) { nodes { degree asset { id name type } } edges { from to type } truncated } }`,
  { id, depth, dir: direction });
  const a = d.asset;
  if (!a) {
    show('asset', h('h1', {}, 'No such asset'), h('p', {}, id));
    return;
  }
  const go = (next) => {
    location.hash = `#/assets/${encodeURIComponent(id)}?depth=${next.depth ?? depth}&direction=${next.direction ?? direction}`;
  };
  const depthSelect = h('select', { id: 'depth', onchange: (e) => go({ depth: e.target.value }) },
    [1, 2, 3, 4, 5].map((n) => h('option', { value: n, selected: n === depth }, n)));
  const dirSelect = h('select', { id: 'direction', onchange: (e) => go({ direction: e.target.value }) },
    ['BOTH', 'UPSTREAM', 'DOWNSTREAM'].map((v) => h('option', { value: v, selected: v === direction }, v.toLowerCase())));
  const fields = [['type', a.type], ['source', a.source], ['owner', a.owner], ['namespace', a.namespace],
    ['tags', a.tags.join(', ')], ['health', `${a.health.status}${a.health.message ? ` – ${a.health.message}` : ''}`],
    ['version', a.version], ['discovered', `${a.discoveredAt} by ${a.discoveredBy}`],
    ['updated', `${a.updatedAt} by ${a.updatedBy}`], ['last seen', a.lastSeenAt]];
  const names = Object.fromEntries(d.lineage.nodes.map((n) => [n.asset.id, n.asset.name]));
  show('asset',
    h('p', {}, h('a', { href: '#/catalog' }, '← Catalog')),
    h('h1', {}, a.name, ' ', h('span', { class: 'muted' }, a.id)),
    table(['field', 'value'], fields.filter(([, v]) => v !== null && v !== '').map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v)))),
    h('h2', {}, 'Metadata'), h('pre', {}, JSON.stringify(a.metadata, null, 2)),
    h('h2', {}, 'Lineage'),
    h('form', { class: 'search', onsubmit: (e) => e.preventDefault() },
      h('label', {}, 'Depth', depthSelect), h('label', {}, 'Direction', dirSelect)),
    lineageSvg(id, d.lineage),
    d.lineage.truncated ? h('p', { class: 'muted' }, 'The walk stopped at its node limit.') : null,
    h('ul', { class: 'edges', id: 'edges' }, d.lineage.edges.map((e) => h('li', { class: 'edge-item' },
      h('a', { href: `#/assets/${encodeURIComponent(e.from)}` }, names[e.from] || e.from), ` —${e.type}→ `,
      h('a', { href: `#/assets/${encodeURIComponent(e.to)}` }, names[e.to] || e.to)))),
    h('h2', {}, 'History'),
    table(['version ', 'when', 'who', 'kind', 'changes'], a.history.map((v) => h('tr', {}, num(v.version), h('td', {}, v.at), h('td', {}, v.by), h('td', {}, v.kind),
      h('td', {}, v.diffs.map((diff) => h('div', {}, `${diff.field}: ${diff.before} → ${diff.after}`)))))));
}

// The lineage as an SVG: one column per degree (the asset itself first),
// an arrow per relation from the declaring asset to its target.
function lineageSvg(rootId, lineage) {
  const W = 220; const H = 26; const GAP_X = 90; const GAP_Y = 10;
  const columns = [];
  const at = {};
  for (const n of lineage.nodes) {
    const col = (columns[n.degree] = columns[n.degree] || []);
    at[n.asset.id] = { x: 10 + n.degree * (W + GAP_X), y: 10 + col.length * (H + GAP_Y) };
    col.push(n.asset);
  }
  const width = 20 + columns.length * W + (columns.length - 1) * GAP_X;
  const height = 20 + Math.max(...columns.map((c) => c.length)) * (H + GAP_Y);
  const cut = (text) => (text.length > 32 ? `${text.slice(0, 31)}…` : text);
  const edges = lineage.edges.filter((e) => at[e.from] && at[e.to]).map((e) => {
    const [from, to] = [at[e.from], at[e.to]];
    // Leave and enter boxes on the side facing the other end.
    const right = to.x >= from.x;
    const x1 = right ? from.x + W : from.x; const x2 = right ? to.x : to.x + W;
    return s('line', { class: 'edge', x1, y1: from.y + H / 2, x2: x2 === x1 ? x2 + 1 : x2, y2: to.y + H / 2, 'marker-end': 'url(#arrow)' },
      s('title', {}, `${e.from} ${e.type} ${e.to}`));
  });
  const boxes = lineage.nodes.map((n) => {
    const p = at[n.asset.id];
    return s('a', { href: `#/assets/${encodeURIComponent(n.asset.id)}`, class: 'node' },
      s('title', {}, `${n.asset.type} ${n.asset.id}`),
      s('rect', { x: p.x, y: p.y, width: W, height: H, rx: 4, class: n.asset.id === rootId ? 'root' : null }),
      s('text', { x: p.x + 6, y: p.y + 17 }, cut(`${n.asset.type}: ${n.asset.name}`)));
  });
  return s('svg', { class: 'lineage', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': `lineage: ${lineage.nodes.length} assets, ${lineage.edges.length} relations` },
    s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      s('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#8c959f' }))),
    edges, boxes);
}

// ---- start --------------------------------------------------------------

document.getElementById('logout').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  location.hash = '#/login';
});
window.addEventListener('hashchange', route);
route();
