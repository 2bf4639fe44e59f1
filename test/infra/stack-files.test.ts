import { readFileSync, readdirSync } from 'node:fs';
import { expect } from 'chai';
import { parse } from 'yaml';
import {
  CONFIG_DEFAULTS,
  CONFIG_KEYS,
  CONFIG_NAMESPACE,
  type ConfigSource,
  loadConfig,
} from '../../infra/config';

/** A Pulumi.yaml config declaration; Pulumi's schema allows these types only. */
interface Declaration {
  type: 'string' | 'integer' | 'boolean' | 'array';
  items?: { type: string };
  description?: string;
  default?: unknown;
}

interface ProjectFile {
  name: string;
  runtime: { name: string; options?: { typescript?: boolean } };
  main: string;
  config: Record<string, Declaration>;
}

const SIMPLE_TYPES = ['string', 'integer', 'boolean', 'array'];
const project = parse(readFileSync('Pulumi.yaml', 'utf8')) as ProjectFile;
const stackFiles = readdirSync('.').filter((file) => /^Pulumi\.[\w-]+\.yaml$/.test(file));

/** Whether a stack value has the declared type, as Pulumi checks before the program runs. */
function hasDeclaredType(value: unknown, declaration: Declaration): boolean {
  switch (declaration.type) {
    case 'integer':
      return Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
      return typeof value === 'string';
    case 'array':
      return (
        Array.isArray(value) &&
        value.every((item) => hasDeclaredType(item, declaration.items as Declaration))
      );
  }
}

/** What the program sees: stack values over project defaults, lists and objects as JSON text. */
function stackConfigSource(stack: Record<string, unknown>): ConfigSource {
  return {
    get(key) {
      const value =
        `${CONFIG_NAMESPACE}:${key}` in stack
          ? stack[`${CONFIG_NAMESPACE}:${key}`]
          : project.config[key]?.default;
      if (value === undefined) return undefined;
      return typeof value === 'object' ? JSON.stringify(value) : String(value);
    },
  };
}

describe('infra Pulumi project and stack files', () => {
  it('Pulumi.yaml runs infra/ with the Node.js runtime and TypeScript, as project directdrop', () => {
    expect(project.name).to.equal(CONFIG_NAMESPACE);
    expect(project.runtime).to.deep.equal({ name: 'nodejs', options: { typescript: true } });
    expect(project.main).to.equal('infra/');
  });

  it('declares every key the program reads (variants, dropZones and outcomeSubscribers aside) with a type and a description', () => {
    expect([
      ...Object.keys(project.config),
      'variants',
      'dropZones',
      'outcomeSubscribers',
    ]).to.have.members([...CONFIG_KEYS]);
    for (const [key, declaration] of Object.entries(project.config)) {
      expect(SIMPLE_TYPES, key).to.include(declaration.type);
      if (declaration.type === 'array')
        expect(SIMPLE_TYPES, key).to.include(declaration.items?.type);
      expect(declaration.description, key).to.be.a('string').that.has.length.above(0);
    }
  });

  it('declares the same defaults as the code, and none for allowedCorsOrigins', () => {
    for (const [key, declaration] of Object.entries(project.config)) {
      if (key === 'allowedCorsOrigins') {
        expect(declaration).not.to.have.property('default');
        continue;
      }
      expect(declaration.default, key).to.deep.equal(
        CONFIG_DEFAULTS[key as keyof typeof CONFIG_DEFAULTS],
      );
      expect(hasDeclaredType(declaration.default, declaration), key).to.equal(true);
    }
  });

  it('has a development and a production example stack', () => {
    expect(stackFiles).to.include.members(['Pulumi.dev.yaml', 'Pulumi.prod.yaml']);
  });

  for (const file of stackFiles) {
    it(`${file} uses known keys of the declared types and loads through config.ts`, () => {
      const stack = (parse(readFileSync(file, 'utf8')) as { config: Record<string, unknown> })
        .config;
      for (const [qualifiedKey, value] of Object.entries(stack)) {
        const [namespace, key] = qualifiedKey.split(':');
        if (namespace !== CONFIG_NAMESPACE) continue;
        expect(CONFIG_KEYS, qualifiedKey).to.include(key);
        const declaration = project.config[key];
        if (declaration) expect(hasDeclaredType(value, declaration), qualifiedKey).to.equal(true);
      }
      expect(() => loadConfig(stackConfigSource(stack))).not.to.throw();
    });
  }

  it('makes the production example stricter than development', () => {
    const load = (file: string) =>
      loadConfig(
        stackConfigSource(
          (parse(readFileSync(file, 'utf8')) as { config: Record<string, unknown> }).config,
        ),
      );
    const dev = load('Pulumi.dev.yaml');
    const prod = load('Pulumi.prod.yaml');
    expect(prod.environment).to.equal('production');
    for (const origin of prod.allowedCorsOrigins) expect(origin).to.match(/^https:\/\//);
    expect(prod.app.maxUploadBytes).to.be.below(dev.app.maxUploadBytes);
    expect(prod.app.uploadUrlTtlSeconds).to.be.below(dev.app.uploadUrlTtlSeconds);
    expect(prod.retention.uploadDays).to.be.at.most(dev.retention.uploadDays);
    expect(prod.alerts.emails).to.have.length.greaterThan(0);
    expect(prod.alerts.failureRatePercent).to.be.below(dev.alerts.failureRatePercent);
    expect(prod.alerts.backlogAgeMinutes).to.be.below(dev.alerts.backlogAgeMinutes);
    expect(prod.queue.batchSize + prod.queue.newBatchThreshold).to.be.below(
      dev.queue.batchSize + dev.queue.newBatchThreshold,
    );
  });
});
