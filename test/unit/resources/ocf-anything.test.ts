import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLinuxPlatform } from '../../../agent/platform/linux/index.js';
import { createResourceAgent } from '../../../agent/resources/index.js';
import { defer, isRunning, killOnExit, ocfConfig, readPids, tempDir, waitFor } from './support.js';

const ANYTHING = '/usr/lib/ocf/resource.d/heartbeat/anything';

// Debian's resource-agents package, run unchanged. CI installs it and never skips (it fails if it is missing);
// elsewhere the test says why it skips.
test("Debian's ocf:heartbeat:anything runs unchanged: start a sleep, monitor, stop", { skip: existsSync(ANYTHING) || process.env['CI'] ? false : `${ANYTHING} is missing (apt-get install resource-agents)` }, async (t) => {
  const dir = tempDir(t);
  const pidfile = join(dir, 'sleep.pid');
  killOnExit(t, () => readPids(pidfile));
  const agent = createResourceAgent(
    ocfConfig({ id: 'sleeper', agent: 'ocf:heartbeat:anything', params: { binfile: '/bin/sleep', cmdline_options: '300', pidfile, logfile: join(dir, 'sleep.log') } }),
    { stateDir: dir, platform: createLinuxPlatform() },
  );
  defer(t, () => agent.dispose());

  const metaData = await agent.run('meta-data');
  assert.equal(metaData.rc, 0);
  assert.match(metaData.stdout ?? '', /<resource-agent name="anything"/);
  assert.equal((await agent.run('probe')).rc, 7);
  const started = await agent.run('start');
  assert.equal(started.rc, 0, started.message);
  const [pid] = readPids(pidfile);
  assert.ok(pid !== undefined && isRunning(pid));
  assert.deepEqual(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'), ['/bin/sleep', '300', '']);
  assert.equal((await agent.run('monitor')).rc, 0);
  assert.equal((await agent.run('start')).rc, 0, 'start is idempotent');

  const stopped = await agent.run('stop');
  assert.equal(stopped.rc, 0, stopped.message);
  await waitFor('the sleep to end', () => !isRunning(pid));
  assert.equal((await agent.run('monitor')).rc, 7);
  assert.equal((await agent.run('stop')).rc, 0, 'stop is idempotent');
});
