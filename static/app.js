// Parlor admin page. Plain JavaScript, no build step, no other host: everything it shows and
// changes goes through the native API (/parlor/v1) with the session cookie set at sign-in.
// Changes send the session's CSRF token; the page's own refreshes say they are background
// requests so that they do not keep an unattended session alive.
// Views change as the server's event stream tells them; polling is only the fallback while the
// stream is down.
'use strict';

const API = '/parlor/v1';
const POLL_MS = 4000;
// A burst of events (a busy conversation, a read of many messages) costs one refresh.
const COALESCE_MS = 200;
// With the stream up nothing else asks the server, so the session is checked this often to
// still take an unattended screen to the sign-in form soon after the session ends.
const SESSION_CHECK_MS = 60000;
// A stream the server refused (not one that dropped: EventSource retries those itself) is
// tried again after this long, the poll standing in meanwhile.
const REOPEN_MS = 15000;
const EVENT_TYPES = [
  'message.created', 'message.updated', 'message.deleted', 'message.read', 'conversation.read',
  'conversation.created', 'conversation.updated', 'conversation.archived', 'conversation.deleted',
  'participant.added', 'participant.removed',
];
// Events that change read state and nothing else a list row shows but the counts they carry.
const READ_EVENTS = new Set(['message.read', 'conversation.read']);

const state = {
  session: null,    // the GET /session answer
  tenant: null,     // the tenant id the page works in
  poll: null,       // the current view's refresh, if it has one
  live: null,       // the current view's handler of one event, if it has one
  view: 0,          // bumps on every navigation, so late answers of an old view are dropped
  stream: null,     // the EventSource while signed in
  streamOpen: false,
  reopen: null,     // the timer that tries a refused stream again
};

// How many fallback refreshes have run: the browser test reads it to prove that a change came
// over the stream, not by polling.
window.parlorPollCount = 0;

// ---------- small helpers ----------

const $ = (sel) => document.querySelector(sel);

/** An element: h('a', {href: '#x'}, 'text', child...). Text is always text, never HTML. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : '—';
}

function say(text, isError) {
  const box = $('#status');
  box.replaceChildren(text ? h('p', { class: isError ? 'error' : '' }, text) : '');
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

/** One call to the native API. `etag` makes it conditional; a 304 answers {notModified}. */
async function api(method, path, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && state.session) headers['X-Parlor-CSRF'] = state.session.csrf_token;
  if (state.session && state.session.server_admin && state.tenant && !opts.noTenant) {
    headers['X-Parlor-Tenant'] = String(state.tenant);
  }
  if (opts.background) headers['X-Parlor-Background'] = '1';
  if (opts.etag) headers['If-None-Match'] = opts.etag;
  const res = await fetch(API + path, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  if (res.status === 304) return { notModified: true };
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (res.status === 401 && state.session && !opts.signingIn) {
    signedOut('You were signed out (the session ended or was idle too long). Sign in again.');
    throw new ApiError(401, 'signed out');
  }
  if (!res.ok) {
    const msg = data && data.error ? data.error.message : `HTTP ${res.status}`;
    throw new ApiError(res.status, msg);
  }
  return { data, etag: res.headers.get('ETag') };
}

/** Runs a user action: reports its error in the status line instead of throwing. */
async function act(fn, done) {
  try {
    await fn();
    if (done) say(done);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) say(e.message, true);
  }
}

function formValues(form) {
  return Object.fromEntries(new FormData(form).entries());
}

function field(id, labelText, input) {
  input.id = id;
  return h('div', {}, h('label', { for: id }, labelText), input);
}

// ---------- sign-in and sign-out ----------

function showSignIn(message) {
  closeStream();
  state.session = null;
  state.poll = null;
  state.live = null;
  $('#nav').hidden = true;
  $('#who-box').hidden = true;
  $('#main').replaceChildren();
  $('#signin').hidden = false;
  const m = $('#signin-message');
  m.hidden = !message;
  m.textContent = message || '';
  $('#signin-username').focus();
}

function signedOut(message) {
  say('');
  showSignIn(message);
}

async function signIn(body) {
  try {
    const { data } = await api('POST', '/session', { body, signingIn: true });
    $('#signin-user-form').reset();
    $('#signin-token-form').reset();
    await started(data);
  } catch (e) {
    $('#signin-message').hidden = false;
    $('#signin-message').textContent = e.message;
  }
}

async function started(session) {
  if (!session.server_admin && session.role !== 'admin') {
    // Staff and patients have the clinic's app; the session stays theirs for it (the same
    // browser may have the app open), so it is not signed out here.
    showSignIn(`You are signed in as ${session.user.display_name} (${session.role}). This page is for the clinic's administrators: staff and patients use the clinic's app.`);
    $('#signin-message').append(' ', h('a', { href: '/app', id: 'signin-app-link' }, 'Open the app at /app'));
    return;
  }
  state.session = session;
  $('#signin').hidden = true;
  $('#nav').hidden = false;
  $('#who-box').hidden = false;
  for (const el of document.querySelectorAll('[data-server-admin]')) el.hidden = !session.server_admin;
  if (session.server_admin) {
    $('#who').textContent = 'Server administrator';
    showBackupStatus();
    const { data } = await api('GET', '/tenants', { noTenant: true });
    const select = $('#tenant-select');
    select.replaceChildren(...data.data.map((t) => h('option', { value: t.id }, `${t.name} (${t.id})`)));
    const kept = Number(sessionStorage.getItem('parlor-tenant'));
    state.tenant = data.data.some((t) => t.id === kept) ? kept : (data.data[0] || {}).id || null;
    if (state.tenant) select.value = String(state.tenant);
  } else {
    state.tenant = session.user.tenant_id;
    $('#who').textContent = `${session.user.display_name} (tenant ${session.user.tenant_id})`;
  }
  openStream();
  if (!location.hash || location.hash === '#') location.hash = '#inbox';
  else route();
}

async function signOut() {
  await act(async () => {
    await api('DELETE', '/session');
    signedOut('You have signed out.');
  });
}

// ---------- routing and polling ----------

const VIEWS = {
  inbox: inboxView,
  conversation: conversationView,
  users: usersView,
  'api-keys': apiKeysView,
  retention: retentionView,
  'stand-in': standInView,
  tenants: tenantsView,
  audit: auditView,
  webhooks: webhooksView,
};

function route() {
  if (!state.session) return;
  const [name, arg, extra] = location.hash.slice(1).split('?')[0].split('/');
  const view = VIEWS[name] || inboxView;
  for (const a of document.querySelectorAll('#nav a')) {
    const current = a.getAttribute('href') === `#${name}` || (name === 'conversation' && a.getAttribute('href') === '#inbox');
    if (current) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  state.view += 1;
  state.poll = null;
  state.live = null;
  say('');
  const main = $('#main');
  main.replaceChildren();
  if (!state.tenant && name !== 'tenants') {
    main.append(h('p', {}, 'There is no tenant yet. ', h('a', { href: '#tenants' }, 'Create one.')));
    return;
  }
  view(main, arg, state.view, extra).catch((e) => {
    if (!(e instanceof ApiError && e.status === 401)) say(e.message, true);
  });
}

function stillShowing(viewId) {
  return state.view === viewId && state.session;
}

let lastSessionCheck = 0;

setInterval(() => {
  if (!state.session || document.visibilityState === 'hidden') return;
  if (state.streamOpen) {
    if (Date.now() - lastSessionCheck >= SESSION_CHECK_MS) {
      lastSessionCheck = Date.now();
      api('GET', '/session', { background: true }).catch(() => {});
    }
    return;
  }
  if (state.poll) {
    window.parlorPollCount += 1;
    state.poll().catch(() => {});
  }
}, POLL_MS);

// ---------- live updates ----------
// One EventSource while signed in (the session cookie authenticates it). A dropped stream is
// reconnected by EventSource itself, which resends Last-Event-ID so that nothing is missed;
// meanwhile the poll runs.

function showLive(how) {
  const words = {
    live: 'Live',
    connecting: 'Connecting…',
    reconnecting: 'Reconnecting… (refreshing every few seconds)',
    polling: 'Refreshing every few seconds',
  };
  const box = $('#live');
  box.dataset.state = how;
  box.textContent = words[how] || '';
  box.hidden = !words[how];
}

function openStream() {
  closeStream();
  if (!state.session || typeof EventSource !== 'function'
      || (state.session.server_admin && !state.tenant)) {
    showLive(state.session ? 'polling' : 'off');
    return;
  }
  // The server admin names the tenant; EventSource cannot send X-Parlor-Tenant, so it goes in
  // the query.
  const query = state.session.server_admin ? `?tenant=${encodeURIComponent(state.tenant)}` : '';
  const source = new EventSource(`${API}/events${query}`);
  state.stream = source;
  showLive('connecting');
  source.onopen = async () => {
    if (state.stream !== source) return;
    state.streamOpen = true;
    // A new stream starts with the next change (a resumed one replays, but the poll may have
    // stopped short of it): the view reads once, and is live from then on.
    await refreshSoon();
    if (state.stream === source && state.streamOpen) showLive('live');
  };
  source.onerror = () => {
    if (state.stream !== source) return;
    state.streamOpen = false;
    if (source.readyState !== EventSource.CLOSED) {
      showLive('reconnecting');
      return;
    }
    // Refused outright (a 401 once the session ended, or another error answer), which
    // EventSource does not retry: the poll runs, and finds out about a 401; the stream is tried
    // again later.
    state.stream = null;
    showLive('polling');
    state.reopen = setTimeout(() => { if (state.session) openStream(); }, REOPEN_MS);
  };
  for (const type of EVENT_TYPES) {
    source.addEventListener(type, (e) => {
      if (state.stream !== source || !state.live) return;
      let change;
      try { change = JSON.parse(e.data); } catch (err) { return; }
      state.live(change);
    });
  }
  // The events after our last id are gone: read the view again.
  source.addEventListener('reset', () => { if (state.stream === source) refreshSoon(); });
}

function closeStream() {
  clearTimeout(state.reopen);
  state.reopen = null;
  if (state.stream) state.stream.close();
  state.stream = null;
  state.streamOpen = false;
  showLive('off');
}

const refresher = { timer: null, running: false, waiting: [] };

/** The current view reads again, once for all the events of the next COALESCE_MS, and never
 *  two reads at a time (their answers could land out of order). Resolves once a read that
 *  started after the call is done. */
function refreshSoon() {
  return new Promise((done) => {
    refresher.waiting.push(done);
    if (!refresher.running && !refresher.timer) refresher.timer = setTimeout(runRefresh, COALESCE_MS);
  });
}

async function runRefresh() {
  refresher.timer = null;
  // A hidden page reads when it is shown again (visibilitychange below), as the poll did.
  if (document.visibilityState === 'hidden') return;
  const waiting = refresher.waiting.splice(0);
  if (state.poll && state.session) {
    refresher.running = true;
    try {
      await state.poll();
    } catch (e) {
      // A failed background read changes nothing on the page; a 401 has already signed out.
    } finally {
      refresher.running = false;
    }
  }
  for (const done of waiting) done();
  // Events that came during the read get a read of their own.
  if (refresher.waiting.length && !refresher.timer) refresher.timer = setTimeout(runRefresh, COALESCE_MS);
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && refresher.waiting.length && !refresher.running && !refresher.timer) {
    refresher.timer = setTimeout(runRefresh, 0);
  }
});

