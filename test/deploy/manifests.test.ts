/**
 * deploy/ without a Docker engine or a cluster: the Kubernetes manifests against the Kubernetes API
 * schemas that kubernetes-models bundles, the compose file through Debian's docker-compose (`config`,
 * which parses, validates and interpolates it), and both against what Ferry itself needs: settings
 * that src/config.ts knows and accepts, probes on /readyz and /healthz, roles, room for the drain.
 * The image is not built here (no engine): its runtime stage is checked for what it must hold.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig, SETTING_VARIABLES } from '../../src/config.js';

const DEPLOY = fileURLToPath(new URL('../../../deploy/', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The image's entry point, compiled. */
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const DOCKER_COMPOSE = '/usr/bin/docker-compose';
/** What a drain takes besides FERRY_SHUTDOWN_GRACE_SECONDS: cut requests flush (5 s), services close. */
const AFTER_GRACE_SECONDS = 10;

type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; [key: string]: unknown };
type Container = {
  args: string[];
  ports: { name: string }[];
  readinessProbe: { httpGet: { path: string; port: string } };
  livenessProbe: { httpGet: { path: string; port: string } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
};
type PodTemplate = { metadata: { labels: Record<string, string> }; spec: { terminationGracePeriodSeconds: number; securityContext: { runAsNonRoot: boolean }; containers: Container[] } };

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1 Deployment': Deployment,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
  'v1 ConfigMap': ConfigMap,
  'v1 Secret': Secret,
  'v1 Service': Service,
};

function manifests(): Manifest[] {
  const dir = join(DEPLOY, 'k8s');
  return readdirSync(dir).filter((name) => name.endsWith('.yaml')).sort().flatMap((name) => parseAllDocuments(readFileSync(join(dir, name), 'utf8')).map((document) => {
    assert.deepEqual(document.errors, [], `${name}: YAML errors`);
    return document.toJS() as Manifest;
  }));
}

function one(all: Manifest[], kind: string, name: string): Manifest {
  const found = all.filter((manifest) => manifest.kind === kind && manifest.metadata.name === name);
  assert.equal(found.length, 1, `one ${kind} ${name}`);
  return found[0]!;
}

/** FERRY_* names Ferry does not read are typos or leftovers: refused. Values must load as a config. */
function assertSettings(env: Record<string, string>, where: string): void {
  const unknown = Object.keys(env).filter((name) => name.startsWith('FERRY_') && !SETTING_VARIABLES.includes(name));
  assert.deepEqual(unknown, [], `${where}: settings Ferry does not have`);
  assert.doesNotThrow(() => loadConfig(env), `${where}: settings src/config.ts refuses`);
}

const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([key, value]) => labels[key] === value);

describe('Kubernetes manifests (deploy/k8s)', () => {
  const all = manifests();

  it('every document is a kind Ferry ships and valid against the Kubernetes API schema', () => {
    assert.ok(all.length >= 7, `${all.length} documents`);
    for (const manifest of all) {
      const Model = MODELS[`${manifest.apiVersion} ${manifest.kind}`];
      assert.ok(Model, `${manifest.apiVersion} ${manifest.kind} ${manifest.metadata.name}: not a kind this test knows`);
      assert.doesNotThrow(() => new Model(manifest as never).validate(), `${manifest.kind} ${manifest.metadata.name}`);
    }
  });

  it('the ConfigMap and Secret hold settings src/config.ts knows and accepts', () => {
    const config = one(all, 'ConfigMap', 'ferry') as Manifest & { data: Record<string, string> };
    const secret = one(all, 'Secret', 'ferry') as Manifest & { stringData: Record<string, string> };
    assertSettings({ ...config.data, ...secret.stringData }, 'ConfigMap + Secret');
    // What is secret stays out of the ConfigMap.
    for (const name of ['FERRY_DATABASE_URL', 'FERRY_REDIS_URL', 'FERRY_AMQP_URL', 'FERRY_S3_SECRET_KEY']) {
      assert.ok(name in secret.stringData && !(name in config.data), `${name} is in the Secret only`);
    }
  });

  for (const role of ['api', 'worker']) {
    it(`the ${role} Deployment: its role, probes, resources, a non-root user and room to drain`, () => {
      const config = one(all, 'ConfigMap', 'ferry') as Manifest & { data: Record<string, string> };
      const spec = (one(all, 'Deployment', `ferry-${role}`) as Manifest & { spec: { template: PodTemplate } }).spec.template.spec;
      const [container] = spec.containers;
      assert.deepEqual(container!.args, ['serve', '--role', role]);
      const port = container!.ports[0]!.name;
      assert.deepEqual(container!.readinessProbe.httpGet, { path: '/readyz', port });
      assert.deepEqual(container!.livenessProbe.httpGet, { path: '/healthz', port });
      for (const kind of ['requests', 'limits'] as const) {
        assert.ok(container!.resources[kind].cpu && container!.resources[kind].memory, `${kind} for cpu and memory`);
      }
      assert.equal(spec.securityContext.runAsNonRoot, true);
      const preStop = Number(container!.lifecycle?.preStop?.exec?.command[1] ?? 0);
      const needed = preStop + Number(config.data.FERRY_SHUTDOWN_GRACE_SECONDS) + AFTER_GRACE_SECONDS;
      assert.ok(spec.terminationGracePeriodSeconds >= needed, `terminationGracePeriodSeconds ${spec.terminationGracePeriodSeconds} >= ${needed}`);
    });
  }

  it('the Service and the PodDisruptionBudget select the api pods', () => {
    const labels = (one(all, 'Deployment', 'ferry-api') as Manifest & { spec: { template: PodTemplate } }).spec.template.metadata.labels;
    const service = one(all, 'Service', 'ferry-api') as Manifest & { spec: { selector: Record<string, string>; ports: { targetPort: string }[] } };
    const budget = one(all, 'PodDisruptionBudget', 'ferry-api') as Manifest & { spec: { selector: { matchLabels: Record<string, string> }; minAvailable: number } };
    assert.ok(matches(service.spec.selector, labels), 'Service selector');
    assert.equal(service.spec.ports[0]!.targetPort, 'http');
    assert.ok(matches(budget.spec.selector.matchLabels, labels), 'PodDisruptionBudget selector');
    assert.ok(budget.spec.minAvailable >= 1);
  });
});

