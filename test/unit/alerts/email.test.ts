import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { deliveryError, event, harness, settledAlerts, tempDir, type TestContext } from './helpers.js';

interface Received { readonly raw: string; readonly user: unknown; readonly secure: boolean; readonly from: string; readonly to: string[] }

/** A real SMTP server on 127.0.0.1 (smtp-server's built-in self-signed certificate for STARTTLS). */
async function smtpServer(t: TestContext, options: Partial<SMTPServerOptions> = {}): Promise<{ port: number; received: Received[] }> {
  const received: Received[] = [];
  const server = new SMTPServer({
    logger: false,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _session, callback) {
      if (auth.username === 'vigil' && auth.password === 's3cret pass') callback(null, { user: auth.username });
      else callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const address = (a: unknown): string => (a && typeof a === 'object' && 'address' in a ? String(a.address) : '');
        received.push({ raw: Buffer.concat(chunks).toString('utf8'), user: session.user, secure: session.secure, from: address(session.envelope.mailFrom), to: session.envelope.rcptTo.map(address) });
        callback();
      });
    },
    ...options,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.server.address() as AddressInfo).port, received };
}

function passwordFile(t: TestContext, password: string): string {
  const path = join(tempDir(t), 'smtp.pw');
  writeFileSync(path, `${password}\n`);
  return path;
}

test('email: STARTTLS and AUTH with the password file; subject and plain-text body carry the event', async (t) => {
  const smtp = await smtpServer(t);
  const { dispatcher } = harness(t, {
    channels: [{
      name: 'mail', kind: 'email', from: 'Vigil <vigil@example.org>', to: ['ops@example.org', 'dba@example.org'],
      smtp: { host: '127.0.0.1', port: smtp.port, starttls: 'required', user: 'vigil', passwordFile: passwordFile(t, 's3cret pass'), rejectUnauthorized: false },
    }],
    rules: [{ channels: ['mail'] }],
  });
  const settled = settledAlerts(dispatcher);
  dispatcher.notify(event({ message: 'web moved from beta' }));
  const [record] = await settled;
  assert.deepEqual(record!.channels.map((c) => [c.status, c.attempts]), [['ok', 1]]);

  assert.equal(smtp.received.length, 1);
  const mail = smtp.received[0]!;
  assert.equal(mail.secure, true, 'upgraded by STARTTLS before the message');
  assert.equal(mail.user, 'vigil', 'authenticated with the configured credentials');
  assert.equal(mail.from, 'vigil@example.org');
  assert.deepEqual(mail.to, ['ops@example.org', 'dba@example.org']);
  assert.match(mail.raw, /^Subject: \[vigil c1\] critical failover on alpha: web moved from beta\r$/m);
  assert.match(mail.raw, /^Content-Type: text\/plain/m);
  for (const line of ['Node:       alpha', 'Severity:   critical', 'Kind:       failover', 'Group:      web', 'Resource:   ip', 'Time:       2025-01-02T03:04:05.678Z', `Alert:      ${record!.id}`]) {
    assert.ok(mail.raw.includes(line), `body has "${line}"`);
  }
});

test('email: wrong credentials, a refused certificate and a missing STARTTLS are delivery errors with their codes', async (t) => {
  const smtp = await smtpServer(t);
  const plain = await smtpServer(t, { disabledCommands: ['STARTTLS', 'AUTH'] });
  const base = { kind: 'email', from: 'vigil@example.org', attempts: 1 } as const;
  const to = ['ops@example.org'];
  const { dispatcher } = harness(t, {
    channels: [
      { ...base, to, name: 'badpass', smtp: { host: '127.0.0.1', port: smtp.port, user: 'vigil', passwordFile: passwordFile(t, 'guess'), rejectUnauthorized: false } },
      { ...base, to, name: 'selfsigned', smtp: { host: '127.0.0.1', port: smtp.port } },
      { ...base, to, name: 'notls', smtp: { host: '127.0.0.1', port: plain.port, starttls: 'required' } },
    ],
    rules: [],
  });
  const deliveries = await dispatcher.test();
  assert.deepEqual(deliveries.map((d) => [d.channel, deliveryError(d).code]), [
    ['badpass', 'VIGIL_ALERT_AUTH'], ['selfsigned', 'VIGIL_ALERT_TLS'], ['notls', 'VIGIL_ALERT_TLS'],
  ]);
  assert.equal(smtp.received.length + plain.received.length, 0);
});

test('email: an unreachable server yields a delivery error in the record, not an exception', async (t) => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const { dispatcher, logs } = harness(t, {
    channels: [{ name: 'mail', kind: 'email', from: 'vigil@example.org', to: ['ops@example.org'], smtp: { host: '127.0.0.1', port }, retryDelay: '1ms', attempts: 2 }],
    rules: [{ channels: ['mail'] }],
  });
  const settled = settledAlerts(dispatcher);
  assert.doesNotThrow(() => dispatcher.notify(event()));
  const [record] = await settled;
  const delivery = record!.channels[0];
  assert.equal(deliveryError(delivery).code, 'VIGIL_ALERT_CONNECT');
  assert.match(deliveryError(delivery).message, new RegExp(`127\\.0\\.0\\.1:${port}`));
  assert.equal(delivery!.attempts, 2, 'a refused connection is retried');
  assert.deepEqual(dispatcher.recent(1), [record]);
  assert.ok(logs.some((l) => l.includes('VIGIL_ALERT_CONNECT')));
});