// ---------- conversations: the inbox ----------

function displayName(conv) {
  if (conv.name) return conv.name;
  const names = conv.participants.map((p) => p.user.display_name);
  return names.length ? names.join(', ') : `Conversation ${conv.id}`;
}

async function inboxView(main, _arg, viewId) {
  const cursors = [null];   // the `before` of each page shown so far
  let search = '';
  let etag = null;
  const body = h('tbody');
  const pager = h('div', { class: 'pager' });
  const searchInput = h('input', { type: 'search', placeholder: 'a participant’s name or words of a message' });
  const messageHits = h('section', { id: 'message-search', 'aria-live': 'polite' });
  searchInput.value = sessionStorage.getItem('parlor-search') || '';
  search = searchInput.value;

  main.append(
    h('h1', {}, 'Conversations'),
    h('form', {
      class: 'inline', role: 'search',
      onsubmit: (e) => {
        e.preventDefault();
        search = searchInput.value.trim();
        sessionStorage.setItem('parlor-search', search);
        cursors.length = 1;
        etag = null;
        load(false);
        showMessageHits(messageHits, search, viewId).catch((e) => say(e.message, true));
      },
    }, field('inbox-search', 'Search conversations and messages', searchInput), h('button', { type: 'submit' }, 'Search')),
    h('div', { class: 'table-wrap' }, h('table', { id: 'inbox' },
      h('caption', { class: 'skip' }, 'Conversations, most recent activity first'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Conversation'), h('th', { scope: 'col' }, 'Last message'),
        h('th', { scope: 'col' }, 'Last activity'), h('th', { scope: 'col' }, 'Unread per participant'))),
      body)),
    pager,
    messageHits,
  );

  async function load(background) {
    const params = new URLSearchParams({ limit: '20' });
    const before = cursors[cursors.length - 1];
    if (before) params.set('before', before);
    if (search) params.set('q', search);
    const res = await api('GET', `/conversations?${params}`, { etag, background });
    if (!stillShowing(viewId) || res.notModified) return;
    etag = res.etag;
    render(res.data);
  }

  function render(list) {
    body.replaceChildren(...list.data.map((c) => {
      const senders = Object.fromEntries(c.participants.map((p) => [p.user.id, p.user.display_name]));
      const last = c.last_message;
      return h('tr', { dataset: { conversation: c.id } },
        h('td', {},
          h('a', { href: `#conversation/${c.id}`, dataset: { open: c.id } }, displayName(c)),
          c.status === 'archived' ? h('span', { class: 'tag' }, ' archived') : null,
          c.locked ? h('span', { class: 'tag' }, 'locked') : null),
        h('td', { class: 'preview' }, last ? `${senders[last.sender_id] || 'user ' + last.sender_id}: ${last.body.slice(0, 120)}` : '—'),
        h('td', {}, last ? when(last.created_at) : '—'),
        h('td', {}, c.participants.map((p) => h('span', { class: 'unread', dataset: { unreadUser: p.user.id } },
          `${p.user.display_name} `, unreadBadge(p.unread_count)))),
      );
    }));
    if (!list.data.length) body.append(h('tr', {}, h('td', { colspan: 4 }, search ? 'No conversation with such a participant.' : 'No conversations yet.')));
    pager.replaceChildren(
      cursors.length > 1 ? h('button', { type: 'button', class: 'secondary', onclick: () => { cursors.pop(); etag = null; load(false); } }, 'Newer') : '',
      list.next_cursor ? h('button', { type: 'button', class: 'secondary', onclick: () => { cursors.push(list.next_cursor); etag = null; load(false); } }, 'Older') : '',
    );
  }

  // The event carries every participant's count: the badges change at once; anything else the
  // row shows (last message, order, name, membership) comes from a coalesced read.
  function onChange(change) {
    const row = body.querySelector(`tr[data-conversation="${change.conversation_id}"]`);
    if (row) {
      for (const u of change.unread || []) {
        const badge = row.querySelector(`[data-unread-user="${u.user_id}"] .count`);
        if (badge) badge.replaceWith(unreadBadge(u.unread_count));
      }
      // The page no longer matches the last answer: the next read must not be a 304.
      etag = null;
    }
    if (!row || !READ_EVENTS.has(change.type)) refreshSoon();
  }

  await load(false);
  state.poll = () => load(true);
  state.live = onChange;
  if (search) await showMessageHits(messageHits, search, viewId);
}

function unreadBadge(n) {
  return h('span', { class: n ? 'count has' : 'count', 'aria-label': `${n} unread` }, n);
}

// ---------- one conversation ----------

