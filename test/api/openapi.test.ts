import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface Operation {
  responses: Record<string, unknown>;
  requestBody?: { content: Record<string, { schema: unknown }> };
}

describe('OpenAPI document', () => {
  let server: TestServer;
  let doc: { openapi: string; paths: Record<string, Record<string, Operation>> };

  before(async () => {
    server = await startTestServer({ auth: 'required' });
    const response = await fetch(`${server.url}/api/v1/openapi.json`);
    assert.equal(response.status, 200, 'public, no token needed');
    doc = (await response.json()) as typeof doc;
  });
  after(async () => server.stop());

  it('is a valid OpenAPI 3.1 document, by an independent validator', async () => {
    assert.equal(doc.openapi, '3.1.0');
    await SwaggerParser.validate(structuredClone(doc) as never);
  });

  it('describes every /api/v1 route the server answers', () => {
    const expected = [
      'post /api/v1/auth/signup', 'post /api/v1/auth/login', 'post /api/v1/auth/logout', 'get /api/v1/auth/me',
      'post /api/v1/auth/keys', 'get /api/v1/auth/keys', 'delete /api/v1/auth/keys/{id}',
      'get /api/v1/files', 'get /api/v1/files/{id}', 'patch /api/v1/files/{id}', 'delete /api/v1/files/{id}',
      'get /api/v1/files/{id}/content', 'head /api/v1/files/{id}/content', 'post /api/v1/files/{id}/link',
      'post /api/v1/uploads', 'get /api/v1/uploads/{id}', 'patch /api/v1/uploads/{id}', 'delete /api/v1/uploads/{id}',
      'put /api/v1/uploads/{id}/chunks/{index}', 'post /api/v1/uploads/{id}/complete', 'post /api/v1/uploads/{id}/proof',
      'post /api/v1/uploads/{id}/chunks/{index}/presign', 'post /api/v1/uploads/{id}/chunks/{index}/uploaded',
      'get /api/v1/flow', 'post /api/v1/flow',
    ];
    const documented = Object.entries(doc.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`));
    assert.deepEqual([...documented].sort(), [...expected].sort());
  });

  it('uses for the document the schemas that reject bad requests', async () => {
    const create = doc.paths['/api/v1/uploads']!.post!.requestBody!.content['application/json']!.schema as { required: string[]; additionalProperties: boolean };
    assert.deepEqual([...create.required].sort(), ['name', 'size']);
    assert.equal(create.additionalProperties, false);
    const signup = await fetch(`${server.url}/api/v1/auth/signup`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'someone', password: 'long enough', extra: 1 }),
    });
    assert.equal(signup.status, 400, 'a property the document does not allow is refused');
  });
});

describe('CORS on the API', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer({ auth: 'required', corsOrigins: ['https://app.example'] }); });
  after(async () => server.stop());

  it('answers a browser preflight for a chunk upload from an allowed origin', async () => {
    const response = await fetch(`${server.url}/api/v1/uploads/0123456789abcdef0123456789abcdef/chunks/3`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'authorization, content-digest' },
    });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(response.headers.get('access-control-allow-methods') ?? '', /\bPUT\b/);
    const allowed = (response.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    for (const name of ['authorization', 'content-digest', 'content-md5', 'x-api-key']) assert.ok(allowed.includes(name), name);
  });

  it('gives another origin no CORS headers, and still needs a token for the real request', async () => {
    const preflight = await fetch(`${server.url}/api/v1/files`, {
      method: 'OPTIONS', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'GET' },
    });
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
    const real = await fetch(`${server.url}/api/v1/files`, { headers: { Origin: 'https://app.example' } });
    assert.equal(real.status, 401);
    assert.equal(real.headers.get('access-control-allow-origin'), 'https://app.example', 'the browser may read the 401');
    assert.match(real.headers.get('access-control-expose-headers') ?? '', /WWW-Authenticate/);
  });
});
