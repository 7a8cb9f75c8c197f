// Message search in the clinic's app (issue 16): the inbox's search box also finds the user's
// messages by their text (GET /parlor/v1/search, their own conversations only), best first
// with a snippet each; a hit opens its conversation at the message. Loaded after app.js and
// uses its helpers (api, h, t, when, me, namesOf, stillShowing). Snippets arrive as pieces of
// plain text: the matches become <mark> elements built here, never HTML from the server.
'use strict';

/** The search's pieces as text nodes, the matches in <mark>. */
function snippetNodes(pieces) {
  return (pieces || []).map((p) => (p.match ? h('mark', {}, p.text) : document.createTextNode(p.text)));
}

// Only the latest search typed is shown: answers to earlier ones are dropped.
let searchAsked = 0;

/**
 * Fills `box` with the user's messages matching `text`, 20 at a time. Nothing for an empty
 * search. While a search is still being typed (an open quote, a lone OR) the box says to
 * finish it instead of showing the server's reason.
 */
async function showMessageHits(box, text, viewId) {
  const mine = ++searchAsked;
  if (!text) {
    box.replaceChildren();
    return;
  }
  // An admin's own messages, as the app's inbox shows an admin their own conversations.
  const as = state.session.role === 'admin' ? `&as=${me().id}` : '';
  const list = h('ol', { class: 'hits', id: 'message-hits' });
  const note = h('p', { class: 'muted', id: 'message-hits-note' });
  const more = h('button', { type: 'button', class: 'plain', id: 'message-hits-more', hidden: true }, t('search.more'));
  let after = null;
  const page = async () => {
    let found;
    try {
      found = await api('GET', `/search?q=${encodeURIComponent(text)}&limit=20${as}${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 400) throw e;
      if (stillShowing(viewId) && mine === searchAsked) {
        box.replaceChildren(h('h2', {}, t('search.title')), h('p', { class: 'muted', id: 'message-hits-note' }, t('search.incomplete')));
      }
      return false;
    }
    if (!stillShowing(viewId) || mine !== searchAsked) return false;
    list.append(...found.data.map(hitRow));
    after = found.next_cursor;
    more.hidden = !after;
    note.textContent = !list.children.length ? t('search.none') : found.truncated ? t('search.truncated') : '';
    return true;
  };
  more.addEventListener('click', () => page().catch(failed));
  if (await page()) box.replaceChildren(h('h2', {}, t('search.title')), note, list, more);
}

function hitRow(hit) {
  const who = hit.sender_id === me().id ? t('inbox.you') : (hit.sender_name || '');
  return h('li', { dataset: { message: hit.message_id } },
    h('a', { href: `#/c/${hit.conversation_id}/${hit.message_id}` },
      h('span', { class: 'meta' }, `${who} · `, h('time', { datetime: hit.created_at }, when(hit.created_at)),
        hit.conversation_name ? ` · ${hit.conversation_name}` : ''),
      h('span', { class: 'snippet' }, snippetNodes(hit.snippet))));
}

/**
 * The thread was opened from a hit: earlier pages are read (`earlier`, which answers whether
 * there are more) until the message is shown, then it is marked, on every refresh too
 * (`markFound`), and brought into view.
 */
async function revealFoundMessage(list, messageId, earlier, viewId) {
  list.dataset.found = messageId;
  const row = () => list.querySelector(`li[data-message="${messageId}"]`);
  for (let pages = 0; !row() && pages < 50 && stillShowing(viewId); pages += 1) {
    if (!(await earlier())) break;
  }
  markFound(list);
  row()?.scrollIntoView({ block: 'center' });
}

/** Marks the message a search opened the thread at, if it is shown. */
function markFound(list) {
  const id = list.dataset.found;
  if (!id) return;
  list.querySelector(`li[data-message="${id}"]`)?.classList.add('found');
}