async function conversationView(main, id, viewId, foundMessage) {
  let conv = null;
  let etag = null;
  const head = h('div');
  const people = h('div');
  const thread = h('ol', { class: 'thread', id: 'thread', 'aria-label': 'Messages, oldest first', tabindex: '0' });
  const foundContext = h('div');
  const sendAs = h('select', { required: true });
  const readAs = h('select', { required: true });
  const bodyInput = h('textarea', { required: true, maxlength: '10000' });
  const files = filePicker('send-files');
  // A message may be files alone.
  files.input.addEventListener('change', () => { bodyInput.required = !files.chosen(); });

  main.append(
    h('p', {}, h('a', { href: '#inbox' }, '← All conversations')),
    head,
    h('div', { class: 'columns' },
      h('div', {},
        foundContext,
        h('h2', {}, 'Messages'),
        thread,
        h('form', {
          id: 'send-form',
          onsubmit: (e) => {
            e.preventDefault();
            act(async () => {
              const as = Number(sendAs.value);
              const ids = await files.upload(id, as);
              await api('POST', `/conversations/${id}/messages`, { body: { as, body: bodyInput.value, attachment_ids: ids } });
              bodyInput.value = '';
              files.clear();
              bodyInput.required = true;
              etag = null;
              await refresh(false);
            }, 'Message sent.');
          },
        },
        h('h3', {}, 'Send a message'),
        field('send-as', 'Send as', sendAs),
        field('send-body', 'Message', bodyInput),
        files.field,
        h('p', {}, h('button', { type: 'submit', id: 'send-submit' }, 'Send')))),
      h('div', {},
        h('h2', {}, 'Participants'),
        people,
        h('form', {
          class: 'inline',
          onsubmit: (e) => {
            e.preventDefault();
            act(async () => {
              await api('POST', `/conversations/${id}/read`, { body: { as: Number(readAs.value) } });
              etag = null;
              await refresh(false);
            }, 'Marked read.');
          },
        }, field('read-as', 'Mark everything read as', readAs), h('button', { type: 'submit' }, 'Mark read')),
        h('h2', {}, 'Manage'),
        manageForms())),
  );

  function manageForms() {
    const nameInput = h('input', { maxlength: '200' });
    const change = (body, done) => act(async () => {
      await api('PATCH', `/conversations/${id}`, { body });
      await refresh(false);
    }, done);
    return h('div', {},
      h('form', {
        class: 'inline',
        onsubmit: (e) => { e.preventDefault(); change({ name: nameInput.value || null }, 'Renamed.'); },
      }, field('conv-name', 'Name', nameInput), h('button', { type: 'submit' }, 'Rename')),
      h('div', { class: 'inline' },
        h('button', { type: 'button', class: 'secondary', id: 'conv-archive', onclick: () => change({ archived: conv.status !== 'archived' }, 'Saved.') }, 'Archive'),
        h('button', { type: 'button', class: 'secondary', id: 'conv-lock', onclick: () => change({ locked: !conv.locked }, 'Saved.') }, 'Lock'),
        h('button', {
          type: 'button', class: 'danger',
          onclick: () => {
            if (!confirm('Delete this conversation for everyone?')) return;
            act(async () => {
              await api('DELETE', `/conversations/${id}`);
              location.hash = '#inbox';
            }, 'Conversation deleted.');
          },
        }, 'Delete')));
  }

  function renderConversation() {
    head.replaceChildren(
      h('h1', {}, displayName(conv)),
      h('p', {}, `Status: ${conv.status}${conv.locked ? ', locked' : ''} · ${conv.message_count} messages · id ${conv.id}, uuid ${conv.uuid}`));
    $('#conv-archive').textContent = conv.status === 'archived' ? 'Unarchive' : 'Archive';
    $('#conv-lock').textContent = conv.locked ? 'Unlock' : 'Lock';
    const nameBox = $('#conv-name');
    if (document.activeElement !== nameBox) nameBox.value = conv.name || '';
    people.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { id: 'participants' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Participant'), h('th', { scope: 'col' }, 'Role'),
        h('th', { scope: 'col' }, 'Unread'), h('th', { scope: 'col' }, 'Read up to'))),
      h('tbody', {}, conv.participants.map((p) => h('tr', { dataset: { user: p.user.id } },
        h('td', {}, `${p.user.display_name} (${p.user.id})`), h('td', {}, p.user.role),
        h('td', { class: 'unread-count' }, p.unread_count), h('td', {}, when(p.last_read_at))))))));
    for (const select of [sendAs, readAs]) {
      const kept = select.value;
      select.replaceChildren(...conv.participants.map((p) => h('option', { value: p.user.id }, `${p.user.display_name} (${p.user.role})`)));
      if (kept) select.value = kept;
    }
  }

  function renderThread(list) {
    const names = Object.fromEntries(conv.participants.map((p) => [p.user.id, p.user.display_name]));
    const atBottom = thread.scrollTop + thread.clientHeight >= thread.scrollHeight - 4;
    thread.replaceChildren(...list.data.map((m) => h('li', { dataset: { message: m.id } },
      h('div', { class: 'meta' }, `${names[m.sender_id] || 'user ' + m.sender_id} · ${when(m.created_at)}`),
      h('div', { class: 'body' }, m.body),
      renderFiles(m),
      h('div', { class: 'meta' }, m.read_by && m.read_by.length
        ? `Read by ${m.read_by.map((u) => names[u] || u).join(', ')}` : 'Not read by anyone else yet'))));
    if (!list.data.length) thread.append(h('li', {}, 'No messages yet.'));
    markFound(thread);
    if (atBottom) thread.scrollTop = thread.scrollHeight;
  }

  async function refresh(background) {
    const c = await api('GET', `/conversations/${id}`, { background });
    if (!stillShowing(viewId)) return;
    conv = c.data;
    renderConversation();
    const res = await api('GET', `/conversations/${id}/messages?limit=100`, { etag, background });
    if (!stillShowing(viewId) || res.notModified) return;
    etag = res.etag;
    renderThread(res.data);
  }

  // Only events about this conversation matter here; counts change at once, the thread and the
  // rest come from a coalesced read.
  function onChange(change) {
    if (!conv || change.conversation_id !== conv.id) return;
    if (change.type === 'conversation.deleted') {
      state.poll = null;
      state.live = null;
      main.replaceChildren(h('p', {}, 'This conversation was deleted. ', h('a', { href: '#inbox' }, 'All conversations')));
      return;
    }
    for (const u of change.unread || []) {
      const cell = people.querySelector(`tr[data-user="${u.user_id}"] .unread-count`);
      if (cell) cell.textContent = u.unread_count;
    }
    refreshSoon();
  }

  await refresh(false);
  thread.scrollTop = thread.scrollHeight;
  state.poll = () => refresh(true);
  state.live = onChange;
  if (foundMessage) await revealFoundMessage(thread, foundContext, id, foundMessage, viewId);
}

// ---------- users and their tokens ----------

const ROLES = ['patient', 'provider', 'staff', 'customer', 'agent', 'assistant', 'system', 'participant', 'admin'];

async function usersView(main, _arg, viewId) {
  const roleFilter = h('select', {}, h('option', { value: '' }, 'every role'), ROLES.map((r) => h('option', { value: r }, r)));
  const body = h('tbody');
  const pager = h('div', { class: 'pager' });
  const detail = h('div', { id: 'user-detail' });
  const cursors = [null];

  main.append(
    h('h1', {}, 'Users'),
    h('div', { class: 'inline' }, field('user-role-filter', 'Show', roleFilter)),
    h('div', { class: 'table-wrap' }, h('table', { id: 'users' },
      h('thead', {}, h('tr', {}, ['Id', 'Name', 'Role', 'Username', 'Password', ''].map((t) => h('th', { scope: 'col' }, t)))),
      body)),
    pager,
    detail,
    h('h2', {}, 'New user'),
    newUserForm(),
  );
  roleFilter.addEventListener('change', () => { cursors.length = 1; load(); });

  function newUserForm() {
    const role = h('select', { name: 'role' }, ROLES.map((r) => h('option', { value: r }, r)));
    return h('form', {
      class: 'inline',
      onsubmit: (e) => {
        e.preventDefault();
        const v = formValues(e.target);
        const body = { role: v.role, display_name: v.display_name };
        if (v.username) body.username = v.username;
        if (v.password) body.password = v.password;
        act(async () => {
          await api('POST', '/users', { body });
          e.target.reset();
          await load();
        }, 'User created.');
      },
    },
    field('new-user-role', 'Role', role),
    field('new-user-name', 'Display name', h('input', { name: 'display_name', required: true })),
    field('new-user-username', 'Username (optional)', h('input', { name: 'username', autocomplete: 'off' })),
    field('new-user-password', 'Password (optional)', h('input', { name: 'password', type: 'password', autocomplete: 'new-password' })),
    h('button', { type: 'submit' }, 'Create user'));
  }

  async function load() {
    const params = new URLSearchParams({ limit: '50' });
    if (roleFilter.value) params.set('role', roleFilter.value);
    const after = cursors[cursors.length - 1];
    if (after) params.set('after', after);
    const { data } = await api('GET', `/users?${params}`);
    if (!stillShowing(viewId)) return;
    body.replaceChildren(...data.data.map((u) => h('tr', { dataset: { user: u.id } },
      h('td', {}, u.id), h('td', {}, u.display_name), h('td', {}, u.role), h('td', {}, u.username || '—'),
      h('td', {}, u.has_password ? 'set' : '—'),
      h('td', {}, h('button', { type: 'button', class: 'secondary', onclick: () => showUser(u) }, `Manage ${u.display_name}`)))));
    pager.replaceChildren(
      cursors.length > 1 ? h('button', { type: 'button', class: 'secondary', onclick: () => { cursors.pop(); load(); } }, 'Previous') : '',
      data.next_cursor ? h('button', { type: 'button', class: 'secondary', onclick: () => { cursors.push(data.next_cursor); load(); } }, 'Next') : '');
  }

  async function showUser(u) {
    const tokens = h('tbody');
    const shown = h('div', { 'aria-live': 'polite' });
    const loadTokens = async () => {
      const { data } = await api('GET', `/users/${u.id}/tokens`);
      tokens.replaceChildren(...data.data.map((t) => h('tr', {},
        h('td', {}, t.id), h('td', {}, t.label || '—'), h('td', {}, t.abilities.join(', ')),
        h('td', {}, when(t.expires_at)), h('td', {}, t.revoked_at ? `revoked ${when(t.revoked_at)}` : 'live'),
        h('td', {}, t.revoked_at ? '' : h('button', {
          type: 'button', class: 'danger',
          onclick: () => act(async () => { await api('DELETE', `/tokens/${t.id}`); await loadTokens(); }, 'Token revoked.'),
        }, `Revoke token ${t.id}`)))));
      if (!data.data.length) tokens.append(h('tr', {}, h('td', { colspan: 6 }, 'No tokens.')));
    };
    detail.replaceChildren(
      h('h2', { tabindex: '-1', id: 'user-detail-title' }, `${u.display_name} (${u.role}, id ${u.id})`),
      accessReportButton(u),
      exportButtons(u),
      inviteLink(u),
      h('form', {
        class: 'inline',
        onsubmit: (e) => {
          e.preventDefault();
          const v = formValues(e.target);
          act(async () => { await api('PATCH', `/users/${u.id}`, { body: { password: v.password } }); e.target.reset(); await load(); }, 'Password set.');
        },
      }, field('user-password', 'New password', h('input', { name: 'password', type: 'password', required: true, autocomplete: 'new-password' })),
      h('button', { type: 'submit' }, 'Set password')),
      h('h3', {}, 'Tokens'),
      h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, ['Id', 'Label', 'Abilities', 'Expires', 'State', ''].map((t) => h('th', { scope: 'col' }, t)))), tokens)),
      h('form', {
        class: 'inline',
        onsubmit: (e) => {
          e.preventDefault();
          const v = formValues(e.target);
          const body = { abilities: v.abilities.split(',').map((a) => a.trim()).filter(Boolean) };
          if (v.label) body.label = v.label;
          if (v.expires) body.expires_in_minutes = Number(v.expires);
          act(async () => {
            const { data } = await api('POST', `/users/${u.id}/tokens`, { body });
            shown.replaceChildren(h('p', {}, 'The new token, shown only this once:'), h('p', { class: 'secret' }, data.token));
            e.target.reset();
            await loadTokens();
          }, 'Token issued.');
        },
      },
      field('token-abilities', 'Abilities (comma-separated)', h('input', { name: 'abilities', value: '*', required: true })),
      field('token-label', 'Label', h('input', { name: 'label' })),
      field('token-expires', 'Expires in minutes (empty: never)', h('input', { name: 'expires', type: 'number', min: '1' })),
      h('button', { type: 'submit' }, 'Issue token')),
      shown);
    $('#user-detail-title').focus();
    await loadTokens();
  }

  await load();
}

