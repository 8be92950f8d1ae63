import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { formatSyslog, SyslogChannel } from '../../../agent/alerts/syslog.js';
import { alertsConfig, deliveryError, event, harness, message, parseSyslog, settledAlerts, tempDir, type TestContext } from './helpers.js';

/** A TCP (or unix stream) listener collecting everything each connection sends. */
async function streamListener(t: TestContext, listen: (server: ReturnType<typeof createServer>, ready: () => void) => void): Promise<{ received: Promise<string>; server: ReturnType<typeof createServer> }> {
  const sockets = new Set<Socket>();
  let deliver: (text: string) => void = () => undefined;
  const received = new Promise<string>((resolve) => { deliver = resolve; });
  const server = createServer((socket) => {
    sockets.add(socket);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => { text += chunk; });
    socket.on('end', () => { deliver(text); socket.end(); });
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => listen(server, resolve));
  t.after(() => new Promise<void>((resolve) => { sockets.forEach((s) => s.destroy()); server.close(() => resolve()); }));
  return { received, server };
}

test('the RFC 5424 line: PRI from facility and severity, timestamp, host = node, app, msgid = kind, escaped SD, BOM', () => {
  const line = formatSyslog(message({ event: event({ group: 'we"b]', message: 'web moved\nfrom beta' }), suppressed: 3 }), { facility: 'local3', appName: 'vigil', procId: 42 });
  const parsed = parseSyslog(line);
  assert.equal(parsed.pri, 19 * 8 + 2, 'local3.crit');
  assert.equal(parsed.timestamp, '2025-01-02T03:04:05.678Z');
  assert.deepEqual([parsed.hostname, parsed.appName, parsed.procId, parsed.msgId, parsed.sdId], ['alpha', 'vigil', '42', 'failover', 'vigil@32473']);
  assert.deepEqual(parsed.sd, { alert: 'a1', cluster: 'c1', node: 'alpha', severity: 'critical', group: 'we"b]', resource: 'ip', suppressed: '3' });
  assert.ok(line.includes('group="we\\"b\\]"'), line);
  assert.equal(parsed.msg, '\u{FEFF}web moved from beta');
  assert.equal(parseSyslog(formatSyslog(message({ event: event({ severity: 'warning' }) }), { facility: 'daemon', appName: 'x' })).pri, 3 * 8 + 4);
  assert.equal(parseSyslog(formatSyslog(message({ event: event({ severity: 'info' }) }), { facility: 'kern', appName: 'x' })).pri, 6);
  const long = formatSyslog(message({ event: event({ message: 'é'.repeat(3000) }) }), { facility: 'daemon', appName: 'x' }, 2048);
  assert.ok(Buffer.byteLength(long) <= 2048 && long.endsWith('é'), 'cut on a character boundary');
});

test('syslog over UDP: one datagram per alert, to a real listener', async (t) => {
  const listener = createSocket('udp4');
  t.after(() => listener.close());
  const datagram = new Promise<string>((resolve) => listener.once('message', (msg) => resolve(msg.toString('utf8'))));
  await new Promise<void>((resolve) => listener.bind(0, '127.0.0.1', resolve));
  const { dispatcher } = harness(t, {
    channels: [{ name: 'siem', kind: 'syslog', transport: 'udp', address: `127.0.0.1:${listener.address().port}`, facility: 'local0', appName: 'vigil-test' }],
    rules: [{ channels: ['siem'] }],
  });
  const settled = settledAlerts(dispatcher);
  dispatcher.notify(event({ kind: 'peer-lost', severity: 'warning', group: 'db', message: 'beta lost' }));
  const [record] = await settled;
  assert.equal(record!.channels[0]!.status, 'ok');
  const parsed = parseSyslog(await datagram);
  assert.equal(parsed.pri, 16 * 8 + 4);
  assert.deepEqual([parsed.hostname, parsed.appName, parsed.msgId, parsed.procId], ['alpha', 'vigil-test', 'peer-lost', String(process.pid)]);
  assert.equal(parsed.sd['group'], 'db');
  assert.equal(parsed.sd['alert'], record!.id);
});

test('syslog over TCP: octet-counting framing (RFC 6587)', async (t) => {
  const { received, server } = await streamListener(t, (s, ready) => s.listen(0, '127.0.0.1', ready));
  const { dispatcher } = harness(t, {
    channels: [{ name: 'siem', kind: 'syslog', transport: 'tcp', address: `127.0.0.1:${(server.address() as AddressInfo).port}` }],
    rules: [{ channels: ['siem'] }],
  });
  dispatcher.notify(event({ message: 'web moved from bêta' }));
  const framed = await received;
  const match = /^(\d+) /.exec(framed);
  assert.ok(match, framed);
  const line = framed.slice(match[0].length);
  assert.equal(Buffer.byteLength(line), Number(match[1]), 'the count is of bytes, and nothing follows the message');
  const parsed = parseSyslog(line);
  assert.equal(parsed.pri, 3 * 8 + 2, 'daemon.crit by default');
  assert.equal(parsed.msgId, 'failover');
  assert.deepEqual([parsed.sd['group'], parsed.sd['resource']], ['web', 'ip']);
  assert.equal(parsed.msg, '\u{FEFF}web moved from bêta');
});

test('syslog over TCP to a closed port is a connection error, retried as configured', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const [config] = alertsConfig({ channels: [{ name: 's', kind: 'syslog', transport: 'tcp', address: `127.0.0.1:${port}` }] }).channels;
  const result = await new SyslogChannel(config as Extract<typeof config, { kind: 'syslog' }>).attempt(message(), new AbortController().signal);
  assert.equal(result.ok === false && result.code, 'VIGIL_ALERT_CONNECT');
  assert.equal(result.ok === false && result.retryable, true);
});


test('syslog over a unix socket goes through util-linux logger', async (t) => {
  const path = join(tempDir(t), 'log.sock');
  const { received } = await streamListener(t, (s, ready) => s.listen(path, ready));
  const { dispatcher } = harness(t, { channels: [{ name: 'local', kind: 'syslog', transport: 'unix', address: path, facility: 'local7' }], rules: [{ channels: ['local'] }] });
  const [delivery] = await dispatcher.test('local');
  assert.equal(delivery!.status, 'ok');
  const parsed = parseSyslog((await received).trim());
  assert.equal(parsed.pri, 23 * 8 + 6, 'local7.info');
  assert.deepEqual([parsed.appName, parsed.msgId], ['vigil', 'test']);
  assert.equal(parsed.sd['test'], 'true');

  const missing = harness(t, { channels: [{ name: 'local', kind: 'syslog', transport: 'unix', address: join(path, '..', 'absent.sock') }], rules: [] });
  const [failed] = await missing.dispatcher.test();
  assert.equal(deliveryError(failed).code, 'VIGIL_ALERT_CONNECT');
  assert.match(deliveryError(failed).message, /absent\.sock/);
});
