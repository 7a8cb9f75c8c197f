// The clinic's app for providers, staff and patients. Plain JavaScript, no build step, no other
// host: it uses only the native API (/parlor/v1) with the session cookie set at sign-in
// ("client": "app"), so it can show nothing the user's own credentials could not get.
// Sessions, CSRF, idle logoff and live updates follow the admin page (static/app.js): changes
// send the CSRF token, the app's own refreshes say they are background requests (they do not
// keep an unattended session alive), and polling runs only while the event stream is down.
'use strict';

const API = '/parlor/v1';
const POLL_MS = 4000;
const COALESCE_MS = 200;
const SESSION_CHECK_MS = 60000;
const REOPEN_MS = 15000;
const PAGE = 100;
const LANG_KEY = 'parlor-app-lang';
const EVENT_TYPES = [
  'message.created', 'message.updated', 'message.deleted', 'message.read', 'conversation.read',
  'conversation.created', 'conversation.updated', 'conversation.archived', 'conversation.deleted',
  'participant.added', 'participant.removed',
];

const state = {
  session: null,
  lang: 'en',
  poll: null,       // the current view's refresh
  view: 0,          // bumps on every navigation: late answers of an old view are dropped
  stream: null,
  streamOpen: false,
  reopen: null,
};
// The browser test reads it to tell a change that came over the stream from a polled one.
window.parlorPollCount = 0;

// ---------- words ----------

function chooseLanguage() {
  const strings = window.parlorStrings || {};
  const kept = localStorage.getItem(LANG_KEY);
  if (kept && strings[kept]) return kept;
  for (const l of navigator.languages || [navigator.language || 'en']) {
    const base = String(l).toLowerCase().split('-')[0];
    if (strings[base]) return base;
  }
  return 'en';
}

/** The current language's text for `key`, with {name} filled from `vars`. */
function t(key, vars) {
  const strings = window.parlorStrings || {};
  const text = (strings[state.lang] || {})[key] ?? (strings.en || {})[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => (vars && k in vars ? String(vars[k]) : `{${k}}`));
}

function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const today = new Date().toDateString() === d.toDateString();
  const opts = today ? { timeStyle: 'short' } : { dateStyle: 'medium', timeStyle: 'short' };
  return new Intl.DateTimeFormat(state.lang, opts).format(d);
}

function applyChrome() {
  document.documentElement.lang = state.lang;
  document.title = t('app.title');
  $('#skip').textContent = t('skip');
  $('#brand').textContent = t('app.title');
  $('#lang-label').textContent = t('lang.label');
  $('#sign-out').textContent = t('signout');
  $('#nav').setAttribute('aria-label', t('nav.main'));
  const select = $('#lang');
  select.setAttribute('aria-label', t('lang.label'));
  select.replaceChildren(...Object.keys(window.parlorStrings || {}).map((code) =>
    h('option', { value: code, lang: code }, window.parlorStrings[code]['lang.name'])));
  select.value = state.lang;
  $('#nav').replaceChildren(
    h('a', { href: '#/inbox', dataset: { nav: 'inbox' } }, t('nav.inbox')),
    h('a', { href: '#/new', dataset: { nav: 'new' } }, t('nav.new')),
    h('a', { href: '#/me', dataset: { nav: 'me' } }, t('nav.me')),
  );
  showLive($('#live').dataset.state);
}

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

function say(text, isError) {
  $('#status').replaceChildren(text ? h('p', { class: isError ? 'error' : '' }, text) : '');
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && state.session) headers['X-Parlor-CSRF'] = state.session.csrf_token;
  if (opts.background) headers['X-Parlor-Background'] = '1';
  const res = await fetch(API + path, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (res.status === 401 && state.session && !opts.signingIn) {
    showSignIn(t('signin.idle'));
    throw new ApiError(401, 'signed out');
  }
  if (!res.ok) {
    throw new ApiError(res.status, data && data.error ? data.error.message : `HTTP ${res.status}`);
  }
  return data;
}