// ---------- invite and reset links ----------

/** "Invite link" (no password yet) or "Reset link": a one-time link for the user to set a
 * password in the clinic's app, shown once with its expiry; whether one is outstanding. */
function inviteLink(u) {
  const kind = u.has_password ? 'Reset link' : 'Invite link';
  const box = h('div', { id: 'invite-box', 'aria-live': 'polite' });
  const status = h('p', { id: 'invite-state' });
  const section = h('section', { 'aria-labelledby': 'invite-title' },
    h('h3', { id: 'invite-title' }, 'Sign-in for the app'), status, box);
  if (!u.username) {
    status.textContent = 'Give this user a username first: an invite link lets them set a password for it.';
    return section;
  }
  const showState = async () => {
    const { data } = await api('GET', `/users/${u.id}/invites`, { background: true });
    status.textContent = data.outstanding
      ? `A link is outstanding until ${when(data.invite_expires_at)}; a new one replaces it.`
      : 'No link is outstanding.';
  };
  section.append(h('button', {
    type: 'button', id: 'invite-create', class: 'secondary',
    onclick: () => act(async () => {
      const { data } = await api('POST', `/users/${u.id}/invites`, { body: {} });
      const code = h('code', { class: 'secret', id: 'invite-url' }, data.url);
      box.replaceChildren(h('div', { class: 'secret-box' },
        h('p', { class: 'warning' }, `${data.purpose === 'reset' ? 'Password reset' : 'Invite'} link for ${u.display_name}, `,
          `shown only this once. It works once, until ${when(data.expires_at)}. Hand it over on paper or by the clinic's own e-mail.`),
        h('p', {}, code),
        h('div', { class: 'inline' },
          h('button', { type: 'button', id: 'invite-copy', onclick: () => act(() => copyText(code.textContent, code), 'Link copied.') }, 'Copy the link'),
          h('button', { type: 'button', class: 'secondary', onclick: () => box.replaceChildren() }, 'Hide the link'))));
      $('#invite-copy').focus();
      await showState();
    }, `${kind} made.`),
  }, kind));
  showState().catch(() => {});
  return section;
}

// ---------- patient export (right of access) ----------

/** "Export records": everything of one user's conversations, as JSON or a printable page. */
function exportButtons(u) {
  const button = (format, label) => h('button', {
    type: 'button', class: 'secondary', dataset: { export: format },
    onclick: () => act(() => downloadExport(u, format), `Records of ${u.display_name} downloaded.`),
  }, label);
  return h('div', { class: 'inline export' },
    h('span', {}, 'Export records:'),
    button('json', 'JSON'),
    button('html', 'Printable page (HTML)'));
}

/** Fetched rather than linked: the server admin's calls must carry X-Parlor-Tenant. */
async function downloadExport(u, format) {
  const headers = {};
  if (state.session && state.session.server_admin && state.tenant) headers['X-Parlor-Tenant'] = String(state.tenant);
  say(`Preparing the records of ${u.display_name}…`);
  const res = await fetch(`${API}/users/${u.id}/export?format=${format}`, { headers, credentials: 'same-origin', cache: 'no-store' });
  if (!res.ok) {
    const data = await res.json().catch(() => null);
    throw new ApiError(res.status, data && data.error ? data.error.message : `HTTP ${res.status}`);
  }
  const named = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '');
  const link = h('a', { href: URL.createObjectURL(await res.blob()), download: named ? named[1] : `records-${u.id}.${format}` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
}

// ---------- API keys ----------

async function apiKeysView(main, _arg, viewId) {
  const body = h('tbody');
  const shown = h('div', { 'aria-live': 'polite' });
  main.append(
    h('h1', {}, 'API keys'),
    h('p', {}, 'Vendor faces (MDLIVE, Trillet, Respondent) authenticate with a key and its secret.'),
    h('div', { class: 'table-wrap' }, h('table', { id: 'api-keys' },
      h('thead', {}, h('tr', {}, ['Id', 'Key', 'Label', 'Created', 'State', ''].map((t) => h('th', { scope: 'col' }, t)))), body)),
    h('h2', {}, 'New API key'),
    h('form', {
      class: 'inline',
      onsubmit: (e) => {
        e.preventDefault();
        const v = formValues(e.target);
        act(async () => {
          const { data } = await api('POST', '/api-keys', { body: v.label ? { label: v.label } : {} });
          shown.replaceChildren(h('p', {}, `Key ${data.key}; its secret, shown only this once:`), h('p', { class: 'secret' }, data.secret));
          e.target.reset();
          await load();
        }, 'API key created.');
      },
    }, field('api-key-label', 'Label', h('input', { name: 'label' })), h('button', { type: 'submit', id: 'api-key-create' }, 'Create API key')),
    shown);

  async function load() {
    const { data } = await api('GET', '/api-keys');
    if (!stillShowing(viewId)) return;
    body.replaceChildren(...data.data.map((k) => h('tr', {},
      h('td', {}, k.id), h('td', {}, h('code', {}, k.key)), h('td', {}, k.label || '—'), h('td', {}, when(k.created_at)),
      h('td', {}, k.revoked_at ? `revoked ${when(k.revoked_at)}` : 'live'),
      h('td', {}, k.revoked_at ? '' : h('button', {
        type: 'button', class: 'danger',
        onclick: () => act(async () => { await api('DELETE', `/api-keys/${k.id}`); await load(); }, 'API key revoked.'),
      }, `Revoke key ${k.key}`)))));
    if (!data.data.length) body.append(h('tr', {}, h('td', { colspan: 6 }, 'No API keys.')));
  }
  await load();
}

// ---------- retention and legal holds ----------

async function retentionView(main, _arg, viewId) {
  const policy = h('p', { id: 'retention-policy' });
  const lastRun = h('p', { id: 'retention-last-run' });
  const body = h('tbody');
  main.append(
    h('h1', {}, 'Retention'),
    h('p', {}, 'Messages older than the retention are removed for good by the daily sweep ',
      '(and by ', h('code', {}, 'parlor retention run'), '), with their reactions and read receipts. ',
      'A legal hold keeps everything it covers, whatever the retention.'),
    policy,
    lastRun,
    h('form', {
      class: 'inline',
      onsubmit: (e) => {
        e.preventDefault();
        const v = formValues(e.target).message_days.trim();
        const days = v === '' ? null : Number(v);
        act(async () => {
          await api('PUT', '/retention', { body: { message_days: days } });
          await load();
        }, days === null ? 'Messages are now kept forever.' : `Messages are now kept ${days} days.`);
      },
    }, field('retention-days', 'Keep messages (days; empty: forever)', h('input', { name: 'message_days', inputmode: 'numeric' })),
    h('button', { type: 'submit', id: 'retention-save' }, 'Save retention')),
    h('h2', {}, 'Legal holds'),
    h('div', { class: 'table-wrap' }, h('table', { id: 'legal-holds' },
      h('thead', {}, h('tr', {}, ['Id', 'On', 'Reason', 'Placed', 'State', ''].map((t) => h('th', { scope: 'col' }, t)))), body)),
    h('h2', {}, 'Place a legal hold'),
    h('form', {
      class: 'inline',
      onsubmit: (e) => {
        e.preventDefault();
        const v = formValues(e.target);
        const b = { reason: v.reason };
        const target = v.target.trim();
        b[v.kind] = /^\d+$/.test(target) ? Number(target) : target;
        act(async () => {
          await api('POST', '/legal-holds', { body: b });
          e.target.reset();
          await load();
        }, 'Legal hold placed.');
      },
    },
    field('hold-kind', 'On', h('select', { name: 'kind' },
      h('option', { value: 'conversation' }, 'a conversation'), h('option', { value: 'user' }, 'a patient (user)'))),
    field('hold-target', 'Its id', h('input', { name: 'target', required: true })),
    field('hold-reason', 'Reason', h('input', { name: 'reason', required: true })),
    h('button', { type: 'submit', id: 'hold-place' }, 'Place hold')));

  async function load() {
    const [{ data: p }, { data: holds }] = await Promise.all([api('GET', '/retention'), api('GET', '/legal-holds')]);
    if (!stillShowing(viewId)) return;
    policy.textContent = p.message_days === null
      ? 'Messages are kept forever (no retention set).'
      : `Messages are kept ${p.message_days} days.`;
    $('#retention-days').value = p.message_days === null ? '' : String(p.message_days);
    const r = p.last_run;
    lastRun.textContent = r
      ? `Last sweep ${when(r.at)}: ${r.messages_removed} message(s) removed from ${r.conversations_affected} conversation(s); ${r.messages_held} kept under legal hold.`
      : 'No sweep has removed anything here yet.';
    body.replaceChildren(...holds.data.map((x) => h('tr', {},
      h('td', {}, x.id),
      h('td', {}, x.conversation_id !== null ? `conversation ${x.conversation_id}` : `user ${x.user_id}`),
      h('td', {}, x.reason),
      h('td', {}, `${when(x.placed_at)} by ${x.placed_by === null ? 'the server admin' : `user ${x.placed_by}`}`),
      h('td', {}, x.active ? 'active' : `released ${when(x.released_at)}`),
      h('td', {}, x.active ? h('button', {
        type: 'button', class: 'danger',
        onclick: () => act(async () => { await api('POST', `/legal-holds/${x.id}/release`); await load(); }, 'Legal hold released.'),
      }, `Release hold ${x.id}`) : ''))));
    if (!holds.data.length) body.append(h('tr', {}, h('td', { colspan: 6 }, 'No legal holds.')));
  }
  await load();
}

// ---------- tenants (server administrator) ----------

async function tenantsView(main, _arg, viewId) {
  if (!state.session.server_admin) {
    main.append(h('p', {}, 'Only the server administrator manages tenants.'));
    return;
  }
  const body = h('tbody');
  main.append(
    h('h1', {}, 'Tenants'),
    h('div', { class: 'table-wrap' }, h('table', { id: 'tenants' },
      h('thead', {}, h('tr', {}, ['Id', 'Name', 'UTC offset', 'Public key', 'Workspace id', ''].map((t) => h('th', { scope: 'col' }, t)))), body)),
    h('h2', {}, 'New tenant'),
    h('form', {
      class: 'inline',
      onsubmit: (e) => {
        e.preventDefault();
        const v = formValues(e.target);
        const b = { name: v.name };
        for (const k of ['utc_offset', 'public_key', 'workspace_id']) if (v[k]) b[k] = v[k];
        act(async () => {
          const { data } = await api('POST', '/tenants', { body: b, noTenant: true });
          e.target.reset();
          $('#tenant-select').append(h('option', { value: data.id }, `${data.name} (${data.id})`));
          await load();
        }, 'Tenant created.');
      },
    },
    field('tenant-name', 'Name', h('input', { name: 'name', required: true })),
    field('tenant-offset', 'UTC offset (e.g. -05:00)', h('input', { name: 'utc_offset' })),
    field('tenant-public-key', 'Public key (Pigeons)', h('input', { name: 'public_key' })),
    field('tenant-workspace', 'Workspace id (Trillet)', h('input', { name: 'workspace_id' })),
    h('button', { type: 'submit' }, 'Create tenant')));

  async function load() {
    const { data } = await api('GET', '/tenants', { noTenant: true });
    if (!stillShowing(viewId)) return;
    body.replaceChildren(...data.data.map((t) => h('tr', {},
      h('td', {}, t.id), h('td', {}, t.name), h('td', {}, t.utc_offset), h('td', {}, t.public_key || '—'),
      h('td', {}, t.workspace_id || '—'),
      h('td', {}, h('button', { type: 'button', class: 'secondary', onclick: () => chooseTenant(t.id) }, `Work in ${t.name}`)))));
  }
  await load();
}

function chooseTenant(id) {
  const changed = state.tenant !== Number(id);
  state.tenant = Number(id);
  sessionStorage.setItem('parlor-tenant', String(id));
  $('#tenant-select').value = String(id);
  if (changed && state.session && state.session.server_admin) openStream();
  if (location.hash === '#inbox') route(); else location.hash = '#inbox';
}

// ---------- the stand-in panel ----------

async function standInView(main, _arg, viewId) {
  // The faces' cards failing (a fault rule on the native API, say) must not hide the control
  // plane below them, where that rule is removed: their error goes to the status line.
  let faces = [];
  try {
    faces = (await api('GET', '/faces')).data.data;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) throw e;
    say(e.message, true);
  }
  if (!stillShowing(viewId)) return;
  const plane = h('div', { id: 'control-plane-place' });
  main.append(
    h('h1', {}, 'Stand-in'),
    h('p', {}, 'Each vendor face serves this tenant in that vendor’s format. Secrets are stored hashed and cannot be shown again: paste one below to complete the command.'),
    h('div', { class: 'faces' }, faces.map(faceCard)),
    plane);
  // static/control.js: drawn only where the control plane answers this session.
  await ControlPlane.show(plane, viewId);
}

