// What a suite does with the fixture: its code under test talks to a vendor face (here
// Respondent's messaging API), the test plays the other side through the native API, and
// asserts on what Parlor recorded.
import { expect } from 'vitest';
import { ADMIN, test } from './parlor.js';

// The demo's Respondent credentials, as the code under test would be configured with them.
const RESPONDENT = { 'x-api-key': 'demo-respondent-key', 'x-api-secret': 'demo-respondent-secret' };
// The demo clinic (tenant 1): provider 4 and patient 52 share conversation 2.
const CLINIC = { ...ADMIN, 'X-Parlor-Tenant': '1', 'Content-Type': 'application/json' };

const unread = async (sandbox, user) => {
  const answer = await sandbox.call(`/parlor/v1/unread?as=${user}`, { headers: CLINIC });
  expect(answer.status).toBe(200);
  return (await answer.json()).total;
};

test('the code under test lists conversations', async ({ sandbox }) => {
  const answer = await sandbox.call('/v1/messaging/conversations', { headers: RESPONDENT });
  expect(answer.status).toBe(200);
  expect(await sandbox.sent({ face: 'respondent', method: 'GET', path: '/v1/messaging/conversations' })).toBe(1);
});

test('a reply raises the patient\'s badge', async ({ sandbox }) => {
  const before = await unread(sandbox, 52);
  const sent = await sandbox.call('/parlor/v1/conversations/2/messages', {
    method: 'POST',
    headers: CLINIC,
    body: JSON.stringify({ as: 4, body: 'Your lab results are in.' }),
  });
  expect(sent.status).toBe(201);
  expect(await unread(sandbox, 52)).toBe(before + 1);
});

test('another sandbox never sees that reply', async ({ sandbox }) => {
  const answer = await sandbox.call('/parlor/v1/conversations/2/messages', { headers: CLINIC });
  expect(answer.status).toBe(200);
  const bodies = (await answer.json()).data.map((m) => m.body);
  expect(bodies).not.toContain('Your lab results are in.');
  expect(await sandbox.sent({ face: 'respondent' })).toBe(0);
});