describe('compose file (deploy/compose.yaml)', () => {
  it('docker-compose config accepts it; two api nodes, a worker, nginx and the services, with settings Ferry accepts', async () => {
    const { stdout } = await promisify(execFile)(DOCKER_COMPOSE, ['-f', join(DEPLOY, 'compose.yaml'), 'config'], { env: { PATH: process.env.PATH ?? '' } })
      .catch((err: Error) => { throw new Error(`${DOCKER_COMPOSE} -f deploy/compose.yaml config failed (apt-get install docker-compose; .ci/run does): ${err.message}`); });
    type Service = { command?: string[]; environment?: Record<string, string>; stop_grace_period?: string; image?: string; volumes?: (string | { source: string; target: string })[] };
    const { services } = parse(stdout) as { services: Record<string, Service> };
    for (const name of ['nginx', 'postgres', 'redis', 'rabbitmq', 'minio']) assert.ok(services[name], `service ${name}`);
    const roles: Record<string, string> = { 'api-1': 'api', 'api-2': 'api', worker: 'worker' };
    for (const [name, role] of Object.entries(roles)) {
      const service = services[name]!;
      assert.deepEqual(service.command, ['serve', '--role', role], name);
      assertSettings(service.environment ?? {}, name);
      const grace = Number(service.environment?.FERRY_SHUTDOWN_GRACE_SECONDS ?? 25);
      assert.ok(Number.parseInt(service.stop_grace_period ?? '10', 10) >= grace + AFTER_GRACE_SECONDS, `${name}: stop_grace_period leaves room to drain`);
    }
    const mounts = (services.nginx!.volumes ?? []).map((volume) => (typeof volume === 'string' ? volume : `${volume.source}:${volume.target}`));
    assert.ok(mounts.some((mount) => mount.startsWith(join(DEPLOY, 'nginx.conf')) && mount.includes(':/etc/nginx/nginx.conf')), `nginx runs deploy/nginx.conf: ${mounts.join(', ')}`);
  });
});

/** Packages the compiled code reachable from `entry` imports, following relative imports (static and dynamic). */
function packagesImportedFrom(entry: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g)) {
      if (specifier!.startsWith('.')) pending.push(resolve(dirname(file), specifier!));
      else if (!specifier!.startsWith('node:') && !builtinModules.includes(specifier!)) {
        packages.add(specifier!.split('/').slice(0, specifier!.startsWith('@') ? 2 : 1).join('/'));
      }
    }
  }
  return packages;
}

describe('image (deploy/Dockerfile)', () => {
  const stages = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8').split(/^FROM /m).slice(1);
  const runtime = stages.at(-1)!;

  it('its runtime stage runs as a non-root user, on all interfaces, with a HEALTHCHECK on /healthz', () => {
    assert.match(runtime, /^USER (?!root\b|0\b)\S+$/m);
    assert.match(runtime, /FERRY_HOST=0\.0\.0\.0/);
    assert.match(runtime, /^HEALTHCHECK [^\n]*(\\\n[^\n]*)*\/healthz/m);
  });

  it('its runtime stage has production dependencies only, and the server needs no other package', () => {
    const from = /^COPY --from=(\S+) \S*node_modules/m.exec(runtime)?.[1];
    const source = stages.find((stage) => stage.split('\n')[0]!.endsWith(` AS ${from}`));
    assert.ok(source, `the stage node_modules comes from (${from})`);
    assert.match(source, /npm ci --omit=dev/);
    const { dependencies } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const missing = [...packagesImportedFrom(MAIN)].filter((name) => !(name in dependencies));
    assert.deepEqual(missing, [], 'packages `ferry serve` imports that are not production dependencies');
  });

  it('starts Node with the environment and flags `ferry` and `npm start` use (the memory settings the server is tuned for)', () => {
    const shebang = readFileSync(MAIN, 'utf8').split('\n', 1)[0]!;
    const words = shebang.split(' ');
    const flags = words.filter((word) => word.startsWith('--'));
    const assignments = words.filter((word) => /^[A-Z_]+=/.test(word));
    assert.ok(flags.includes('--max-semi-space-size=1'), shebang);
    // A trim threshold alone turns off glibc's adaptive mmap threshold: both are set, or neither.
    assert.ok(assignments.some((word) => /^GLIBC_TUNABLES=(?=.*glibc\.malloc\.trim_threshold=)(?=.*glibc\.malloc\.mmap_threshold=)/.test(word)), shebang);
    const entrypoint = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(runtime)![1]!) as string[];
    assert.deepEqual(entrypoint, ['node', ...flags, 'dist/src/cli/main.js']);
    const env = /^ENV ((?:.*\\\n)*.*)$/m.exec(runtime)![1]!.split(/\s*\\\n\s*|\s+/);
    for (const assignment of assignments) assert.ok(env.includes(assignment), `the image's ENV sets ${assignment}`);
    const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.ok(scripts.start!.endsWith(`${[...assignments, 'node', ...flags].join(' ')} dist/src/cli/main.js serve`), scripts.start);
  });
});