function failed(e) {
  if (!(e instanceof ApiError && e.status === 401)) say(t('error.generic', { message: e.message }), true);
}

function field(id, label, input) {
  input.id = id;
  return h('div', {}, h('label', { for: id }, label), input);
}

function me() { return state.session && state.session.user; }

function others(conversation) {
  return conversation.participants.filter((p) => p.user.id !== me().id);
}

function namesOf(conversation) {
  const list = others(conversation).map((p) => p.user.display_name);
  return list.length ? list.join(', ') : (conversation.name || t('inbox.you'));
}

// ---------- sign-in, sign-out, idle logoff ----------

function showSignIn(message) {
  closeStream();
  state.session = null;
  state.poll = null;
  state.view += 1;
  $('#nav').hidden = true;
  $('#sign-out').hidden = true;
  say('');
  const form = h('form', { id: 'signin-form', class: 'card', onsubmit: (e) => { e.preventDefault(); signIn(e.target); } },
    h('h1', {}, t('signin.title')),
    message ? h('p', { id: 'signin-message', class: 'notice', role: 'alert' }, message) : null,
    field('signin-username', t('signin.username'), h('input', { name: 'username', autocomplete: 'username', required: true })),
    field('signin-password', t('signin.password'), h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    // Usernames are found in every clinic; one of two clinics sharing a username is named here.
    h('details', {}, h('summary', {}, t('signin.several')),
      field('signin-clinic', t('signin.clinic'), h('input', { name: 'tenant', inputmode: 'numeric' }))),
    h('div', { class: 'row' }, h('button', { type: 'submit', id: 'signin-submit' }, t('signin.submit'))),
    h('p', { class: 'muted' }, t('signin.help')));
  $('#main').replaceChildren(form);
  $('#signin-username').focus();
}

async function signIn(form) {
  const v = Object.fromEntries(new FormData(form).entries());
  const body = { username: v.username, password: v.password, client: 'app' };
  if (v.tenant && v.tenant.trim()) body.tenant = v.tenant.trim();
  try {
    const session = await api('POST', '/session', { body, signingIn: true });
    await started(session);
  } catch (e) {
    const why = e.status === 429 ? t('signin.throttled') : e.status === 401 ? t('signin.failed') : e.message;
    showSignIn(why);
  }
}

async function started(session) {
  if (!session.user) {
    // The server administrator has no inbox: their place is the admin page.
    showSignIn(t('signin.serverAdmin'));
    return;
  }
  state.session = session;
  adoptLanguage(session.user);
  $('#nav').hidden = false;
  $('#sign-out').hidden = false;
  say('');
  openStream();
  if (!location.hash.startsWith('#/') || location.hash.startsWith('#/welcome/')) location.hash = '#/inbox';
  else route();
}

/** The signed-in user's language wins over this browser's; a user who never chose one gets
 *  the language they are reading now, so their e-mail notices come in it too. */
function adoptLanguage(user) {
  const strings = window.parlorStrings || {};
  if (user.language && strings[user.language]) {
    if (user.language !== state.lang) {
      state.lang = user.language;
      localStorage.setItem(LANG_KEY, state.lang);
      applyChrome();
    }
    return;
  }
  saveLanguage();
}

function saveLanguage() {
  if (!state.session || !state.session.user) return;
  const language = state.lang;
  api('PATCH', '/me', { body: { language }, background: true })
    .then((user) => { if (state.session && state.session.user) state.session.user.language = user.language; })
    .catch(() => { /* the app still shows the choice; the next sign-in tries again */ });
}

async function signOut() {
  try {
    await api('DELETE', '/session');
  } catch (e) {
    // Signed out either way: the page forgets the session.
  }
  showSignIn(t('signin.out'));
}

// ---------- routing, polling, live updates ----------

function route() {
  const [, name, arg, extra] = location.hash.split('/');
  if (name === 'welcome') {
    welcomeView($('#main'), decodeURIComponent(arg || ''), ++state.view).catch(failed);
    return;
  }
  if (!state.session) return;
  const views = { inbox: inboxView, c: threadView, new: newView, me: meView };
  const view = views[name] || inboxView;
  for (const a of document.querySelectorAll('#nav a')) {
    const current = a.dataset.nav === name || (name === 'c' && a.dataset.nav === 'inbox');
    if (current) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  state.view += 1;
  state.poll = null;
  say('');
  const main = $('#main');
  main.replaceChildren(h('p', { class: 'muted' }, t('loading')));
  const viewId = state.view;
  view(main, arg, viewId, extra).then(() => {
    // The link that was followed is gone with the old view: keyboard focus starts at the new
    // view's top instead of falling back to the page's start.
    const active = document.activeElement;
    if (stillShowing(viewId) && (!active || active === document.body)) main.focus({ preventScroll: true });
  }).catch(failed);
}

function stillShowing(viewId) {
  return state.view === viewId && state.session;
}

let lastSessionCheck = 0;
setInterval(() => {
  if (!state.session || document.visibilityState === 'hidden') return;
  if (state.streamOpen) {
    // Nothing else asks the server while the stream is up: an ended session still takes an
    // unattended screen to the sign-in form within a minute.
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

function showLive(how) {
  const box = $('#live');
  box.dataset.state = how || 'off';
  const known = ['live', 'connecting', 'reconnecting', 'polling'].includes(how);
  box.textContent = known ? t(`live.${how}`) : '';
  box.hidden = !known;
}

function openStream() {
  closeStream();
  if (typeof EventSource !== 'function') { showLive('polling'); return; }
  const source = new EventSource(`${API}/events`);
  state.stream = source;
  showLive('connecting');
  source.onopen = async () => {
    if (state.stream !== source) return;
    state.streamOpen = true;
    // A new stream starts with the next change: the view reads once, and is live from then on.
    await refreshSoon();
    if (state.stream === source && state.streamOpen) showLive('live');
  };
  source.onerror = () => {
    if (state.stream !== source) return;
    state.streamOpen = false;
    if (source.readyState !== EventSource.CLOSED) { showLive('reconnecting'); return; }
    // Refused (a 401 once the session ended): the poll runs and finds out; try again later.
    state.stream = null;
    showLive('polling');
    state.reopen = setTimeout(() => { if (state.session) openStream(); }, REOPEN_MS);
  };
  for (const type of [...EVENT_TYPES, 'reset']) {
    source.addEventListener(type, () => { if (state.stream === source) refreshSoon(); });
  }
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

/** The current view reads again, once for a burst of events, never two reads at a time. */
function refreshSoon() {
  return new Promise((done) => {
    refresher.waiting.push(done);
    if (!refresher.running && !refresher.timer) refresher.timer = setTimeout(runRefresh, COALESCE_MS);
  });
}

async function runRefresh() {
  refresher.timer = null;
  if (document.visibilityState === 'hidden') return;
  const waiting = refresher.waiting.splice(0);
  if (state.poll && state.session) {
    refresher.running = true;
    try { await state.poll(); } catch (e) { /* a failed background read changes nothing */ }
    refresher.running = false;
  }
  for (const done of waiting) done();
  if (refresher.waiting.length && !refresher.timer) refresher.timer = setTimeout(runRefresh, COALESCE_MS);
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && state.session) refreshSoon();
});

// ---------- the inbox ----------

async function inboxView(main, _arg, viewId) {
  const search = h('input', { type: 'search', id: 'inbox-search', autocomplete: 'off' });
  const list = h('ul', { id: 'inbox', class: 'inbox' });
  // The first page is read again on every refresh; once "Show more" was used, the rows shown
  // below it stay until the view is left or the search changes (a conversation with news
  // moves up into the first page, one pushed out of it stays below). The search runs on the
  // server, over all of the person's conversations, not only the ones shown.
  let extended = false;
  let older = null;
  let conversations = [];
  let asked = 0;
  const more = h('button', { type: 'button', id: 'inbox-more', class: 'plain', hidden: true }, t('inbox.more'));
  const hits = h('section', { id: 'message-search', 'aria-live': 'polite' });
  const render = () => {
    more.hidden = !older;
    if (!conversations.length) {
      list.replaceChildren(h('li', { class: 'muted', id: 'inbox-empty' }, search.value.trim() ? t('inbox.nomatch') : t('inbox.empty')));
      return;
    }
    // A live refresh redraws the rows: keyboard focus stays on the conversation it was on.
    const focused = document.activeElement && document.activeElement.closest('#inbox li');
    list.replaceChildren(...conversations.map(inboxRow));
    if (focused) list.querySelector(`li[data-conversation="${focused.dataset.conversation}"] a`)?.focus();
  };
  // An admin's list is the whole clinic's; the app shows the conversations they are in.
  const as = state.session.role === 'admin' ? `&as=${me().id}` : '';
  const query = () => {
    const q = search.value.trim();
    return `/conversations?limit=${PAGE}${as}${q ? `&q=${encodeURIComponent(q)}` : ''}`;
  };
  const load = async (background) => {
    // Answers to a search typed over are dropped: only the latest question is shown.
    const mine = ++asked;
    const data = await api('GET', query(), { background });
    if (!stillShowing(viewId) || mine !== asked) return;
    if (extended) {
      const top = new Set(data.data.map((c) => c.id));
      conversations = [...data.data, ...conversations.filter((c) => !top.has(c.id))];
    } else {
      conversations = data.data;
      older = data.next_cursor;
    }
    render();
  };
  let typing = null;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      extended = false;
      load(false).catch(failed);
      showMessageHits(hits, search.value.trim(), viewId).catch(failed);
    }, 250);
  });
  more.addEventListener('click', async () => {
    if (!older) return;
    more.disabled = true;
    const mine = asked;
    try {
      const data = await api('GET', `${query()}&before=${encodeURIComponent(older)}`);
      if (!stillShowing(viewId) || mine !== asked) return;
      const shown = new Set(conversations.map((c) => c.id));
      const added = data.data.filter((c) => !shown.has(c.id));
      const firstNew = added[0];
      extended = true;
      conversations = [...conversations, ...added];
      older = data.next_cursor;
      render();
      // Keyboard focus goes on to the first conversation just shown.
      if (firstNew) list.querySelector(`li[data-conversation="${firstNew.id}"] a`)?.focus();
    } catch (e) { failed(e); } finally { more.disabled = false; }
  });
  await load(false);
  if (!stillShowing(viewId)) return;
  main.replaceChildren(h('h1', {}, t('inbox.title')), field('inbox-search', t('inbox.search'), search), list, more, hits);
  state.poll = () => load(true);
}

