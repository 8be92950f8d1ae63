// The demo's protected service: a tiny HTTP server that says which node serves it.
import { createServer } from 'node:http';
const port = Number(process.env.DEMO_PORT ?? 8080);
const host = process.env.DEMO_HOST ?? '127.0.0.1';
const node = process.env.VIGIL_NODE ?? 'unknown';
createServer((_req, res) => res.end(`served by ${node} at ${new Date().toISOString()}\n`)).listen(port, host);
