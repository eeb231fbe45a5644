/**
 * Raw tus 1.0 and the IETF resumable-upload draft, request by request: each attempt asks a node
 * for the offset and appends from there, possibly dropping the connection mid-body.
 */
import { CHUNK, PARTIAL, TUS, draft, idOf, metadataHeader } from '../helpers/http-tus.js';
import { call, cutPoint, pieceFrom, type Step } from './attempt.js';
import type { Plan, Protocol, Session } from './protocol.js';

export const rawTus: Protocol = {
  name: 'tus',
  supports: () => true,
  async begin(plan, step) {
    const created = await call(`${step.base()}/files/`, 'tus POST', {
      method: 'POST',
      headers: { ...TUS, 'Upload-Length': plan.data.length, 'Upload-Metadata': metadataHeader({ filename: plan.name }) },
      expect: [201],
    });
    const id = idOf(new URL(created.header('location')!, step.base()).toString());
    return new TusSession(plan, id);
  },
};

class TusSession implements Session {
  readonly ref;
  constructor(private readonly plan: Plan, private readonly id: string) {
    this.ref = { kind: 'id', id } as const;
  }

  async advance(step: Step): Promise<boolean> {
    const head = await call(`${step.base()}/files/${this.id}`, 'tus HEAD', { method: 'HEAD', headers: TUS, expect: [200] });
    const offset = Number(head.header('upload-offset'));
    if (offset === this.plan.data.length) return true;
    const piece = pieceFrom(this.plan.data, offset, step.rng);
    const patched = await call(`${step.base()}/files/${this.id}`, 'tus PATCH', {
      method: 'PATCH',
      headers: { ...TUS, 'Content-Type': CHUNK, 'Upload-Offset': offset },
      body: piece,
      cutAt: cutPoint(step, piece.length),
      expect: [204],
      retry: [409],
    });
    step.progress();
    return Number(patched.header('upload-offset')) === this.plan.data.length;
  }

  downloadPath(): string {
    return `/files/${this.id}`;
  }
}

const INTEROP_VERSIONS = [5, 6, 7, 8] as const;

export const ietfDraft: Protocol = {
  name: 'ietf',
  supports: () => true,
  async begin(plan, step) {
    const version = step.rng.pick(INTEROP_VERSIONS);
    // Creation may carry a first piece (never cut: a cut creation leaves no URL to resume with).
    const first = step.rng.chance(0.3) ? pieceFrom(plan.data, 0, step.rng).subarray(0, plan.data.length - 1) : undefined;
    const created = await call(`${step.base()}/files/`, `ietf v${version} POST`, {
      method: 'POST',
      headers: draft(version, { 'Upload-Complete': '?0', 'Upload-Length': version >= 6 ? plan.data.length : undefined }),
      body: first,
      expect: [201],
    });
    return new IetfSession(plan, idOf(new URL(created.header('location')!, step.base()).toString()), version);
  },
};

class IetfSession implements Session {
  readonly ref;
  constructor(private readonly plan: Plan, private readonly id: string, private readonly version: number) {
    this.ref = { kind: 'id', id } as const;
  }

  async advance(step: Step): Promise<boolean> {
    const what = `ietf v${this.version}`;
    const head = await call(`${step.base()}/files/${this.id}`, `${what} HEAD`, { method: 'HEAD', headers: draft(this.version), expect: [204] });
    if (head.header('upload-complete') === '?1') return true;
    const offset = Number(head.header('upload-offset'));
    const piece = pieceFrom(this.plan.data, offset, step.rng);
    const last = offset + piece.length === this.plan.data.length;
    const appended = await call(`${step.base()}/files/${this.id}`, `${what} PATCH`, {
      method: 'PATCH',
      headers: draft(this.version, { 'Content-Type': PARTIAL, 'Upload-Offset': offset, 'Upload-Complete': last ? '?1' : '?0' }),
      body: piece,
      cutAt: cutPoint(step, piece.length),
      expect: [200, 201, 204],
      retry: [409],
    });
    step.progress();
    return appended.header('upload-complete') === '?1';
  }

  downloadPath(): string {
    return `/files/${this.id}`;
  }
}