function faceCard(face) {
  const pre = h('pre', { class: 'curl', id: `curl-${face.name}` }, face.curl);
  const values = {};
  const update = () => {
    let text = face.curl;
    for (const [name, value] of Object.entries(values)) if (value) text = text.split(`$${name}`).join(value);
    pre.textContent = text;
  };
  return h('section', { class: 'face', 'aria-labelledby': `face-${face.name}`, dataset: { face: face.name } },
    h('h2', { id: `face-${face.name}` }, `${face.vendor} `, h('span', { class: 'tag' }, face.enabled ? 'enabled' : 'switched off')),
    h('p', {}, 'Base URL: ', h('code', {}, face.base_url)),
    face.headers.length ? h('div', {}, h('h3', {}, 'Headers it expects'),
      h('dl', { class: 'headers' }, face.headers.map((hd) => [h('dt', {}, hd.name), h('dd', {}, hd.value)]))) : null,
    face.variables.map((v) => {
      const input = h('input', { autocomplete: 'off', oninput: (e) => { values[v.name] = e.target.value.trim(); update(); } });
      return field(`var-${face.name}-${v.name}`, `$${v.name}: ${v.description}`, input);
    }),
    face.curl ? h('div', {}, h('h3', {}, `List call: ${face.list_call}`), pre,
      h('button', {
        type: 'button', class: 'secondary',
        onclick: () => act(async () => {
          if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(pre.textContent);
          else { getSelection().selectAllChildren(pre); document.execCommand('copy'); }
        }, 'Copied.'),
      }, `Copy the ${face.vendor} command`)) : null,
    face.readme ? h('p', {}, `More in the README, section “${face.readme}”.`) : null);
}

// ---------- the audit trail and a patient's access report ----------
// The view's filters live in the URL hash (#audit?patient=52&outcome=ok) so that a report can be
// linked, reloaded and printed as it is. Dates are the admin's local days, sent to the API as
// the instants where those days begin and end.

const AUDIT_ACTIONS = ['read', 'create', 'update', 'delete', 'mark_read', 'sign_in', 'sign_out'];
const AUDIT_SURFACES = ['native', 'admin', 'app', 'mdlive', 'tati', 'trillet', 'pigeons', 'respondent', 'cli', 'system'];
const AUDIT_OUTCOMES = ['ok', 'refused', 'not_found', 'invalid', 'failed'];
const AUDIT_FILTERS = ['user', 'patient', 'action', 'surface', 'outcome', 'from', 'to'];
const PATIENT_ROLES = ['patient', 'customer', 'participant'];
// Enough for a clinic's directory in a select; a larger tenant still filters by id via the URL.
const AUDIT_USER_PAGES = 20;
const AUDIT_OBJECTS_SHOWN = 8;

function auditHash(filter) {
  const params = new URLSearchParams();
  for (const k of AUDIT_FILTERS) if (filter[k]) params.set(k, String(filter[k]));
  const q = params.toString();
  return q ? `#audit?${q}` : '#audit';
}

function auditFilterFromHash() {
  const i = location.hash.indexOf('?');
  const params = new URLSearchParams(i < 0 ? '' : location.hash.slice(i + 1));
  return Object.fromEntries(AUDIT_FILTERS.map((k) => [k, (params.get(k) || '').trim()]));
}

/** The instant a local day (yyyy-mm-dd) starts, plus `days`, as RFC 3339. */
function localDayStart(day, days) {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(y, m - 1, d + days).toISOString();
}

async function tenantUsers() {
  const users = [];
  let after = null;
  for (let page = 0; page < AUDIT_USER_PAGES; page += 1) {
    const params = new URLSearchParams({ limit: '100' });
    if (after) params.set('after', after);
    const { data } = await api('GET', `/users?${params}`);
    users.push(...data.data);
    after = data.next_cursor;
    if (!after) break;
  }
  return users;
}

function auditActor(a) {
  const kinds = { user: 'user', api_key: 'API key', server_admin: 'server administrator', system: 'system', anonymous: 'anonymous' };
  const kind = kinds[a.kind] || a.kind;
  const name = a.name || (a.kind === 'server_admin' ? 'Server administrator'
    : a.kind === 'system' ? 'Parlor' : a.kind === 'anonymous' ? 'Unknown caller' : `${kind} ${a.id}`);
  return [h('span', { class: 'actor-name' }, name), ' ', h('span', { class: 'tag' }, a.id ? `${kind} ${a.id}` : kind)];
}

/** The objects an entry touched; a list read names many, so only the first few are spelled out. */
function auditObjects(objects) {
  const shown = objects.slice(0, AUDIT_OBJECTS_SHOWN).map((o) => `${o.type} ${o.id}`).join(', ');
  const more = objects.length - AUDIT_OBJECTS_SHOWN;
  return more > 0 ? `${shown} and ${more} more` : shown || '—';
}

