// Message search on the admin page (issue 16): the inbox's search box also finds messages by
// their text (GET /parlor/v1/search), listed best first with a snippet each; a hit opens its
// conversation at the message. Loaded after app.js and uses its helpers (api, h, when,
// stillShowing). Snippets arrive as pieces of plain text: the matches become <mark> elements
// built here, never HTML from the server.
'use strict';

/** The search's pieces as text nodes, the matches in <mark>. */
function snippetNodes(pieces) {
  return (pieces || []).map((p) => (p.match ? h('mark', {}, p.text) : document.createTextNode(p.text)));
}

/**
 * Fills `box` with the messages matching `text`, 20 at a time ("More messages" adds the next
 * 20). Nothing for an empty search. A search the server refuses (an unbalanced quote, say)
 * shows its reason in the box.
 */
// Only the latest search asked is shown: answers to earlier ones are dropped.
let hitsAsked = 0;

async function showMessageHits(box, text, viewId) {
  const mine = ++hitsAsked;
  const current = () => stillShowing(viewId) && mine === hitsAsked;
  box.replaceChildren();
  if (!text) return;
  const list = h('ol', { class: 'hits', id: 'message-hits' });
  const note = h('p', { class: 'muted', id: 'message-hits-note' });
  const more = h('button', { type: 'button', class: 'secondary', id: 'message-hits-more', hidden: true }, 'More messages');
  box.append(h('h2', { id: 'message-hits-title' }, 'Messages'), note, list, more);
  let after = null;
  async function page() {
    const params = new URLSearchParams({ q: text, limit: '20' });
    if (after) params.set('after', after);
    let res;
    try {
      res = await api('GET', `/search?${params}`);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 400) throw e;
      if (current()) note.textContent = `Messages not searched: ${e.message}`;
      return;
    }
    if (!current()) return;
    const found = res.data;
    list.append(...found.data.map(hitRow));
    after = found.next_cursor;
    more.hidden = !after;
    if (!list.children.length) note.textContent = 'No message has these words.';
    else if (found.truncated) {
      note.textContent = 'So many messages match that these are the best of the newest 10,000: add a word to search further back.';
    } else note.textContent = '';
  }
  more.addEventListener('click', () => act(page));
  await page();
}

function hitRow(hit) {
  const where = hit.conversation_name || `Conversation ${hit.conversation_id}`;
  return h('li', { dataset: { message: hit.message_id } },
    h('a', { href: `#conversation/${hit.conversation_id}/${hit.message_id}` }, where),
    h('span', { class: 'meta' }, ` · ${hit.sender_name || `user ${hit.sender_id}`} · ${when(hit.created_at)}`),
    h('div', { class: 'snippet' }, snippetNodes(hit.snippet)));
}

/**
 * The conversation view was opened from a hit: the message is marked in the thread, where
 * `markFound` keeps marking it on every refresh, and brought into view. A message older than
 * the thread shows is shown above it with its neighbours.
 */
async function revealFoundMessage(thread, context, conversationId, messageId, viewId) {
  thread.dataset.found = messageId;
  markFound(thread);
  const row = thread.querySelector(`li[data-message="${messageId}"]`);
  if (row) {
    row.scrollIntoView({ block: 'center' });
    return;
  }
  const message = (await api('GET', `/messages/${messageId}`)).data;
  const near = await api('GET', `/conversations/${conversationId}/messages?after=${Math.max(0, message.seq - 3)}&limit=7`);
  if (!stillShowing(viewId)) return;
  context.replaceChildren(
    h('h2', {}, 'The message found, with the ones around it'),
    h('ol', { class: 'thread', id: 'found-context' }, near.data.data.map((m) => h('li', {
      dataset: { message: m.id }, class: m.id === message.id ? 'found' : null,
    }, h('div', { class: 'meta' }, when(m.created_at)), h('div', { class: 'body' }, m.body)))));
}

/** Marks the message a search opened the thread at, if it is shown. */
function markFound(thread) {
  const id = thread.dataset.found;
  if (!id) return;
  const row = thread.querySelector(`li[data-message="${id}"]`);
  if (row) row.classList.add('found');
}