function inboxRow(c) {
  const unread = c.unread_count || 0;
  const archived = c.status === 'archived' || Boolean(c.archived_at);
  const last = c.last_message;
  const lastText = last ? `${last.sender_id === me().id ? `${t('inbox.you')}: ` : ''}${last.body}` : t('inbox.nomessages');
  return h('li', { dataset: { conversation: c.id }, class: unread ? 'unread' : '' },
    h('a', { href: `#/c/${c.id}` },
      h('span', { class: 'names' }, namesOf(c)),
      h('span', { class: 'when' },
        // The number is for the eye; a screen reader hears "3 unread" instead.
        unread ? h('span', { class: 'badge', 'aria-hidden': 'true' }, unread) : null,
        unread ? h('span', { class: 'sr-only' }, t('inbox.unread', { count: unread })) : null,
        ' ', when(last ? last.created_at : c.created_at)),
      h('span', { class: 'last' }, archived ? h('span', { class: 'tag' }, t('inbox.archived')) : null, lastText)));
}

// ---------- a thread ----------

async function threadView(main, id, viewId, foundMessage) {
  const load = async (background) => {
    const [conversation, messages] = await Promise.all([
      api('GET', `/conversations/${encodeURIComponent(id)}`, { background }),
      api('GET', `/conversations/${encodeURIComponent(id)}/messages?limit=${PAGE}`, { background }),
    ]);
    if (!stillShowing(viewId)) return null;
    // Opening the thread reads it: mark read whenever something is unread for me.
    if (conversation.unread_count > 0 && messages.data.length) {
      await api('POST', `/conversations/${conversation.id}/read`, { body: {}, background });
    }
    // Every refresh reads the newest page; once earlier messages were asked for, everything
    // shown before the new page's first message stays in front of it.
    if (!extended) older = messages.next_cursor;
    const from = messages.data.length ? messages.data[0].seq : Infinity;
    const kept = extended && latest ? latest.messages.filter((m) => m.seq < from) : [];
    return { conversation, messages: [...kept, ...messages.data] };
  };
  let extended = false;
  let older = null;
  let latest = null;
  let first;
  try {
    first = await load(false);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      main.replaceChildren(
        h('h1', { id: 'not-found' }, t('thread.notfound')),
        h('p', {}, t('thread.notfoundText')),
        h('p', {}, h('a', { href: '#/inbox' }, t('thread.back'))));
      return;
    }
    throw e;
  }
  if (!first || !stillShowing(viewId)) return;
  const heading = h('h1', {});
  const list = h('ol', { id: 'thread', class: 'thread', 'aria-live': 'polite', tabindex: '-1' });
  const box = h('textarea', { name: 'body', maxlength: 20000 });
  const send = h('button', { type: 'submit', id: 'reply-send' }, t('thread.send'));
  const files = filePicker();
  const form = h('form', { class: 'reply', id: 'reply-form', onsubmit: (e) => { e.preventDefault(); reply(); } },
    field('reply-body', t('thread.reply'), box), h('div', {}, send), files.field);
  const locked = h('p', { class: 'muted', hidden: true }, t('thread.locked'));
  const archived = h('p', { class: 'muted', id: 'thread-archived', hidden: true }, t('thread.archived'));
  const back = h('button', { type: 'button', id: 'thread-earlier', class: 'plain', hidden: true }, t('thread.earlier'));
  const show = (now) => {
    latest = now;
    const { conversation, messages } = now;
    heading.textContent = t('thread.with', { names: namesOf(conversation) });
    archived.hidden = !(conversation.status === 'archived' || conversation.archived_at);
    back.hidden = !older;
    renderThread(list, conversation, messages);
    locked.hidden = !conversation.locked;
    form.hidden = conversation.locked;
  };
  const reply = async () => {
    const body = box.value;
    if (!body.trim() && !files.chosen()) return;
    send.disabled = true;
    send.textContent = t('thread.sending');
    try {
      const ids = await files.upload(first.conversation.id);
      await api('POST', `/conversations/${first.conversation.id}/messages`, { body: { body, attachment_ids: ids } });
      box.value = '';
      files.clear();
      const now = await load(true);
      if (now) show(now);
    } catch (e) {
      failed(e);
    } finally {
      send.disabled = false;
      send.textContent = t('thread.send');
    }
  };
  // Reads the page before the first message shown; answers whether there are more before it.
  const earlier = async () => {
    if (!older || !latest) return false;
    back.disabled = true;
    try {
      const data = await api('GET', `/conversations/${first.conversation.id}/messages?limit=${PAGE}&before=${encodeURIComponent(older)}`);
      if (!stillShowing(viewId)) return;
      const top = latest.messages[0];
      extended = true;
      older = data.next_cursor;
      show({ conversation: latest.conversation, messages: [...data.data, ...latest.messages] });
      // The reader stays where they were: the message that was at the top is still in view.
      if (top) list.querySelector(`li[data-message="${top.id}"]`)?.scrollIntoView({ block: 'start' });
      if (back.hidden) list.focus({ preventScroll: true });
    } catch (e) { failed(e); } finally { back.disabled = false; }
    return Boolean(older);
  };
  back.addEventListener('click', () => earlier());
  show(first);
  main.replaceChildren(h('p', {}, h('a', { href: '#/inbox', id: 'back' }, t('thread.back'))), heading, archived, back, list, locked, form);
  list.lastElementChild?.scrollIntoView({ block: 'nearest' });
  state.poll = async () => {
    const now = await load(true);
    if (now && stillShowing(viewId)) show(now);
  };
  if (foundMessage) await revealFoundMessage(list, foundMessage, earlier, viewId);
}

