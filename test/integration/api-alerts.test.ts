// Alerts end to end: two real agents with an email channel (a real SMTP server with STARTTLS and AUTH) and a
// signed webhook (a real HTTP server) that a live configuration change adds to the rule; a switchover through the
// API, a test alert, and a failover after kill -9 reach both, and the API lists, acknowledges and tests them.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import type { AlertRecord } from '../../common/model/index.js';
import { ProtocolError } from '../../common/protocol/api.js';
import { LocalCluster, WEB_GROUP_YAML as GROUP } from '../support/agent-cluster.js';

const SMTP_USER = 'vigil';
const SMTP_PASSWORD = 'mail pass 42';
const WEBHOOK_KEY = 'webhook-signing-key-0123456789';

interface Mail { readonly subject: string; readonly raw: string; readonly user: unknown; readonly secure: boolean; readonly to: string[] }
interface Post { readonly path: string; readonly headers: IncomingHttpHeaders; readonly raw: Buffer }

/** A real SMTP server on 127.0.0.1 that wants STARTTLS (its built-in certificate) and a login. */
async function smtpServer(t: TestContext): Promise<{ port: number; mails: Mail[] }> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    logger: false,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _session, callback) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) callback(null, { user: auth.username });
      else callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        // Unfold the header (RFC 5322: a line break before white space continues the line).
        const headers = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n(?=[ \t])/g, '');
        const subject = (/^Subject: (.*)$/m.exec(headers)?.[1] ?? '').replace(/\s+/g, ' ').trim();
        const address = (a: unknown): string => (a && typeof a === 'object' && 'address' in a ? String(a.address) : '');
        mails.push({ subject, raw, user: session.user, secure: session.secure, to: session.envelope.rcptTo.map(address) });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.server.address() as AddressInfo).port, mails };
}

