// Parlor admin page: the control plane's part of the Stand-in view (README "The stand-in control
// plane"). It exists only where `GET /__parlor` answers this page 200: the server
// administrator on a stand-in (`--demo`, `--fixture`, `stand_in = true`). A tenant's admin is
// refused and a clinic's server answers 404; the panel is then not drawn at all.
// The page's session reaches /__parlor through a second cookie the server sets for that path
// at the server administrator's sign-in (a cookie has one path). Everything here is shared
// with app.js (classic scripts share globals: `h`, `api`, `act`, `formAct`, `field`, `say`,
// `when`, `stillShowing`, `state`, `ApiError`); what this file adds lives inside `ControlPlane`
// so that no name of it meets one of app.js's.
'use strict';

const ControlPlane = (() => {
  const BASE = '/__parlor';
  // What a rule's or a filter's `face` may name: the native API and the faces (`faces::FACES`;
  // the browser test keeps the two in step). Not read from `GET /parlor/v1/faces`: a fault
  // rule may be failing that call, and this panel is where the rule is removed.
  const SURFACES = ['native', 'mdlive', 'pigeons', 'respondent', 'tati', 'trillet'];
  const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
  const JOURNAL_FILTERS = ['face', 'method', 'path', 'status', 'tenant', 'sandbox', 'since', 'until', 'body'];
  const JOURNAL_PAGE = 25;

  /** Seeds are unsigned 64-bit numbers, past what a JavaScript number holds exactly: the
   *  answer's `"seed": <digits>` becomes a string before parsing, so that the page shows (and a
   *  flaky run is repeated with) the seed itself rather than a rounded one. Inside a recorded
   *  body the quotes are escaped (`\"seed\":`), which this leaves alone. */
  function exactSeeds(text) {
    return text.replace(/"seed":(\d+)/g, '"seed":"$1"');
  }

  /** The same, the other way: a seed typed as digits goes out as a JSON number, unrounded. */
  function withSeedNumber(body) {
    return JSON.stringify(body).replace(/"seed":"(\d+)"/g, '"seed":$1');
  }

  /** One call to the control plane, like `api` for the native API: the session cookie, the
   *  CSRF token on changes, the API's error message as the error. `json` is a body already
   *  written as JSON text; `raw` also gives back the answer's text. */
  async function call(method, path, opts = {}) {
    const headers = { Accept: 'application/json' };
    let body;
    if (opts.json !== undefined) body = opts.json;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && state.session) headers['X-Parlor-CSRF'] = state.session.csrf_token;
    const res = await fetch(BASE + path, {
      method, headers, body, credentials: 'same-origin', cache: 'no-store',
    });
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(exactSeeds(text)) : null; } catch (e) { data = null; }
    if (res.ok) return opts.raw ? { data, text } : data;
    if (res.status === 401 && !opts.probe) {
      // The session may have ended (idle, or the clock moved past it): the native API knows,
      // and signs the page out if so.
      await api('GET', '/session');
      throw new Error('The control plane did not accept this page’s session: sign out and in again.');
    }
    throw new ApiError(res.status, data && data.error ? data.error.message : `HTTP ${res.status}`);
  }

  const text = (v) => (v === null || v === undefined || v === '' ? '—' : String(v));
  const option = (value, label, chosen) => h('option', { value, selected: chosen !== undefined && String(value) === String(chosen) }, label);
  const table = (id, caption, heads, body) => h('div', { class: 'table-wrap' }, h('table', { id },
    h('caption', { class: 'skip' }, caption),
    h('thead', {}, h('tr', {}, heads.map((t) => h('th', { scope: 'col' }, t)))), body));
  const empty = (body, columns, words) => body.replaceChildren(h('tr', {}, h('td', { colspan: columns }, words)));
  const section = (id, title, ...children) => h('section', { class: 'control-part', id, 'aria-labelledby': `${id}-title` },
    h('h3', { id: `${id}-title` }, title), ...children);
  const trimmed = (form, name) => (form.elements[name] ? form.elements[name].value.trim() : '');
  const wholeNumber = (v, name) => {
    if (!/^\d+$/.test(v)) throw new Error(`${name} must be a whole number.`);
    return Number(v);
  };
  const decimal = (v, name) => {
    if (v === '' || !Number.isFinite(Number(v))) throw new Error(`${name} must be a number.`);
    return Number(v);
  };
  const size = (bytes) => (bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`);
  /** A part's memory of what it drew: `changed(key, data)` says whether `data` differs from
   *  what was drawn last under `key`. An unchanged table is left as it is, so that a keyboard
   *  user's focus (and a button being clicked) stays put. One per drawing of the view. */
  const tracker = () => {
    const drawn = {};
    return (key, data) => {
      const seen = JSON.stringify(data);
      if (drawn[key] === seen) return false;
      drawn[key] = seen;
      return true;
    };
  };
  const clockTime = (iso) => h('span', {}, h('time', { datetime: iso }, iso), ` (${when(iso)} your time)`);

  /** Draws the panel into `place` if the control plane answers. `place.dataset.state` says
   *  what came of it (`absent` or `shown`). */
  async function show(place, viewId) {
    let info;
    try {
      info = await call('GET', '', { probe: true });
    } catch (e) {
      // 401/403: not the server administrator; 404: a clinic's server. Either way, no panel;
      // anything else is worth saying.
      if (!stillShowing(viewId)) return;
      place.dataset.state = 'absent';
      if (!(e instanceof ApiError && [401, 403, 404].includes(e.status))) say(`The control plane did not answer: ${e.message}`, true);
      return;
    }
    if (!stillShowing(viewId)) return;
    const start = info.start.kind === 'fixture' ? `the fixture ${info.start.fixture}`
      : info.start.kind === 'demo' ? 'the demo data' : 'an empty database';

    const parts = {
      state: stateParts(viewId, () => refreshAll()),
      clock: clockPart(viewId),
      ids: idsPart(viewId),
      faults: faultsPart(viewId),
      journal: journalPart(viewId),
    };
    async function refreshAll() {
      await Promise.all(Object.values(parts).map((p) => p.load()));
    }

    place.replaceChildren(h('section', { id: 'control-plane', class: 'control-plane', 'aria-labelledby': 'control-plane-title' },
      h('h2', { id: 'control-plane-title', tabindex: '-1' }, 'Control plane'),
      h('p', {}, `This server is a stand-in (Parlor ${info.version}), started from ${start}. `,
        'What a test suite does under ', h('code', {}, '/__parlor/'), ' can be done here: every change applies to the whole server ',
        '(sandboxes have their own data, opened by the ', h('code', {}, 'X-Parlor-Sandbox'), ' header).'),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Start state'), h('dd', { id: 'control-start' }, start),
        h('dt', {}, 'Parlor’s clock'), h('dd', { id: 'control-now' }, clockTime(info.now))),
      h('p', {}, h('button', {
        type: 'button', class: 'secondary', id: 'control-refresh',
        onclick: () => act(refreshAll),
      }, 'Read everything again'), ' (sandboxes’ use, rules’ counts and the journal change as requests come in).'),
      h('nav', { 'aria-label': 'Control plane parts' }, h('ul', { class: 'control-toc' },
        [['control-state', 'State'], ['control-sandboxes', 'Sandboxes'], ['control-clock', 'Clock'], ['control-ids', 'Ids'],
          ['control-faults', 'Faults'], ['control-journal', 'Journal']]
          .map(([id, label]) => h('li', {}, h('a', {
            href: `#stand-in`,
            onclick: (e) => { e.preventDefault(); const t = document.getElementById(`${id}-title`); t.tabIndex = -1; t.focus(); t.scrollIntoView(); },
          }, label))))),
      parts.state.nodes,
      parts.clock.node,
      parts.ids.node,
      parts.faults.node,
      parts.journal.node));
    place.dataset.state = 'shown';
    await refreshAll();
  }

  // ---------- state: reset, snapshots, sandboxes ----------

  function stateParts(viewId, afterRestore) {
    const changed = tracker();
    const snapshots = h('tbody');
    const sandboxes = h('tbody');
    const sandboxCount = h('p', { id: 'sandbox-count' });
    const from = h('select', { name: 'from' });
    const saveError = formError('snapshot-save-error');
    const openError = formError('sandbox-open-error');

    const restored = async (what) => {
      await afterRestore();
      say(what);
    };
    const reset = () => {
      if (!confirm('Reset the server to its start state? Everything written since it started is gone (snapshots, sandboxes and the journal stay).')) return;
      act(async () => { await call('POST', '/reset'); await restored('The server is back at its start state.'); });
    };

    const stateNode = section('control-state', 'State: reset and snapshots',
      h('p', {}, 'A reset or a restore waits for requests in flight and is seen by none half done. Tokens and sessions made since ',
        'the state was saved stop working.'),
      h('p', {}, h('button', { type: 'button', class: 'danger', id: 'control-reset', onclick: reset }, 'Reset to the start state')),
      h('h4', {}, 'Snapshots'),
      table('snapshots', 'Snapshots, by name', ['Name', 'Saved', 'Size', '', ''], snapshots),
      h('form', {
        id: 'snapshot-save', class: 'inline',
        onsubmit: (e) => {
          e.preventDefault();
          const form = e.target;
          const name = trimmed(form, 'name');
          formAct(saveError, async () => {
            await call('POST', '/snapshots', { body: { name } });
            form.reset();
            await load();
          }, `Snapshot ${name} saved.`);
        },
      }, field('snapshot-name', 'Save the state now as (A-Z a-z 0-9 . _ -)', h('input', { name: 'name', required: true, maxlength: '64', autocomplete: 'off' })),
      h('button', { type: 'submit', id: 'snapshot-save-button' }, 'Save snapshot')),
      saveError);

    const sandboxNode = section('control-sandboxes', 'Sandboxes',
      h('p', {}, 'A request with ', h('code', {}, 'X-Parlor-Sandbox: <name>'), ' works on that sandbox’s own database, opened on first use ',
        'from the start state (or the snapshot in ', h('code', {}, 'X-Parlor-Sandbox-From'), '); the least recently used closes when too many are open.'),
      sandboxCount,
      table('sandboxes', 'Open sandboxes', ['Name', 'Opened from', 'Opened', 'Last used', 'Requests', ''], sandboxes),
      h('form', {
        id: 'sandbox-open', class: 'inline',
        onsubmit: (e) => {
          e.preventDefault();
          const form = e.target;
          const name = trimmed(form, 'name');
          const origin = form.elements.from.value;
          formAct(openError, async () => {
            await call('POST', '/sandboxes', { body: origin ? { name, from: origin } : { name } });
            form.elements.name.value = '';
            await load();
          }, `Sandbox ${name} opened.`);
        },
      }, field('sandbox-name', 'Open a sandbox named', h('input', { name: 'name', required: true, maxlength: '64', autocomplete: 'off' })),
      field('sandbox-from', 'From', from),
      h('button', { type: 'submit', id: 'sandbox-open-button' }, 'Open sandbox')),
      openError);

    async function load() {
      const [snaps, boxes] = await Promise.all([call('GET', '/snapshots'), call('GET', '/sandboxes')]);
      if (!stillShowing(viewId)) return;
      if (changed('snapshots', snaps)) drawSnapshots(snaps);
      if (changed('sandboxes', boxes)) drawSandboxes(boxes);
    }
    function drawSnapshots(snaps) {
      snapshots.replaceChildren(...snaps.snapshots.map((s) => h('tr', { dataset: { snapshot: s.name } },
        h('td', {}, h('code', {}, s.name)), h('td', {}, when(s.created_at)), h('td', {}, size(s.size)),
        h('td', {}, h('button', {
          type: 'button', class: 'secondary', dataset: { restore: s.name },
          onclick: () => {
            if (!confirm(`Restore snapshot ${s.name}? Everything written since it was saved is gone.`)) return;
            act(async () => { await call('POST', `/snapshots/${encodeURIComponent(s.name)}/restore`); await restored(`Snapshot ${s.name} restored.`); });
          },
        }, `Restore ${s.name}`)),
        h('td', {}, h('button', {
          type: 'button', class: 'danger', dataset: { delete: s.name },
          onclick: () => {
            if (!confirm(`Delete snapshot ${s.name}?`)) return;
            act(async () => { await call('DELETE', `/snapshots/${encodeURIComponent(s.name)}`); await load(); }, `Snapshot ${s.name} deleted.`);
          },
        }, `Delete ${s.name}`)))));
      if (!snaps.snapshots.length) empty(snapshots, 5, 'No snapshots.');
      const chosen = from.value;
      from.replaceChildren(option('', 'the start state', chosen),
        ...snaps.snapshots.map((s) => option(s.name, `snapshot ${s.name}`, chosen)));
    }
    function drawSandboxes(boxes) {
      sandboxCount.textContent = `${boxes.sandboxes.length} open, at most ${boxes.cap}.`;
      sandboxes.replaceChildren(...boxes.sandboxes.map((b) => h('tr', { dataset: { sandbox: b.name } },
        h('td', {}, h('code', {}, b.name)),
        h('td', {}, b.snapshot === null ? 'the start state' : `snapshot ${b.snapshot}`),
        h('td', {}, when(b.created_at)), h('td', {}, when(b.last_used_at)), h('td', {}, b.requests),
        h('td', {}, h('button', {
          type: 'button', class: 'danger', dataset: { close: b.name },
          onclick: () => {
            if (!confirm(`Close sandbox ${b.name} and remove its data?`)) return;
            act(async () => { await call('DELETE', `/sandboxes/${encodeURIComponent(b.name)}`); await load(); }, `Sandbox ${b.name} closed.`);
          },
        }, `Close ${b.name}`)))));
      if (!boxes.sandboxes.length) empty(sandboxes, 6, 'No sandbox is open.');
    }
    return { nodes: [stateNode, sandboxNode], load };
  }

  // ---------- the clock and ids ----------

  function clockPart(viewId) {
    const facts = h('dl', { class: 'facts', id: 'clock-facts' });
    const at = h('input', { name: 'at', required: true, autocomplete: 'off', spellcheck: 'false', size: '26' });
    const setError = formError('clock-set-error');
    const advanceError = formError('clock-advance-error');
    const runOn = h('button', {
      type: 'button', class: 'secondary', id: 'clock-run-on',
      onclick: () => put({ frozen: false }, 'The clock runs on.'),
    }, 'Let it run on');

    const put = (body, done) => act(async () => { render(await call('PUT', '/clock', { body })); }, done);
    // Enter in the time's box is the first button's: freeze at that time.
    const setTo = (e) => {
      e.preventDefault();
      const key = e.submitter && e.submitter.value === 'now' ? 'now' : 'frozen_at';
      const value = trimmed(e.target, 'at');
      formAct(setError, async () => { render(await call('PUT', '/clock', { body: { [key]: value } })); },
        key === 'frozen_at' ? `The clock is frozen at ${value}.` : `The clock runs from ${value}.`);
    };
    const idle = state.session && state.session.idle_timeout_seconds;

    const node = section('control-clock', 'Clock',
      h('p', {}, 'Every timestamp, token lifetime, JWT expiry and session timeout follows Parlor’s one clock, sandboxes included.',
        idle ? ` This page’s session follows it too: moving it more than ${Math.round(idle / 60)} minutes ahead signs you out.` : ''),
      facts,
      h('div', { class: 'inline' },
        h('button', { type: 'button', id: 'clock-freeze', onclick: () => put({ frozen: true }, 'The clock is frozen.') }, 'Freeze now'),
        runOn,
        h('button', {
          type: 'button', class: 'secondary', id: 'clock-release',
          onclick: () => act(async () => { render(await call('DELETE', '/clock')); }, 'Back to the system clock.'),
        }, 'Back to the system clock')),
      h('form', { id: 'clock-set', class: 'inline', onsubmit: setTo },
        field('clock-at', 'Set it to (RFC 3339, e.g. 2031-03-04T05:06:07Z)', at),
        h('button', { type: 'submit', id: 'clock-freeze-at', value: 'frozen_at' }, 'Freeze at this time'),
        h('button', { type: 'submit', class: 'secondary', id: 'clock-run-from', value: 'now' }, 'Run from this time')),
      setError,
      h('form', {
        id: 'clock-advance', class: 'inline',
        onsubmit: (e) => {
          e.preventDefault();
          const by = trimmed(e.target, 'by');
          formAct(advanceError, async () => { render(await call('POST', '/clock/advance', { body: { by } })); }, `The clock moved ${by} forward.`);
        },
      }, field('clock-by', 'Advance by (250ms, 90s, 5m, 2h, 1d, 1h30m)', h('input', { name: 'by', required: true, autocomplete: 'off', size: '10' })),
      h('button', { type: 'submit', id: 'clock-advance-button' }, 'Advance')),
      advanceError);

    function render(clock) {
      if (!stillShowing(viewId)) return;
      const offset = clock.offset_ms;
      facts.replaceChildren(
        h('dt', {}, 'Now'), h('dd', { id: 'clock-now' }, clockTime(clock.now)),
        h('dt', {}, 'State'), h('dd', { id: 'clock-state', dataset: { frozen: String(clock.frozen) } },
          clock.frozen ? 'frozen' : offset === 0 ? 'running, the system clock' : `running, ${offset > 0 ? 'ahead of' : 'behind'} the system clock by ${Math.abs(offset)} ms`));
      runOn.disabled = !clock.frozen;
      if (!at.value) at.value = clock.now;
      const top = $('#control-now');
      if (top) top.replaceChildren(clockTime(clock.now));
    }
    async function load() { render(await call('GET', '/clock')); }
    return { node, load };
  }

  function idsPart(viewId) {
    const facts = h('p', { id: 'ids-state' });
    const seedError = formError('ids-seed-error');
    const node = section('control-ids', 'Ids',
      h('p', {}, 'A seed makes every new uuid, oid, token and secret reproducible: two runs seeded alike, sent the same requests ',
        'in the same order (with the clock frozen), hand out the same ids. Each sandbox derives its own sequence from it.'),
      facts,
      h('form', {
        id: 'ids-seed', class: 'inline',
        onsubmit: (e) => {
          e.preventDefault();
          const form = e.target;
          const seed = form.elements.seed.value;
          const asNumber = form.elements.kind.value === 'number';
          formAct(seedError, async () => {
            if (asNumber && !/^\d+$/.test(seed.trim())) throw new Error('A number seed is a whole number, 0 to 18446744073709551615.');
            const json = asNumber ? withSeedNumber({ seed: seed.trim() }) : JSON.stringify({ seed });
            render(await call('PUT', '/ids', { json, raw: true }));
          }, 'Ids are seeded.');
        },
      }, field('ids-seed-value', 'Seed', h('input', { name: 'seed', required: true, autocomplete: 'off' })),
      field('ids-seed-kind', 'As', h('select', { name: 'kind' }, option('number', 'a whole number'), option('text', 'a text'))),
      h('button', { type: 'submit', id: 'ids-seed-button' }, 'Seed'),
      h('button', {
        type: 'button', class: 'secondary', id: 'ids-unseed',
        onclick: () => act(async () => { render(await call('DELETE', '/ids', { raw: true })); }, 'Ids come from the operating system again.'),
      }, 'Unseed')),
      seedError);

    /** `GET /__parlor/ids` as `call` gives it with `raw`: a seed given as a number is shown as
     *  one, a text one in quotes (both are strings once parsed, see `exactSeeds`). */
    function render({ data: ids, text: answer }) {
      if (!stillShowing(viewId)) return;
      const number = /"seed":\d/.test(answer);
      facts.dataset.seeded = String(ids.seeded);
      facts.replaceChildren(...ids.seeded
        ? ['Seeded with ', number ? 'the number ' : 'the text ', h('code', { id: 'ids-seed-shown' }, number ? ids.seed : JSON.stringify(ids.seed)), '.']
        : ['Not seeded: ids come from the operating system’s generator.']);
    }
    async function load() { render(await call('GET', '/ids', { raw: true })); }
    return { node, load };
  }

  // ---------- fault and latency rules ----------

  function faultsPart(viewId) {
    const changed = tracker();
    const rules = h('tbody');
    const error = formError('fault-add-error');
    const delayKind = h('select', { name: 'delay_kind' },
      option('', 'no delay'), option('fixed', 'fixed'), option('uniform', 'uniform between two'), option('lognormal', 'log-normal'));
    const delayFields = {
      fixed: h('div', { class: 'inline', hidden: true },
        field('fault-delay-ms', 'Delay (ms)', h('input', { name: 'delay_ms', type: 'number', min: '0', max: '300000' }))),
      uniform: h('div', { class: 'inline', hidden: true },
        field('fault-uniform-low', 'From (ms)', h('input', { name: 'uniform_low', type: 'number', min: '0', max: '300000' })),
        field('fault-uniform-high', 'To (ms)', h('input', { name: 'uniform_high', type: 'number', min: '0', max: '300000' }))),
      lognormal: h('div', { class: 'inline', hidden: true },
        field('fault-median', 'Median (ms)', h('input', { name: 'median_ms', type: 'number', min: '0', max: '300000' })),
        field('fault-sigma', 'Sigma', h('input', { name: 'sigma', type: 'number', min: '0', step: 'any' }))),
    };
    delayKind.addEventListener('change', () => {
      for (const [kind, box] of Object.entries(delayFields)) box.hidden = kind !== delayKind.value;
    });

    /** The rule the form describes, as `POST /__parlor/faults` takes it: empty fields left out,
     *  so that the API (which names the field at fault) decides what goes together. */
    function ruleBody(form) {
      const v = (name) => trimmed(form, name);
      const body = {};
      for (const k of ['face', 'route', 'method', 'sandbox']) if (v(k)) body[k] = v(k);
      if (v('tenant')) body.tenant = /^\d+$/.test(v('tenant')) ? Number(v('tenant')) : v('tenant');
      if (v('times')) body.times = wholeNumber(v('times'), 'Times');
      if (v('probability')) body.probability = decimal(v('probability'), 'The probability');
      if (v('seed')) { wholeNumber(v('seed'), 'The seed'); body.seed = v('seed'); }
      if (v('status')) body.status = wholeNumber(v('status'), 'The status');
      if (v('retry_after')) body.retry_after = wholeNumber(v('retry_after'), 'Retry-After');
      const kind = delayKind.value;
      if (kind === 'fixed') body.delay_ms = wholeNumber(v('delay_ms'), 'The delay');
      if (kind === 'uniform') body.delay = { uniform_ms: [wholeNumber(v('uniform_low'), 'From'), wholeNumber(v('uniform_high'), 'To')] };
      if (kind === 'lognormal') body.delay = { lognormal: { median_ms: wholeNumber(v('median_ms'), 'The median'), sigma: decimal(v('sigma'), 'Sigma') } };
      if (v('connection')) body.connection = v('connection');
      return withSeedNumber(body);
    }

    const node = section('control-faults', 'Faults and latency',
      h('p', {}, 'Make the “vendor” fail, slow down or cut the connection on the calls a rule’s scope takes, each answer in that face’s ',
        'own format. Rules are checked in order; the first that fires applies. A rule that does not name a face applies to the ',
        'native API too, and so to this page’s own calls (never to the control plane’s).'),
      table('faults', 'Fault rules, in the order they are checked', ['Id', 'Scope', 'Fires', 'Effect', 'Fired', ''], rules),
      h('p', {}, h('button', {
        type: 'button', class: 'danger', id: 'faults-clear',
        onclick: () => {
          if (!confirm('Remove every fault rule?')) return;
          act(async () => { await call('DELETE', '/faults'); await load(); }, 'Every fault rule was removed.');
        },
      }, 'Remove every rule')),
      h('h4', {}, 'New rule'),
      h('form', {
        id: 'fault-new', class: 'control-form',
        onsubmit: (e) => {
          e.preventDefault();
          const form = e.target;
          formAct(error, async () => {
            const rule = await call('POST', '/faults', { json: ruleBody(form) });
            await load();
            say(`Rule ${rule.id} added (seed ${rule.seed}).`);
          });
        },
      },
      h('fieldset', {}, h('legend', {}, 'Scope: which requests (every field given must match)'),
        h('div', { class: 'inline' },
          field('fault-face', 'Face', h('select', { name: 'face' }, option('', 'any'), SURFACES.map((s) => option(s, s)))),
          field('fault-method', 'Method', h('select', { name: 'method' }, option('', 'any'), METHODS.map((m) => option(m, m)))),
          field('fault-route', 'Route (* one segment, ** any)', h('input', { name: 'route', size: '34', autocomplete: 'off', placeholder: '/api/v1/pigeons/chat/**' })),
          field('fault-tenant', 'Tenant (id or uuid)', h('input', { name: 'tenant', size: '10', autocomplete: 'off' })),
          field('fault-sandbox', 'Sandbox', h('input', { name: 'sandbox', size: '14', autocomplete: 'off' })))),
      h('fieldset', {}, h('legend', {}, 'Firing: how often (empty: every time)'),
        h('div', { class: 'inline' },
          field('fault-times', 'Times (the next N calls)', h('input', { name: 'times', type: 'number', min: '1' })),
          field('fault-probability', 'Probability (0 to 1)', h('input', { name: 'probability', type: 'number', min: '0', max: '1', step: 'any' })),
          field('fault-seed', 'Seed (empty: one is chosen)', h('input', { name: 'seed', inputmode: 'numeric', autocomplete: 'off', size: '22' })))),
      h('fieldset', {}, h('legend', {}, 'Effect: at least one (a status and a connection cut do not go together)'),
        h('div', { class: 'inline' },
          field('fault-status', 'Status (400–599, the vendor’s own body)', h('input', { name: 'status', type: 'number', min: '400', max: '599' })),
          field('fault-retry-after', 'Retry-After (seconds)', h('input', { name: 'retry_after', type: 'number', min: '0' })),
          field('fault-connection', 'Connection', h('select', { name: 'connection' }, option('', 'answer normally'),
            option('drop', 'drop: reset, nothing sent'), option('empty', 'empty: close, nothing sent'),
            option('truncate', 'truncate: half the body, then close')))),
        h('div', { class: 'inline' }, field('fault-delay-kind', 'Delay', delayKind)),
        Object.values(delayFields)),
      error,
      h('p', {}, h('button', { type: 'submit', id: 'fault-add' }, 'Add rule'))));

    function scope(r) {
      const parts = [];
      if (r.face) parts.push(`face ${r.face}`);
      if (r.method) parts.push(r.method);
      if (r.route) parts.push(r.route);
      if (r.tenant !== undefined && r.tenant !== null) parts.push(`tenant ${r.tenant}`);
      if (r.sandbox) parts.push(`sandbox ${r.sandbox}`);
      return parts.length ? parts.join(' · ') : 'every request';
    }
    function firing(r) {
      const parts = [];
      if (r.times) parts.push(`the next ${r.times}`);
      if (r.probability !== undefined && r.probability !== null) parts.push(`with probability ${r.probability}`);
      if (!parts.length) parts.push('every time');
      return [parts.join(', '), h('br'), 'seed ', h('code', { class: 'seed' }, r.seed)];
    }
    function effect(r) {
      const parts = [];
      if (r.delay_ms !== undefined && r.delay_ms !== null) parts.push(`wait ${r.delay_ms} ms`);
      if (r.delay && r.delay.fixed_ms !== undefined) parts.push(`wait ${r.delay.fixed_ms} ms`);
      if (r.delay && r.delay.uniform_ms) parts.push(`wait ${r.delay.uniform_ms[0]}–${r.delay.uniform_ms[1]} ms`);
      if (r.delay && r.delay.lognormal) parts.push(`wait about ${r.delay.lognormal.median_ms} ms (log-normal, sigma ${r.delay.lognormal.sigma})`);
      if (r.status) parts.push(`answer ${r.status}${r.retry_after !== undefined && r.retry_after !== null ? ` with Retry-After ${r.retry_after}` : ''}`);
      if (r.connection) parts.push(`${r.connection} the connection`);
      return parts.join(', then ');
    }

    async function load() {
      const { data } = await call('GET', '/faults');
      if (!stillShowing(viewId) || !changed('faults', data)) return;
      rules.replaceChildren(...data.map((r) => h('tr', { dataset: { rule: r.id, fired: r.fired } },
        h('td', {}, r.id), h('td', { class: 'scope' }, scope(r)), h('td', {}, firing(r)), h('td', {}, effect(r)),
        h('td', { class: 'fired' }, r.fired, r.remaining !== null ? `, ${r.remaining} left` : '', r.spent ? ' (spent)' : ''),
        h('td', {}, h('button', {
          type: 'button', class: 'danger', dataset: { remove: r.id },
          onclick: () => act(async () => { await call('DELETE', `/faults/${r.id}`); await load(); }, `Rule ${r.id} removed.`),
        }, `Remove rule ${r.id}`)))));
      if (!data.length) empty(rules, 6, 'No fault rules: every request is answered normally.');
    }
    return { node, load };
  }

  // ---------- the request journal ----------

  function journalPart(viewId) {
    const entries = h('tbody');
    const pager = h('div', { class: 'pager' });
    const summary = h('p', { id: 'journal-summary', 'aria-live': 'polite' });
    const counted = h('p', { id: 'journal-count', 'aria-live': 'polite' });
    const detail = h('div', { id: 'journal-detail' });
    const filterError = formError('journal-filter-error');
    const har = h('a', { id: 'journal-har', class: 'button-link', href: `${BASE}/journal.har`, download: 'parlor-journal.har' },
      'Download these requests as HAR');
    let applied = new URLSearchParams();

    const filters = h('form', {
      id: 'journal-filter', class: 'inline', role: 'search', 'aria-label': 'Filter the request journal',
      onsubmit: (e) => {
        e.preventDefault();
        formAct(filterError, () => load(formFilters(), false));
      },
    },
    field('journal-face', 'Face', h('select', { name: 'face' }, option('', 'any'), SURFACES.map((s) => option(s, s)))),
    field('journal-method', 'Method', h('select', { name: 'method' }, option('', 'any'), METHODS.map((m) => option(m, m)))),
    field('journal-path', 'Path (* any characters)', h('input', { name: 'path', size: '28', autocomplete: 'off' })),
    field('journal-status', 'Status (404 or 4xx)', h('input', { name: 'status', size: '5', autocomplete: 'off' })),
    field('journal-tenant', 'Tenant id', h('input', { name: 'tenant', size: '6', inputmode: 'numeric', autocomplete: 'off' })),
    field('journal-sandbox', 'Sandbox', h('input', { name: 'sandbox', size: '12', autocomplete: 'off' })),
    field('journal-since', 'Since (date or RFC 3339)', h('input', { name: 'since', size: '22', autocomplete: 'off' })),
    field('journal-until', 'Until (excluded)', h('input', { name: 'until', size: '22', autocomplete: 'off' })),
    field('journal-body', 'Body contains', h('input', { name: 'body', size: '16', autocomplete: 'off' })),
    h('button', { type: 'submit', id: 'journal-apply' }, 'Show'),
    h('button', {
      type: 'button', class: 'secondary', id: 'journal-verify',
      onclick: () => {
        const body = Object.fromEntries(formFilters());
        formAct(filterError, async () => {
          const c = await call('POST', '/journal/verify', { body });
          counted.textContent = `${c.count} recorded ${c.count === 1 ? 'request matches' : 'requests match'} `
            + `${Object.keys(body).length ? 'the filters above' : 'no filter (that is all of them)'}`
            + (c.dropped ? `; ${c.dropped} went unrecorded since the start (the journal’s queue was full).` : '.');
        });
      },
    }, 'Count matching (verify)'));

    const node = section('control-journal', 'Request journal',
      h('p', {}, 'Every request to a vendor face or the native API, newest first, with secrets masked and bodies cut at 64 KiB ',
        '(this page’s own calls to the native API are among them). A request no route matched lists the face’s nearest routes.'),
      filters,
      filterError,
      counted,
      h('div', { class: 'inline' },
        har,
        h('button', { type: 'button', class: 'secondary', id: 'journal-refresh', onclick: () => act(() => load(applied, false)) }, 'Refresh'),
        h('button', {
          type: 'button', class: 'danger', id: 'journal-clear',
          onclick: () => {
            if (!confirm('Remove every recorded request from the journal?')) return;
            act(async () => {
              const { removed } = await call('DELETE', '/journal');
              detail.replaceChildren();
              await load(applied, false);
              say(`The journal was cleared: ${removed} ${removed === 1 ? 'entry' : 'entries'} removed.`);
            });
          },
        }, 'Clear the journal')),
      summary,
      table('journal', 'Recorded requests, newest first', ['Time', 'Face', 'Request', 'Status', 'Route', 'Sandbox', 'Tenant', 'Duration', ''], entries),
      pager,
      detail);

    function formFilters() {
      const form = filters;
      const params = new URLSearchParams();
      for (const k of JOURNAL_FILTERS) {
        const v = trimmed(form, k);
        if (v) params.set(k, v);
      }
      return params;
    }

    /** The first page for `params` (replacing the list), or the next one (`before`). */
    async function load(params, before) {
      const query = new URLSearchParams(params);
      query.set('limit', String(JOURNAL_PAGE));
      if (before) query.set('before', before);
      const page = await call('GET', `/journal?${query}`);
      if (!stillShowing(viewId)) return;
      // Accepted by the API: the download takes the same filters.
      applied = new URLSearchParams(params);
      const q = applied.toString();
      har.href = `${BASE}/journal.har${q ? `?${q}` : ''}`;
      const rows = page.data.map(entryRow);
      if (before) entries.append(...rows); else entries.replaceChildren(...rows);
      if (!entries.children.length) empty(entries, 9, q ? 'No recorded request matches.' : 'Nothing recorded yet.');
      const shown = entries.querySelectorAll('tr[data-entry]').length;
      summary.textContent = `${shown} ${shown === 1 ? 'request' : 'requests'} shown${page.next_cursor ? ', older ones follow' : ''}.`
        + (page.dropped ? ` ${page.dropped} went unrecorded (the journal’s queue was full).` : '');
      pager.replaceChildren(page.next_cursor ? h('button', {
        type: 'button', class: 'secondary', id: 'journal-older',
        onclick: () => act(async () => {
          await load(applied, page.next_cursor);
          const older = $('#journal-older');
          if (older) older.focus();
        }),
      }, 'Older') : '');
    }

    function entryRow(e) {
      const near = e.route === null && e.near_misses.length ? e.near_misses[0] : null;
      return h('tr', { dataset: { entry: e.id, status: e.status } },
        h('td', { class: 'time' }, h('time', { datetime: e.at }, when(e.at))),
        h('td', {}, e.face),
        h('td', { class: 'request' }, h('code', {}, `${e.method} ${e.path}${e.query ? `?${e.query}` : ''}`)),
        h('td', { class: e.status >= 400 || e.status === 0 ? 'status failed' : 'status' }, e.status === 0 ? '0 (no answer)' : e.status),
        h('td', { class: 'route' }, e.route ? h('code', {}, e.route) : near ? ['no route; nearest ', h('code', {}, `${near.method} ${near.route}`)] : '—'),
        h('td', {}, text(e.sandbox)),
        h('td', {}, text(e.tenant)),
        h('td', { class: 'duration' }, `${e.duration_ms} ms`),
        h('td', {}, h('button', {
          type: 'button', class: 'secondary', dataset: { open: e.id }, 'aria-label': `Details of request ${e.id}`,
          onclick: () => act(() => showEntry(e.id)),
        }, 'Details')));
    }

    function bodyOf(m) {
      if (m.body === null || m.body === undefined) return h('p', {}, m.body_size ? `(${m.body_size} bytes, not recorded)` : '(no body)');
      let shown = m.body;
      if (!m.body_encoding && !m.body_truncated) {
        try { shown = JSON.stringify(JSON.parse(m.body), null, 2); } catch (e) { shown = m.body; }
      }
      return [
        m.body_truncated || m.body_encoding ? h('p', { class: 'meta' },
          m.body_encoding ? `Recorded as ${m.body_encoding}. ` : '',
          m.body_truncated ? `Cut: the first 64 KiB of ${m.body_size} bytes.` : '') : null,
        h('pre', { class: 'payload body', tabindex: '0' }, shown),
      ];
    }

    function headersOf(list) {
      return list.length
        ? h('dl', { class: 'headers' }, list.map((x) => [h('dt', {}, x.name), h('dd', {}, x.value)]))
        : h('p', {}, '(none)');
    }

    async function showEntry(id) {
      const e = await call('GET', `/journal/${id}`);
      if (!stillShowing(viewId)) return;
      detail.replaceChildren(h('section', { class: 'journal-entry', dataset: { entry: e.id }, 'aria-labelledby': 'journal-entry-title' },
        h('h4', { id: 'journal-entry-title', tabindex: '-1' }, `Request ${e.id}: ${e.method} ${e.path}, ${e.status === 0 ? 'no answer' : e.status}`),
        h('dl', { class: 'facts' },
          h('dt', {}, 'At'), h('dd', {}, clockTime(e.at)),
          h('dt', {}, 'Face'), h('dd', {}, e.face),
          h('dt', {}, 'Query'), h('dd', {}, e.query ? h('code', {}, e.query) : '—'),
          h('dt', {}, 'Route'), h('dd', {}, e.route ? h('code', {}, e.route) : 'none matched'),
          h('dt', {}, 'Tenant'), h('dd', {}, text(e.tenant)),
          h('dt', {}, 'Sandbox'), h('dd', {}, text(e.sandbox)),
          h('dt', {}, 'Duration'), h('dd', {}, `${e.duration_ms} ms`)),
        e.near_misses.length ? [h('h5', {}, 'Near misses: the face’s nearest routes'),
          h('ol', { class: 'near-misses' }, e.near_misses.map((n) => h('li', {},
            h('code', {}, `${n.method} ${n.route}`), ` (distance ${n.distance})`)))] : null,
        h('div', { class: 'columns' },
          h('div', { class: 'journal-request' }, h('h5', {}, 'Request headers'), headersOf(e.request.headers),
            h('h5', {}, 'Request body'), bodyOf(e.request)),
          h('div', { class: 'journal-response' }, h('h5', {}, `Response headers (${e.status === 0 ? 'no answer' : e.status})`), headersOf(e.response.headers),
            h('h5', {}, 'Response body'), bodyOf(e.response)))));
      $('#journal-entry-title').focus();
    }

    return { node, load: () => load(applied, false) };
  }

  return { show };
})();