/** The messages oldest first; "Read" under my last message that someone else has read. */
function renderThread(list, conversation, messages) {
  const names = new Map(conversation.participants.map((p) => [p.user.id, p.user.display_name]));
  const mine = messages.filter((m) => m.sender_id === me().id);
  const readOne = [...mine].reverse().find((m) => (m.read_by || []).some((u) => u !== me().id));
  const items = [];
  if (!messages.length) items.push(h('li', { class: 'muted' }, t('thread.empty')));
  for (const m of messages) {
    const isMine = m.sender_id === me().id;
    const who = isMine ? t('inbox.you') : names.get(m.sender_id) || '';
    items.push(h('li', { class: isMine ? 'msg mine' : 'msg', dataset: { message: m.id } },
      h('div', { class: 'meta' }, `${who} · `, h('time', { datetime: m.created_at }, when(m.created_at))),
      renderMessage(m)));
    if (readOne && m.id === readOne.id) {
      const readers = conversation.participants.filter((p) => p.user.id !== me().id && (m.read_by || []).includes(p.user.id));
      const at = readers.map((p) => p.last_read_at).filter(Boolean).sort().pop();
      items.push(h('li', { class: 'receipt', id: 'read-receipt' }, at ? t('thread.readAt', { time: when(at) }) : t('thread.read')));
    }
  }
  list.replaceChildren(...items);
  markFound(list);
}