/** A real HTTP server on 127.0.0.1 that keeps every POST's raw body and answers 204. */
async function webhookServer(t: TestContext): Promise<{ port: number; posts: Post[] }> {
  const posts: Post[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      posts.push({ path: req.url ?? '', headers: req.headers, raw: Buffer.concat(chunks) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.after(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { port: (server.address() as AddressInfo).port, posts };
}

/** The check docs/alerts.md gives receivers: the HMAC of the bytes received, compared in constant time. */
function signedByVigil(raw: Buffer, header: string | string[] | undefined): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', WEBHOOK_KEY).update(raw).digest('hex')}`);
  const got = Buffer.from(typeof header === 'string' ? header : '');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

interface WebhookBody { readonly alert: string; readonly node: string; readonly test: boolean; readonly event: { readonly kind: string; readonly node: string; readonly group?: string } }

function body(post: Post): WebhookBody {
  return JSON.parse(post.raw.toString('utf8')) as WebhookBody;
}

test('alerts: a switchover, a test alert and a failover reach a real SMTP server and a signed webhook; listed and acknowledged through the API', async (t) => {
  const smtp = await smtpServer(t);
  const hook = await webhookServer(t);
  const secrets = mkdtempSync(join(tmpdir(), 'vigil-it-secrets-'));
  t.after(() => rmSync(secrets, { recursive: true, force: true }));
  writeFileSync(join(secrets, 'smtp.password'), `${SMTP_PASSWORD}\n`, { mode: 0o600 });
  writeFileSync(join(secrets, 'webhook.key'), `${WEBHOOK_KEY}\n`, { mode: 0o600 });

  const c = await LocalCluster.createWithApi(GROUP, {
    extraYaml: `alerts:
  channels:
    - name: ops-mail
      kind: email
      smtp: { host: 127.0.0.1, port: ${smtp.port}, starttls: required, user: ${SMTP_USER}, passwordFile: ${JSON.stringify(join(secrets, 'smtp.password'))}, rejectUnauthorized: false, timeout: 10s }
      from: "Vigil <vigil@example.org>"
      to: [ops@example.org]
    - name: pager
      kind: webhook
      url: "http://127.0.0.1:${hook.port}/vigil"
      secretFile: ${JSON.stringify(join(secrets, 'webhook.key'))}
      timeout: 10s
  rules:
    - { channels: [ops-mail], kinds: [switchover, failover] }
`,
    separateConfigs: true,
  });
  t.after(() => c.dispose());
  await c.startSettled();
  assert.deepEqual([smtp.mails.length, hook.posts.length], [0, 0], 'placing the group at start is not an alert of the rules');

  // The webhook joins the rule through a configuration change, applied live on both nodes.
  const installed = await c.call('alpha', 'config.get', {});
  const withPager = installed.text.replace('channels: [ops-mail], kinds', 'channels: [ops-mail, pager], kinds');
  const change = await c.call('alpha', 'config.propose', { text: withPager, baseGeneration: installed.generation, comment: 'page on failover' });
  assert.deepEqual([change.committed, change.live, change.reload], [['alpha', 'beta'], ['alerts'], []]);
  await c.waitFor('beta at the new generation', async () => (await c.call('beta', 'config.get', {})).generation === change.generation);

  // A switchover through the API: the node that took the request alerts on both channels.
  assert.deepEqual(await c.call('alpha', 'switchover', { group: 'web', node: 'beta' }), { group: 'web', target: 'beta' });
  const mail = await c.waitFor('the switchover email', () => smtp.mails.find((m) => m.subject.includes('switchover')));
  assert.equal(mail.subject, '[vigil it] info switchover on alpha: switchover of web to beta requested');
  assert.deepEqual([mail.secure, mail.user, mail.to], [true, SMTP_USER, ['ops@example.org']], 'sent after STARTTLS, logged in, to the configured address');
  const post = await c.waitFor('the switchover webhook', () => hook.posts.find((p) => body(p).event.kind === 'switchover'));
  assert.equal(post.path, '/vigil');
  assert.ok(signedByVigil(post.raw, post.headers['x-vigil-signature']), `X-Vigil-Signature ${String(post.headers['x-vigil-signature'])} signs the body`);
  const sent = body(post);
  assert.deepEqual([sent.node, sent.test, sent.event.group, post.headers['x-vigil-alert']], ['alpha', false, 'web', sent.alert]);
  assert.match(mail.raw, new RegExp(`Alert: +${sent.alert}`), 'the email and the webhook carry the same alert id');

  const delivered = await c.waitFor('the switchover alert listed with both deliveries ok', async () => {
    const record = (await c.call('alpha', 'alerts.list', {})).find((r) => r.id === sent.alert);
    return record?.channels.every((d) => d.status === 'ok') ? record : undefined;
  });
  assert.deepEqual(delivered.channels.map((d) => [d.channel, d.kind, d.status, d.attempts]), [['ops-mail', 'email', 'ok', 1], ['pager', 'webhook', 'ok', 1]]);
  assert.deepEqual([delivered.event.kind, delivered.test, delivered.acknowledged], ['switchover', false, undefined]);

  // Acknowledging needs an operator; the record names who it was.
  const viewer = c.token('vic', 'viewer');
  await assert.rejects(c.call('alpha', 'alerts.ack', { id: sent.alert }, { token: viewer }), (e) => e instanceof ProtocolError && e.code === 'FORBIDDEN');
  const acked = await c.call('alpha', 'alerts.ack', { id: sent.alert }, { token: c.token('oscar', 'operator') });
  assert.equal(acked.acknowledged?.by, 'oscar');
  const listed = (await c.call('alpha', 'alerts.list', {}, { token: viewer })).find((r) => r.id === sent.alert);
  assert.equal(listed?.acknowledged?.by, 'oscar', 'the acknowledgement is kept');
  await assert.rejects(c.call('alpha', 'alerts.ack', { id: 'no-such-alert' }), (e) => e instanceof ProtocolError && e.code === 'NOT_FOUND');

  // A test alert reaches both channels and says so.
  const mailsBefore = smtp.mails.length;
  const postsBefore = hook.posts.length;
  assert.deepEqual(await c.call('alpha', 'alerts.test', {}), [{ channel: 'ops-mail', ok: true }, { channel: 'pager', ok: true }]);
  const testMail = await c.waitFor('the test email', () => smtp.mails.slice(mailsBefore).find((m) => m.subject === '[vigil it] test alert from alpha'));
  assert.match(testMail.raw, /This is a test alert/);
  const testPost = await c.waitFor('the test webhook', () => hook.posts.slice(postsBefore).find((p) => body(p).test));
  assert.ok(signedByVigil(testPost.raw, testPost.headers['x-vigil-signature']));

  // kill -9 the node running web: the survivor fails it over and alerts.
  await c.waitFor('web running on beta', () => c.runningOn('web-app').join() === 'beta');
  await c.kill('beta');
  const failoverMail = await c.waitFor('the failover email from alpha', () => smtp.mails.find((m) => m.subject.includes('failover')), 30_000);
  assert.match(failoverMail.subject, /^\[vigil it\] warning failover on alpha: web fails over from beta to alpha/);
  const failoverPost = await c.waitFor('the failover webhook', () => hook.posts.find((p) => body(p).event.kind === 'failover'));
  assert.ok(signedByVigil(failoverPost.raw, failoverPost.headers['x-vigil-signature']));
  assert.deepEqual([body(failoverPost).node, body(failoverPost).event.group], ['alpha', 'web']);
  const failover: AlertRecord = await c.waitFor('the failover alert listed with both deliveries ok', async () => {
    const record = (await c.call('alpha', 'alerts.list', {})).find((r) => r.id === body(failoverPost).alert);
    return record?.channels.every((d) => d.status === 'ok') ? record : undefined;
  });
  assert.equal(failover.event.severity, 'warning');
  await c.waitFor('web running on alpha again', () => c.runningOn('web-app').join() === 'alpha');
});