function accessReportButton(u) {
  if (!PATIENT_ROLES.includes(u.role)) return null;
  return h('p', {}, h('button', {
    type: 'button', class: 'secondary', id: 'user-access-report',
    onclick: () => { location.hash = auditHash({ patient: u.id, outcome: 'ok' }); },
  }, 'Who has seen this patient’s records'));
}

async function auditView(main, _arg, viewId) {
  const filter = auditFilterFromHash();
  const users = await tenantUsers();
  if (!stillShowing(viewId)) return;
  const names = Object.fromEntries(users.map((u) => [u.id, u.display_name]));
  const patientName = filter.patient ? names[filter.patient] || `user ${filter.patient}` : null;

  const option = (value, text, chosen) => h('option', { value, selected: String(value) === chosen }, text);
  const userOptions = (list, chosen) => {
    const opts = list.map((u) => option(u.id, `${u.display_name} (${u.role}, id ${u.id})`, chosen));
    // A filter from a link may name someone the select does not list: keep it visible.
    if (chosen && !list.some((u) => String(u.id) === chosen)) opts.push(option(chosen, names[chosen] || `user ${chosen}`, chosen));
    return opts;
  };
  const userSelect = h('select', { name: 'user' }, option('', 'anyone', filter.user), userOptions(users, filter.user));
  const patientSelect = h('select', { name: 'patient' }, option('', 'any patient', filter.patient),
    userOptions(users.filter((u) => PATIENT_ROLES.includes(u.role)), filter.patient));
  const actionInput = h('input', { name: 'action', list: 'audit-actions', value: filter.action, autocomplete: 'off', maxlength: '64' });
  const surfaceSelect = h('select', { name: 'surface' }, option('', 'every surface', filter.surface),
    AUDIT_SURFACES.map((s) => option(s, s, filter.surface)));
  const outcomeSelect = h('select', { name: 'outcome' }, option('', 'every outcome', filter.outcome),
    AUDIT_OUTCOMES.map((o) => option(o, o, filter.outcome)));
  const fromInput = h('input', { name: 'from', type: 'date', value: filter.from });
  const toInput = h('input', { name: 'to', type: 'date', value: filter.to });

  const body = h('tbody');
  const count = h('p', { id: 'audit-count', 'aria-live': 'polite' });
  const pager = h('div', { class: 'pager no-print' });
  const shownFilters = AUDIT_FILTERS.filter((k) => filter[k] && k !== 'patient')
    .map((k) => `${k} ${k === 'user' ? names[filter.user] || filter.user : filter[k]}`);

  main.append(
    h('h1', { id: 'audit-title', tabindex: '-1' }, patientName ? `Access report for ${patientName}` : 'Audit'),
    h('p', { class: 'report-scope' },
      patientName ? 'Who saw this patient’s records, when, and through what. ' : 'Every access to the tenant’s data, newest first. ',
      shownFilters.length ? `Filtered by ${shownFilters.join(', ')}. ` : '',
      `Times are your local time. Made ${new Date().toLocaleString()}.`),
    h('form', {
      class: 'inline audit-filters', role: 'search', 'aria-label': 'Filter the audit trail',
      onsubmit: (e) => {
        e.preventDefault();
        const v = formValues(e.target);
        if (v.from && v.to && v.from > v.to) { say('The from date is after the to date.', true); return; }
        const next = auditHash(v);
        if (location.hash === next) route(); else location.hash = next;
      },
    },
    field('audit-user', 'User', userSelect),
    field('audit-patient', 'Patient', patientSelect),
    field('audit-action', 'Action', actionInput),
    h('datalist', { id: 'audit-actions' }, AUDIT_ACTIONS.map((a) => h('option', { value: a }))),
    field('audit-surface', 'Surface', surfaceSelect),
    field('audit-outcome', 'Outcome', outcomeSelect),
    field('audit-from', 'From (date)', fromInput),
    field('audit-to', 'To (date)', toInput),
    h('button', { type: 'submit', id: 'audit-apply' }, 'Show'),
    h('a', { href: '#audit', class: 'reset' }, 'Clear filters')),
    h('p', { class: 'no-print' }, h('button', { type: 'button', class: 'secondary', id: 'audit-print', onclick: () => window.print() },
      patientName ? 'Print this report' : 'Print')),
    count,
    h('div', { class: 'table-wrap' }, h('table', { id: 'audit' },
      h('caption', { class: 'skip' }, patientName ? `Accesses to ${patientName}’s records, newest first` : 'Audit entries, newest first'),
      h('thead', {}, h('tr', {}, ['Time', 'Who', 'Surface', 'Action', 'Objects', 'Patients', 'Outcome', 'Client']
        .map((t) => h('th', { scope: 'col' }, t)))),
      body)),
    pager,
  );

  const params = new URLSearchParams({ limit: '50' });
  for (const k of ['user', 'patient', 'action', 'surface', 'outcome']) if (filter[k]) params.set(k, filter[k]);
  try {
    if (filter.from) params.set('since', localDayStart(filter.from, 0));
    if (filter.to) params.set('until', localDayStart(filter.to, 1));
  } catch (e) {
    say('A date in the filter is not a date.', true);
    return;
  }
  let shown = 0;

  async function load(before) {
    if (before) params.set('before', before);
    const { data } = await api('GET', `/audit?${params}`);
    if (!stillShowing(viewId)) return;
    body.append(...data.data.map((e) => h('tr', { dataset: { seq: e.seq } },
      h('td', {}, h('time', { datetime: e.at }, when(e.at))),
      h('td', { class: 'actor' }, auditActor(e.actor)),
      h('td', { class: 'surface' }, e.surface),
      h('td', { class: 'action' }, e.action),
      h('td', {}, auditObjects(e.objects), e.route ? h('div', { class: 'route' }, e.route) : null),
      h('td', { class: 'patients' }, e.patients.map((p) => p.name || `user ${p.id}`).join(', ') || '—'),
      h('td', { class: `outcome ${e.outcome}` }, e.outcome, e.status ? ` (${e.status})` : ''),
      h('td', {}, e.client || '—'))));
    shown += data.data.length;
    if (!shown) body.replaceChildren(h('tr', {}, h('td', { colspan: 8 }, 'No entries match.')));
    count.textContent = `${shown} ${shown === 1 ? 'entry' : 'entries'} shown${data.next_cursor ? ', older ones follow' : ''}.`;
    pager.replaceChildren(data.next_cursor ? h('button', {
      type: 'button', class: 'secondary', id: 'audit-older',
      onclick: () => act(() => load(data.next_cursor)),
    }, 'Older') : '');
    // The button was replaced: keep keyboard users where they were.
    if (before && data.next_cursor) $('#audit-older').focus();
  }
  // Arriving from the access-report button or the filter form, focus would be lost with the
  // replaced page: start screen-reader and keyboard users at the heading.
  if (!document.activeElement || document.activeElement === document.body) $('#audit-title').focus();
  await load(null);
}

// ---------- webhooks and their outbox ----------
// A secret is shown once, in a box that holds it only in its own text: dismissing the box (or
// leaving the view) drops it, and nothing else on the page keeps a copy.

const DELIVERY_STATUSES = ['pending', 'delivered', 'failed', 'captured'];
// Deliveries are enqueued from the log just after the event that made them reaches the page:
// one more read a little later catches those the first read was too early for.
const OUTBOX_SETTLE_MS = 1500;

/** Runs a form's action: its error goes next to the form (and in the status line). */
async function formAct(errorBox, fn, done) {
  errorBox.textContent = '';
  errorBox.hidden = true;
  try {
    await fn();
    if (done) say(done);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    errorBox.textContent = e.message;
    errorBox.hidden = false;
    say(e.message, true);
  }
}

function formError(id) {
  return h('p', { class: 'form-error', id, role: 'alert', hidden: true });
}

async function copyText(text, from) {
  try {
    if (!navigator.clipboard || !window.isSecureContext) throw new Error('no clipboard');
    await navigator.clipboard.writeText(text);
  } catch (e) {
    getSelection().selectAllChildren(from);
    if (!document.execCommand('copy')) throw new Error('Copying failed: select the secret and copy it by hand.');
  }
}

/** The one-time box for a new secret, put at the start of `place`. */
function showSecretBox(place, endpoint, secret, why) {
  const old = document.getElementById('webhook-secret-box');
  if (old) old.remove();
  const code = h('code', { class: 'secret', id: 'webhook-secret' }, secret);
  const box = h('section', { class: 'secret-box', id: 'webhook-secret-box', 'aria-labelledby': 'webhook-secret-title' },
    h('h2', { id: 'webhook-secret-title', tabindex: '-1' }, `${why}: the signing secret of endpoint ${endpoint.id}`),
    h('p', { class: 'warning' }, 'Copy it now into the receiving application. It will not be shown again: ',
      'once this box is closed, only rotating the secret gives a new one.'),
    h('p', {}, code),
    h('div', { class: 'inline' },
      h('button', {
        type: 'button', id: 'webhook-secret-copy',
        onclick: () => act(() => copyText(code.textContent, code), 'Secret copied.'),
      }, 'Copy the secret'),
      h('button', {
        type: 'button', class: 'secondary', id: 'webhook-secret-dismiss',
        onclick: () => { box.remove(); say('The secret was hidden for good.'); },
      }, 'I have stored it, hide it')));
  place.prepend(box);
  $('#webhook-secret-title').focus();
}

