/**
 * The thread behind write-thread.ts: each file of a batch written with plain synchronous calls, and one message
 * answering the batch, in order. A failure is answered with its code for the Applier to handle (a folder or a
 * symlink where the file goes, a folder removed meanwhile); the rest of the batch goes on.
 */
import { closeSync, constants, fchmodSync, fchownSync, fsyncSync, futimesSync, lstatSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { PutBatch, PutReply, PutRequest } from './write-thread.js';
import { writePiece } from '../util/write-pieces.js';

const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const REPLACE = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

function put(request: PutRequest, data: Uint8Array): PutReply {
  let created = true;
  let fd: number;
  try {
    fd = openSync(request.path, CREATE_NEW, request.mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const existing = lstatSync(request.path);
    if (existing.isFile() && existing.nlink > 1) {
      // A name that shares its file with others (a hard link): the others keep theirs.
      unlinkSync(request.path);
      fd = openSync(request.path, CREATE_NEW, request.mode);
    } else {
      created = false;
      fd = openSync(request.path, REPLACE, request.mode);
    }
  }
  try {
    for (let written = 0; written < data.length;) written += writeSync(fd, data, written, writePiece(data.length - written), written);
    // An existing file keeps its mode through open.
    if (!created || request.chmodNew) fchmodSync(fd, request.mode);
    if (request.uid !== undefined || request.gid !== undefined) fchownSync(fd, request.uid ?? -1, request.gid ?? -1);
    // Seconds as a double keep the microseconds a Date would cut.
    futimesSync(fd, Date.now() / 1000, request.mtimeMs / 1000);
    if (request.durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return { created };
}

parentPort?.on('message', ({ requests, data }: PutBatch) => {
  const replies = requests.map((request) => {
    try {
      return put(request, new Uint8Array(data, request.offset, request.length));
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      return { error: { code: err.code ?? 'EIO', message: err.message } };
    }
  });
  parentPort!.postMessage(replies);
});
