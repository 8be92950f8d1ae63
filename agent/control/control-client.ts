/** A client of the local control socket, used by the `vigil` CLI and the tests. */
import { connect } from 'node:net';
import { ProtocolError, decodeResponse, encodeRequest, type Method, type Params, type Results } from '../../common/protocol/control.js';

export async function callAgent<M extends Method>(socketPath: string, method: M, params: Params<M>, timeoutMs = 10_000): Promise<Results[M]> {
  return new Promise<Results[M]>((resolve, reject) => {
    const socket = connect(socketPath);
    let buffer = '';
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`agent at ${socketPath} did not answer within ${timeoutMs} ms`)); }, timeoutMs);
    const finish = (fn: () => void): void => { clearTimeout(timer); socket.destroy(); fn(); };
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(encodeRequest(1, method, params) + '\n'));
    socket.on('error', (e: NodeJS.ErrnoException) => finish(() => reject(new Error(
      e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? `no agent is running at ${socketPath} (${e.code})` : `control socket ${socketPath}: ${e.message}`))));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      finish(() => {
        try {
          const response = decodeResponse(buffer.slice(0, newline));
          if (response.ok) resolve(response.result as Results[M]);
          else reject(new ProtocolError(response.error.code, response.error.message));
        } catch (e) {
          reject(e as Error);
        }
      });
    });
  });
}