/** The fields of an endpoint, as a form: new (no endpoint) or editing one. */
function webhookFields(prefix, e) {
  const all = h('input', { type: 'checkbox', id: `${prefix}-all`, name: 'all', checked: !!e && e.events.includes('*') });
  const boxes = EVENT_TYPES.map((t) => h('input', {
    type: 'checkbox', id: `${prefix}-event-${t.replace('.', '-')}`, name: 'event', value: t,
    checked: !!e && e.events.includes(t),
  }));
  const sync = () => { for (const b of boxes) b.disabled = all.checked; };
  all.addEventListener('change', sync);
  sync();
  const check = (name, label, on) => h('div', { class: 'check' },
    h('input', { type: 'checkbox', id: `${prefix}-${name}`, name, checked: on }),
    h('label', { for: `${prefix}-${name}` }, label));
  const url = h('input', { name: 'url', type: 'url', required: true, value: e ? e.url : '', autocomplete: 'off' });
  const description = h('input', { name: 'description', value: e && e.description ? e.description : '' });
  return [
    h('div', { class: 'inline' },
      field(`${prefix}-url`, 'URL (http or https)', url),
      field(`${prefix}-description`, 'Description (optional)', description)),
    h('fieldset', { class: 'events' },
      h('legend', {}, 'Events to send'),
      h('div', { class: 'check all' }, all, h('label', { for: `${prefix}-all` }, 'All events (also types added later)')),
      h('div', { class: 'checks' }, boxes.map((b) => h('div', { class: 'check' }, b, h('label', { for: b.id }, b.value))))),
    h('div', { class: 'checks' },
      check('capture', 'Capture only: record what would be sent, send nothing', !!e && e.capture),
      check('include_text', 'Include message text', !!e && e.include_text)),
  ];
}

function webhookBody(form) {
  const events = form.elements.all.checked ? ['*']
    : [...form.querySelectorAll('input[name="event"]:checked')].map((b) => b.value);
  if (!events.length) throw new Error('Choose at least one event, or all.');
  const description = form.elements.description.value.trim();
  return {
    url: form.elements.url.value.trim(),
    events,
    capture: form.elements.capture.checked,
    include_text: form.elements.include_text.checked,
    description: description || null,
  };
}

function webhookState(e) {
  if (e.enabled) return e.capture ? 'enabled, capturing' : 'enabled';
  return e.disabled_reason ? `disabled: ${e.disabled_reason}` : 'disabled';
}

async function webhooksView(main, arg, viewId) {
  if (arg) return webhookView(main, arg, viewId);
  const body = h('tbody');
  const top = h('div');
  const error = formError('webhook-new-error');
  main.append(
    h('h1', {}, 'Webhooks'),
    h('p', {}, 'Parlor POSTs each change of this tenant to these addresses, signed as the Standard Webhooks ',
      'specification says; every delivery is kept in the endpoint’s outbox.'),
    top,
    h('div', { class: 'table-wrap' }, h('table', { id: 'webhooks' },
      h('thead', {}, h('tr', {}, ['Id', 'URL', 'Events', 'State', 'Text', 'Description', 'Previous secret signs until', '']
        .map((t) => h('th', { scope: 'col' }, t)))), body)),
    h('h2', {}, 'New endpoint'),
    h('form', {
      id: 'webhook-new', class: 'webhook-form',
      onsubmit: (ev) => {
        ev.preventDefault();
        const form = ev.target;
        formAct(error, async () => {
          const { data } = await api('POST', '/webhooks', { body: webhookBody(form) });
          form.reset();
          form.elements.all.dispatchEvent(new Event('change'));
          showSecretBox(top, data, data.secret, 'Endpoint added');
          await load();
        }, 'Endpoint added.');
      },
    }, webhookFields('webhook-new'), error, h('p', {}, h('button', { type: 'submit', id: 'webhook-add' }, 'Add endpoint'))));

  async function load() {
    const { data } = await api('GET', '/webhooks');
    if (!stillShowing(viewId)) return;
    body.replaceChildren(...data.data.map((e) => h('tr', { dataset: { webhook: e.id } },
      h('td', {}, e.id),
      h('td', { class: 'url' }, e.url),
      h('td', {}, e.events.includes('*') ? 'all' : e.events.join(', ')),
      h('td', { class: 'state' }, webhookState(e)),
      h('td', {}, e.include_text ? 'included' : '—'),
      h('td', {}, e.description || '—'),
      h('td', {}, e.previous_secret_expires_at ? when(e.previous_secret_expires_at) : '—'),
      h('td', {}, h('a', { href: `#webhooks/${e.id}`, 'aria-label': `Manage endpoint ${e.id} and its outbox` }, 'Manage, outbox')))));
    if (!data.data.length) body.append(h('tr', {}, h('td', { colspan: 8 }, 'No endpoints yet.')));
  }
  await load();
}

