// `test` with a `sandbox` fixture: each test's own database on the shared server (the
// X-Parlor-Sandbox header), removed when the test ends, and what the journal recorded of it.
import { randomUUID } from 'node:crypto';
import { inject, test as base } from 'vitest';

export const ADMIN = { Authorization: 'Bearer parlor-demo-admin-token' };

export const test = base.extend({
  sandbox: async ({ task }, use) => {
    const url = inject('parlorUrl');
    const name = `${task.name.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 40)}-${randomUUID().slice(0, 8)}`;
    const call = (path, init = {}) => fetch(url + path, {
      ...init,
      headers: { 'X-Parlor-Sandbox': name, ...(init.headers || {}) },
    });
    const sent = async (filters) => {
      const answer = await fetch(`${url}/__parlor/journal/verify`, {
        method: 'POST',
        headers: { ...ADMIN, 'Content-Type': 'application/json' },
        body: JSON.stringify({ sandbox: name, ...filters }),
      });
      if (!answer.ok) throw new Error(`journal: ${answer.status}`);
      return (await answer.json()).count;
    };
    await use({ name, call, sent });
    await fetch(`${url}/__parlor/sandboxes/${name}`, { method: 'DELETE', headers: ADMIN });
  },
});