// Pictures the server shows inline (the rest it only ever serves as downloads).
const INLINE_PICTURES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

function sizeText(n) {
  if (n >= 1024 * 1024) return t('file.mb', { n: (n / 1024 / 1024).toFixed(1) });
  if (n >= 1024) return t('file.kb', { n: Math.round(n / 1024) });
  return t('file.bytes', { n });
}

/** A message's content: its text, then its files (issue 16): pictures as thumbnails that open
 *  full size, every other file a link that saves it. The session cookie fetches them. */
function renderMessage(m) {
  const parts = [];
  if (m.body) parts.push(h('div', { class: 'body' }, m.body));
  const files = Array.isArray(m.files) ? m.files : [];
  if (files.length) {
    parts.push(h('ul', { class: 'files', 'aria-label': t('thread.attachments') },
      files.map((f) => {
        const label = t('file.label', { name: f.filename, size: sizeText(f.size) });
        if (INLINE_PICTURES.has(f.content_type)) {
          return h('li', {}, h('a', { href: f.url, target: '_blank', rel: 'noopener', 'aria-label': t('file.open', { name: f.filename }) },
            h('img', { class: 'thumb', src: f.url, alt: f.filename, loading: 'lazy' })),
          h('br'), h('a', { href: f.url, download: f.filename, class: 'file-link' }, label));
        }
        return h('li', {}, h('a', { href: f.url, download: f.filename, class: 'file-link' }, t('file.download', { label })));
      })));
  }
  return parts;
}