/** One endpoint: its settings, secret, and outbox. */
async function webhookView(main, id, viewId) {
  let endpoint = null;
  let filter = '';
  const cursors = [null];
  let shownDeliveries = [];
  let renderedOutbox = null;
  let renderedDelivery = null;
  let openDelivery = null;
  let settle = null;
  let pendingTimer = null;

  const top = h('div');
  const head = h('div');
  const editError = formError('webhook-edit-error');
  const actionError = formError('webhook-action-error');
  const editBox = h('div');
  const outbox = h('tbody');
  const pager = h('div', { class: 'pager' });
  const detail = h('div', { id: 'delivery-detail', 'aria-live': 'polite' });
  const statusSelect = h('select', {}, h('option', { value: '' }, 'every status'),
    DELIVERY_STATUSES.map((s) => h('option', { value: s }, s)));
  statusSelect.addEventListener('change', () => {
    filter = statusSelect.value;
    cursors.length = 1;
    act(() => loadOutbox(false));
  });

  main.append(
    h('p', {}, h('a', { href: '#webhooks' }, '← All endpoints')),
    top,
    head,
    h('div', { class: 'inline' },
      h('button', { type: 'button', class: 'secondary', id: 'webhook-toggle', onclick: () => toggle() }, 'Disable'),
      h('button', { type: 'button', class: 'secondary', id: 'webhook-rotate', onclick: () => rotate() }, 'Rotate secret'),
      h('button', { type: 'button', class: 'danger', id: 'webhook-delete', onclick: () => remove() }, 'Delete endpoint')),
    actionError,
    h('details', { class: 'edit' }, h('summary', {}, 'Edit this endpoint'), editBox),
    h('h2', { id: 'outbox-title' }, 'Outbox'),
    h('div', { class: 'inline' },
      field('outbox-status', 'Show', statusSelect),
      h('button', { type: 'button', class: 'secondary', id: 'outbox-refresh', onclick: () => act(() => loadOutbox(false)) }, 'Refresh')),
    h('div', { class: 'table-wrap' }, h('table', { id: 'outbox' },
      h('caption', { class: 'skip' }, 'Deliveries, newest first'),
      h('thead', {}, h('tr', {}, ['Id', 'Event', 'Status', 'Attempts', 'Created', 'Finished or next attempt', '']
        .map((t) => h('th', { scope: 'col' }, t)))), outbox)),
    pager,
    detail);

  function renderEndpoint() {
    const e = endpoint;
    head.replaceChildren(
      h('h1', {}, `Webhook endpoint ${e.id}`),
      h('dl', { class: 'facts', id: 'webhook-facts' },
        h('dt', {}, 'URL'), h('dd', { class: 'url' }, e.url),
        h('dt', {}, 'Events'), h('dd', {}, e.events.includes('*') ? 'all' : e.events.join(', ')),
        h('dt', {}, 'State'), h('dd', { id: 'webhook-state' }, webhookState(e)),
        h('dt', {}, 'Capture'), h('dd', {}, e.capture ? 'yes: deliveries are recorded, never sent' : 'no'),
        h('dt', {}, 'Message text'), h('dd', {}, e.include_text ? 'included' : 'not included'),
        h('dt', {}, 'Description'), h('dd', {}, e.description || '—'),
        h('dt', {}, 'Previous secret'), h('dd', {}, e.previous_secret_expires_at
          ? `still signs until ${when(e.previous_secret_expires_at)}` : '—')));
    $('#webhook-toggle').textContent = e.enabled ? 'Disable' : 'Enable';
  }

  function renderEdit() {
    editBox.replaceChildren(h('form', {
      id: 'webhook-edit', class: 'webhook-form',
      onsubmit: (ev) => {
        ev.preventDefault();
        const form = ev.target;
        formAct(editError, async () => {
          const { data } = await api('PATCH', `/webhooks/${id}`, { body: webhookBody(form) });
          endpoint = data;
          renderEndpoint();
        }, 'Endpoint saved.');
      },
    }, webhookFields('webhook-edit', endpoint), editError, h('p', {}, h('button', { type: 'submit', id: 'webhook-save' }, 'Save'))));
  }

  function toggle() {
    const enable = !endpoint.enabled;
    formAct(actionError, async () => {
      const { data } = await api('PATCH', `/webhooks/${id}`, { body: { enabled: enable } });
      endpoint = data;
      renderEndpoint();
    }, enable ? 'Endpoint enabled.' : 'Endpoint disabled.');
  }

  function rotate() {
    if (!confirm('Make a new signing secret? The current one keeps signing for 24 hours beside it.')) return;
    formAct(actionError, async () => {
      const { data: { secret, ...rotated } } = await api('POST', `/webhooks/${id}/rotate-secret`);
      endpoint = rotated;
      renderEndpoint();
      showSecretBox(top, rotated, secret, 'Secret rotated');
    }, 'Secret rotated.');
  }

  function remove() {
    if (!confirm(`Delete endpoint ${id} and its whole outbox?`)) return;
    formAct(actionError, async () => {
      await api('DELETE', `/webhooks/${id}`);
      location.hash = '#webhooks';
    }, 'Endpoint deleted.');
  }

  async function loadOutbox(background) {
    const params = new URLSearchParams({ limit: '20' });
    if (filter) params.set('status', filter);
    const before = cursors[cursors.length - 1];
    if (before) params.set('before', before);
    const { data } = await api('GET', `/webhooks/${id}/deliveries?${params}`, { background });
    if (!stillShowing(viewId)) return;
    // An unchanged page is left as it is, so that a background read does not take the focus
    // from a keyboard user's button.
    const seen = JSON.stringify([filter, cursors.length, data]);
    if (seen === renderedOutbox) { watchPending(); return; }
    renderedOutbox = seen;
    const focused = document.activeElement && outbox.contains(document.activeElement)
      ? document.activeElement.dataset.open : null;
    shownDeliveries = data.data;
    outbox.replaceChildren(...data.data.map((d) => h('tr', { dataset: { delivery: d.id, status: d.status } },
      h('td', {}, d.id),
      h('td', {}, `${d.event_type} (seq ${d.event_seq})`),
      h('td', { class: `status ${d.status}` }, d.status),
      h('td', {}, d.attempt_count),
      h('td', {}, when(d.created_at)),
      h('td', {}, d.status === 'pending' ? `next ${when(d.next_attempt_at)}` : when(d.finished_at)),
      h('td', {}, h('button', {
        type: 'button', class: 'secondary', dataset: { open: d.id },
        onclick: () => act(() => showDelivery(d.id, false)),
      }, `Details of delivery ${d.id}`)))));
    if (!data.data.length) outbox.append(h('tr', {}, h('td', { colspan: 7 }, filter ? `No ${filter} deliveries.` : 'No deliveries yet.')));
    pager.replaceChildren(
      cursors.length > 1 ? h('button', { type: 'button', class: 'secondary', id: 'outbox-newer', onclick: () => { cursors.pop(); act(() => loadOutbox(false)); } }, 'Newer') : '',
      data.next_cursor ? h('button', { type: 'button', class: 'secondary', id: 'outbox-older', onclick: () => { cursors.push(data.next_cursor); act(() => loadOutbox(false)); } }, 'Older') : '');
    const again = focused && outbox.querySelector(`button[data-open="${focused}"]`);
    if (again) again.focus();
    watchPending();
  }

  // A pending delivery changes (retried, delivered, failed) without an event of its own: while
  // one is shown, and only then, the outbox is read again now and then.
  function watchPending() {
    clearTimeout(pendingTimer);
    pendingTimer = null;
    if (!shownDeliveries.some((d) => d.status === 'pending')) return;
    pendingTimer = setTimeout(() => {
      if (stillShowing(viewId) && document.visibilityState !== 'hidden') refresh(true).catch(() => {});
      else if (stillShowing(viewId)) watchPending();
    }, POLL_MS);
  }

  async function showDelivery(did, background) {
    const { data: d } = await api('GET', `/webhooks/${id}/deliveries/${did}`, { background });
    if (!stillShowing(viewId)) return;
    // Unchanged, the detail stays as it is: its focus and scroll positions with it.
    const seen = JSON.stringify(d);
    if (background && did === openDelivery && seen === renderedDelivery) return;
    renderedDelivery = seen;
    openDelivery = did;
    const attempts = Array.isArray(d.attempts) ? d.attempts : [];
    const replayError = formError('delivery-replay-error');
    detail.replaceChildren(
      h('h2', { id: 'delivery-title', tabindex: '-1' }, `Delivery ${d.id}: ${d.event_type}, ${d.status}`),
      h('dl', { class: 'facts' },
        h('dt', {}, 'webhook-id'), h('dd', {}, h('code', {}, d.webhook_id)),
        h('dt', {}, 'Event'), h('dd', {}, `${d.event_type}, seq ${d.event_seq}`),
        h('dt', {}, 'Status'), h('dd', { id: 'delivery-status' }, d.status),
        h('dt', {}, 'Attempts'), h('dd', {}, attempts.length),
        h('dt', {}, 'Created'), h('dd', {}, when(d.created_at)),
        h('dt', {}, d.status === 'pending' ? 'Next attempt' : 'Finished'),
        h('dd', {}, d.status === 'pending' ? when(d.next_attempt_at) : when(d.finished_at))),
      ['failed', 'delivered'].includes(d.status) ? h('div', {}, h('button', {
        type: 'button', id: 'delivery-replay',
        onclick: () => formAct(replayError, async () => {
          await api('POST', `/webhooks/${id}/deliveries/${did}/replay`);
          await refresh(false);
        }, `Delivery ${did} will be sent again.`),
      }, `Replay delivery ${d.id}`), replayError) : '',
      h('h3', {}, 'Body'),
      h('pre', { class: 'payload', id: 'delivery-body', tabindex: '0' }, JSON.stringify(d.body, null, 2)),
      h('h3', {}, `Attempts (${attempts.length})`),
      attempts.length ? h('ol', { class: 'attempts' }, attempts.map(attemptItem)) : h('p', {}, 'None yet.'));
    if (!background) $('#delivery-title').focus();
  }

  function attemptItem(a) {
    const outcome = a.response ? `answered ${a.response.status}` : a.error ? 'no answer' : 'captured, not sent';
    return h('li', { class: 'attempt', dataset: { attempt: a.attempt } },
      h('p', { class: 'meta' }, `Attempt ${a.attempt} · ${when(a.at)} · ${outcome}`,
        a.duration_ms !== null && a.duration_ms !== undefined ? ` · ${a.duration_ms} ms` : ''),
      a.error ? h('p', { class: 'error' }, `Error: ${a.error}`) : null,
      h('h4', {}, 'Request headers'),
      h('dl', { class: 'headers request-headers' }, Object.entries(a.request.headers)
        .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
      h('h4', {}, 'Request body, exactly as signed'),
      h('pre', { class: 'payload request-body', tabindex: '0' }, a.request.body),
      a.response ? [h('h4', {}, `Response ${a.response.status} (first KiB)`),
        h('pre', { class: 'payload response-body', tabindex: '0' }, a.response.body || '(empty)')] : null);
  }

  async function refresh(background) {
    const [{ data: e }] = await Promise.all([api('GET', `/webhooks/${id}`, { background }), loadOutbox(background)]);
    if (!stillShowing(viewId)) return;
    const first = endpoint === null;
    endpoint = e;
    renderEndpoint();
    if (first) renderEdit();
    if (openDelivery !== null) await showDelivery(openDelivery, true);
  }

  // Any event may have made a delivery: read again once the log has been dispatched.
  function onChange() {
    refreshSoon();
    clearTimeout(settle);
    settle = setTimeout(() => { if (stillShowing(viewId)) refreshSoon(); }, OUTBOX_SETTLE_MS);
  }

  await refresh(false);
  state.poll = () => refresh(true);
  state.live = onChange;
}

// ---------- start ----------

/** The server's warning when it is reachable from the network without TLS, shown on every
 *  view (the sign-in form included, before a password is typed). */
async function showTransportWarning() {
  try {
    const res = await fetch('/admin/transport', { cache: 'no-store' });
    const { warning } = await res.json();
    const box = $('#transport-warning');
    box.textContent = warning || '';
    box.hidden = !warning;
  } catch (e) {
    // No banner is better than a broken page.
  }
}

/** Server administrators: when the last scheduled backup was taken, or that it failed (from
 *  /readyz; nothing when backups are not scheduled). */
async function showBackupStatus() {
  const line = $('#backup-status');
  try {
    const { backups } = await (await fetch('/readyz', { cache: 'no-store' })).json();
    if (!backups) return;
    const age = (s) => (s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min`
      : s < 172800 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86400)} days`);
    line.textContent = backups.last_error ? `Last backup failed: ${backups.last_error}`
      : backups.last_success ? `Last backup ${age(backups.age_seconds)} ago` : 'No backup yet';
    line.title = backups.last_error_at || backups.last_file || '';
    line.dataset.state = backups.last_error ? 'failed' : 'ok';
    line.hidden = false;
  } catch (e) {
    // No line is better than a broken page.
  }
}

document.addEventListener('DOMContentLoaded', async () => {
  $('#signin-user-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const v = formValues(e.target);
    const body = { username: v.username, password: v.password };
    if (v.tenant.trim()) body.tenant = /^\d+$/.test(v.tenant.trim()) ? Number(v.tenant.trim()) : v.tenant.trim();
    signIn(body);
  });
  $('#signin-token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    signIn({ token: formValues(e.target).token });
  });
  $('#sign-out').addEventListener('click', signOut);
  $('#tenant-select').addEventListener('change', (e) => chooseTenant(e.target.value));
  window.addEventListener('hashchange', route);
  showTransportWarning();
  try {
    const { data } = await api('GET', '/session', { signingIn: true });
    await started(data);
  } catch (e) {
    showSignIn(null);
  }
});
