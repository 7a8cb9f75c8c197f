// Attachments on the admin page (issue 16): a thread's files (pictures as thumbnails, any
// other file as a download link) and the file picker of the send form. Loaded after app.js,
// whose helpers (h, api, state, API, act) it uses.
//
// Files are fetched with the page's own headers (the session, and X-Parlor-Tenant for the
// server admin) and shown from the blob, so the same code serves every signed-in admin. Only
// pictures the server itself marks safe to show (content_type among INLINE) become <img>;
// everything else is a link that saves the file, never a page the browser opens.

const INLINE_PICTURES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

function fileHeaders() {
  const headers = {};
  if (state.session && state.session.server_admin && state.tenant) headers['X-Parlor-Tenant'] = String(state.tenant);
  return headers;
}

async function fetchFile(file) {
  const res = await fetch(file.url, { headers: fileHeaders(), credentials: 'same-origin', cache: 'no-store' });
  if (!res.ok) throw new ApiError(res.status, `${file.filename}: HTTP ${res.status}`);
  return res.blob();
}

function sizeText(n) {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} bytes`;
}

// A thread is drawn again on every change: each picture is fetched once per page load.
const thumbnails = new Map();

function thumbnail(f) {
  if (!thumbnails.has(f.id)) {
    const url = fetchFile(f).then((blob) => URL.createObjectURL(blob));
    url.catch(() => thumbnails.delete(f.id));
    thumbnails.set(f.id, url);
  }
  return thumbnails.get(f.id);
}

/** The files of message `m`, or nothing. */
function renderFiles(m) {
  if (!m.files || !m.files.length) return null;
  return h('ul', { class: 'files', 'aria-label': 'Attached files' }, m.files.map((f) => {
    const label = `${f.filename} (${f.content_type}, ${sizeText(f.size)})`;
    const link = h('a', {
      href: f.url,
      class: 'file-link',
      dataset: { file: f.id },
      onclick: (e) => {
        e.preventDefault();
        act(async () => {
          const blob = await fetchFile(f);
          const url = URL.createObjectURL(new Blob([blob], { type: 'application/octet-stream' }));
          const a = h('a', { href: url, download: f.filename });
          document.body.append(a);
          a.click();
          a.remove();
          setTimeout(() => URL.revokeObjectURL(url), 60000);
        });
      },
    }, `Download ${label}`);
    if (!INLINE_PICTURES.has(f.content_type)) return h('li', {}, link);
    const img = h('img', { class: 'thumb', alt: f.filename, dataset: { file: f.id } });
    thumbnail(f).then((url) => { img.src = url; }).catch(() => { img.alt = `${f.filename} (could not be loaded)`; });
    return h('li', {}, img, h('br'), link);
  }));
}

/** The send form's file input and the upload of what it holds, before the message goes. */
function filePicker(id) {
  const input = h('input', { type: 'file', multiple: true, accept: 'image/*,application/pdf,*/*' });
  input.id = id;
  return {
    input,
    field: h('div', {}, h('label', { for: id }, 'Attach files (optional)'), input),
    chosen: () => input.files.length > 0,
    /** Uploads every chosen file as `asUser` into conversation `conv`; their ids. */
    async upload(conv, asUser) {
      const ids = [];
      for (const file of input.files) {
        const headers = { ...fileHeaders(), 'Content-Type': 'application/octet-stream' };
        if (state.session) headers['X-Parlor-CSRF'] = state.session.csrf_token;
        const params = new URLSearchParams({ as: String(asUser), filename: file.name });
        const res = await fetch(`${API}/conversations/${conv}/attachments?${params}`, {
          method: 'POST', headers, body: file, credentials: 'same-origin',
        });
        const data = await res.json().catch(() => null);
        if (!res.ok) throw new ApiError(res.status, data && data.error ? data.error.message : `HTTP ${res.status}`);
        ids.push(data.id);
      }
      return ids;
    },
    clear: () => { input.value = ''; },
  };
}