/** The reply form's files: a photo from the camera, or pictures and PDFs from the device. */
function filePicker() {
  const chosen = [];
  const listed = h('ul', { class: 'chosen', 'aria-live': 'polite' });
  const show = () => listed.replaceChildren(...chosen.map((f, i) => h('li', {}, f.name, ' ',
    h('button', { type: 'button', class: 'plain', onclick: () => { chosen.splice(i, 1); show(); } }, t('file.remove', { name: f.name })))));
  const input = (id, attrs, label) => {
    const el = h('input', { type: 'file', class: 'file-input', ...attrs });
    el.id = id;
    el.addEventListener('change', () => { chosen.push(...el.files); el.value = ''; show(); });
    return h('span', { class: 'attach' }, el, h('label', { for: id, class: 'button-like' }, label));
  };
  return {
    field: h('div', { class: 'attachments' },
      input('reply-photo', { accept: 'image/*', capture: 'environment' }, t('file.photo')),
      input('reply-file', { accept: 'image/*,application/pdf', multiple: true }, t('file.attach')),
      listed),
    chosen: () => chosen.length > 0,
    clear: () => { chosen.length = 0; show(); },
    /** Uploads the chosen files into conversation `conv`; their ids. */
    async upload(conv) {
      const ids = [];
      for (const file of chosen) {
        const res = await fetch(`${API}/conversations/${conv}/attachments?filename=${encodeURIComponent(file.name)}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/octet-stream', 'X-Parlor-CSRF': state.session.csrf_token, Accept: 'application/json' },
          body: file,
          credentials: 'same-origin',
        });
        const data = await res.json().catch(() => null);
        if (!res.ok) throw new ApiError(res.status, data && data.error ? data.error.message : `HTTP ${res.status}`);
        ids.push(data.id);
      }
      return ids;
    },
  };
}

// ---------- start a conversation ----------

async function newView(main, _arg, viewId) {
  const search = h('input', { type: 'search', id: 'contact-search', autocomplete: 'off' });
  const list = h('ul', { class: 'contacts', id: 'contacts' });
  let chosen = null;
  const body = h('textarea', { name: 'body', required: true });
  const to = h('p', { id: 'new-to' });
  const compose = h('form', { class: 'reply', id: 'new-form', hidden: true, onsubmit: (e) => { e.preventDefault(); start(); } },
    to, field('new-body', t('new.body'), body), h('div', {}, h('button', { type: 'submit', id: 'new-send' }, t('new.send'))));
  const pick = (c) => {
    chosen = c;
    to.replaceChildren(`${t('new.to')}: `, h('strong', {}, c.display_name), ' ',
      h('button', { type: 'button', class: 'plain', onclick: () => { chosen = null; compose.hidden = true; search.focus(); } }, t('new.change')));
    compose.hidden = false;
    body.focus();
  };
  const load = async () => {
    const q = search.value.trim();
    const data = await api('GET', `/contacts?limit=50${q ? `&q=${encodeURIComponent(q)}` : ''}`);
    if (!stillShowing(viewId)) return;
    list.replaceChildren(...(data.data.length ? data.data.map((c) => h('li', {},
      h('button', { type: 'button', dataset: { contact: c.id }, onclick: () => pick(c) },
        c.display_name, ' ', h('span', { class: 'muted' }, `(${t(`role.${c.role}`)})`))))
      : [h('li', { class: 'muted' }, t('new.none'))]));
  };
  const start = async () => {
    if (!chosen || !body.value.trim()) return;
    try {
      // An admin's new conversation is set up for the listed people alone: they list themselves.
      const participants = state.session.role === 'admin' ? [chosen.id, me().id] : [chosen.id];
      const c = await api('POST', '/conversations', { body: { participants } });
      await api('POST', `/conversations/${c.id}/messages`, { body: { body: body.value } });
      location.hash = `#/c/${c.id}`;
    } catch (e) { failed(e); }
  };
  let timer = null;
  search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => load().catch(failed), 250); });
  await load();
  if (!stillShowing(viewId)) return;
  main.replaceChildren(h('h1', {}, t('new.title')), h('p', {}, t('new.choose')),
    field('contact-search', t('new.search'), search), list, compose);
}

// ---------- my display name ----------

async function meView(main, _arg, viewId) {
  const user = await api('GET', '/me');
  if (!stillShowing(viewId)) return;
  const input = h('input', { name: 'display_name', maxlength: 80, required: true, value: user.display_name || '' });
  const form = h('form', { class: 'card', id: 'me-form', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const saved = await api('PATCH', '/me', { body: { display_name: input.value } });
      state.session.user = { ...state.session.user, display_name: saved.display_name };
      say(t('me.saved'));
    } catch (err) { failed(err); }
  } }, field('me-name', t('me.name'), input), h('div', { class: 'row' }, h('button', { type: 'submit', id: 'me-save' }, t('me.save'))));
  main.replaceChildren(h('h1', {}, t('me.title')), form,
    h('p', { id: 'me-language', class: 'muted' }, t('me.language')));
}

// ---------- the invite or reset link ----------

async function welcomeView(main, secret, viewId) {
  $('#nav').hidden = true;
  let invite;
  try {
    invite = await api('GET', `/invites/${encodeURIComponent(secret)}`, { signingIn: true });
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
    main.replaceChildren(h('h1', {}, t('welcome.title')),
      h('p', { id: 'welcome-invalid', class: 'notice', role: 'alert' }, t('welcome.invalid')),
      h('p', {}, h('a', { href: '#/inbox' }, t('signin.title'))));
    return;
  }
  if (state.view !== viewId) return;
  const reset = invite.purpose === 'reset';
  const who = { name: invite.name, clinic: invite.clinic_name };
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'new-password', required: true, minlength: 8 });
  const confirm = h('input', { type: 'password', name: 'confirm', autocomplete: 'new-password', required: true, minlength: 8 });
  const message = h('p', { class: 'notice', role: 'alert', id: 'welcome-message', hidden: true });
  const complain = (text) => { message.textContent = text; message.hidden = false; };
  const form = h('form', { class: 'card', id: 'welcome-form', onsubmit: async (e) => {
    e.preventDefault();
    if (password.value.length < 8) return complain(t('welcome.short'));
    if (password.value !== confirm.value) return complain(t('welcome.mismatch'));
    try {
      const session = await api('POST', `/invites/${encodeURIComponent(secret)}`, { body: { password: password.value, client: 'app' }, signingIn: true });
      location.hash = '#/inbox';
      await started(session);
    } catch (err) {
      complain(err.status === 404 ? t('welcome.invalid') : err.message);
    }
  } },
  h('h1', {}, reset ? t('welcome.reset') : t('welcome.title')),
  h('p', { id: 'welcome-who' }, reset ? t('welcome.whoReset', who) : t('welcome.who', who)),
  h('p', {}, t('welcome.username', { username: invite.username })),
  h('p', { class: 'muted' }, t('welcome.expires', { time: when(invite.expires_at) })),
  message,
  field('welcome-password', t('welcome.password'), password),
  field('welcome-confirm', t('welcome.confirm'), confirm),
  h('div', { class: 'row' }, h('button', { type: 'submit', id: 'welcome-submit' }, t('welcome.submit'))));
  main.replaceChildren(form);
  password.focus();
}

// ---------- start ----------

async function boot() {
  state.lang = chooseLanguage();
  applyChrome();
  $('#lang').addEventListener('change', (e) => {
    state.lang = e.target.value;
    localStorage.setItem(LANG_KEY, state.lang);
    saveLanguage();
    applyChrome();
    // The view is drawn again in the new language.
    if (state.session || location.hash.startsWith('#/welcome/')) route(); else showSignIn();
  });
  $('#sign-out').addEventListener('click', signOut);
  window.addEventListener('hashchange', () => route());
  if (location.hash.startsWith('#/welcome/')) { route(); return; }
  try {
    const session = await api('GET', '/session', { signingIn: true });
    await started(session);
  } catch (e) {
    showSignIn();
  }
}

boot();
