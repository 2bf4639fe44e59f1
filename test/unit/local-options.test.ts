import { expect } from 'chai';
import { UsageError, parseLocalModeArgs } from '../../local/options';

const cwd = '/repo';

function options(argv: string[], env: Record<string, string> = {}) {
  const parsed = parseLocalModeArgs(argv, env, cwd);
  if (parsed.help) throw new Error('unexpected help');
  return parsed.options;
}

describe('local mode options', () => {
  it('defaults to func start ports and .local', () => {
    expect(options([])).to.deep.equal({
      func: false,
      anonymous: false,
      role: 'all',
      messageLeaseSeconds: 600,
      duplicateEvents: 0,
      malwareScanning: 'dev-stack',
      port: 7071,
      blobPort: 10000,
      queuePort: 10001,
      tablePort: 10002,
      dataDir: '/repo/.local',
      corsOrigins: [],
      eventsPort: 10003,
      webhooks: [],
    });
  });

  it('takes flags, in both spellings, over environment variables', () => {
    const env = { DIRECTDROP_LOCAL_PORT: '8000', DIRECTDROP_LOCAL_BLOB_PORT: '8001' };
    expect(
      options(['--port=9000', '--queue-port', '9002', '--data', 'tmp/x', '--func'], env),
    ).to.deep.equal({
      func: true,
      anonymous: false,
      role: 'all',
      messageLeaseSeconds: 600,
      duplicateEvents: 0,
      malwareScanning: 'dev-stack',
      port: 9000,
      blobPort: 8001,
      queuePort: 9002,
      tablePort: 10002,
      dataDir: '/repo/tmp/x',
      corsOrigins: [],
      eventsPort: 10003,
      webhooks: [],
    });
    expect(options([], { DIRECTDROP_LOCAL_DATA: '/abs/data' }).dataDir).to.equal('/abs/data');
  });

  it('turns the malware scan gate on or off, or leaves it to the dev stack', () => {
    expect(options(['--malware-scanning', 'off']).malwareScanning).to.equal('off');
    expect(options([], { DIRECTDROP_LOCAL_MALWARE_SCANNING: 'on' }).malwareScanning).to.equal('on');
    expect(() => options(['--malware-scanning=maybe'])).to.throw(
      UsageError,
      '--malware-scanning must be on or off, not "maybe"',
    );
  });

  it('runs one half of local mode, with a short lease and duplicate events, when asked', () => {
    const parsed = options(['--role', 'functions', '--message-lease=15'], {
      DIRECTDROP_LOCAL_DUPLICATE_EVENTS: '0.05',
    });
    expect(parsed).to.include({
      role: 'functions',
      messageLeaseSeconds: 15,
      duplicateEvents: 0.05,
    });
    expect(options([], { DIRECTDROP_LOCAL_ROLE: 'storage' }).role).to.equal('storage');
    expect(options(['--duplicate-events', '1']).duplicateEvents).to.equal(1);
  });

  it('adds browser origins from repeated --cors-origin flags and the environment, checked', () => {
    const env = { DIRECTDROP_LOCAL_CORS_ORIGINS: 'https://b.example.com, http://c.test:8080' };
    expect(
      options(
        ['--cors-origin', 'https://a.example.com', '--cors-origin=https://b.example.com'],
        env,
      ).corsOrigins,
    ).to.deep.equal(['https://a.example.com', 'https://b.example.com', 'http://c.test:8080']);
    for (const bad of ['https://a.example.com/', 'a.example.com', 'ftp://a.example.com', '*']) {
      expect(() => options(['--cors-origin', bad]), bad).to.throw(UsageError, /--cors-origin/);
    }
    expect(() => options(['--cors-origin'])).to.throw(UsageError, /needs a value/);
  });

  it('takes webhooks from repeated --webhook flags and the environment, and a secret', () => {
    const parsed = options(
      [
        '--webhook',
        'http://localhost:3000/hooks',
        '--webhook=https://app.test/events',
        '--events-port',
        '9003',
      ],
      {
        DIRECTDROP_LOCAL_WEBHOOKS: ' https://app.test/events , http://127.0.0.1:4000/x',
        DIRECTDROP_LOCAL_WEBHOOK_SECRET: 'from-the-environment',
      },
    );
    expect(parsed.webhooks).to.deep.equal([
      'http://localhost:3000/hooks',
      'https://app.test/events',
      'http://127.0.0.1:4000/x',
    ]);
    expect(parsed.eventsPort).to.equal(9003);
    expect(parsed.webhookSecret).to.equal('from-the-environment');
    expect(
      options(['--webhook-secret', 'from-the-flag'], {
        DIRECTDROP_LOCAL_WEBHOOK_SECRET: 'other-one',
      }).webhookSecret,
    ).to.equal('from-the-flag');
    expect(options([], { DIRECTDROP_LOCAL_EVENTS_PORT: '9103' }).eventsPort).to.equal(9103);
    for (const bad of [
      'localhost:3000',
      'ftp://x.test/',
      'https://user:pw@x.test/',
      'http://x.test/#f',
    ]) {
      expect(() => options(['--webhook', bad]), bad).to.throw(UsageError, /--webhook/);
    }
    expect(() => options([], { DIRECTDROP_LOCAL_WEBHOOKS: 'nope' })).to.throw(
      UsageError,
      /DIRECTDROP_LOCAL_WEBHOOKS/,
    );
    for (const bad of ['short', 'has a space in it', 'x'.repeat(4097)]) {
      expect(() => options(['--webhook-secret', bad]), bad).to.throw(
        UsageError,
        /--webhook-secret/,
      );
    }
    expect(() => options(['--role', 'functions', '--webhook', 'http://localhost:3000/'])).to.throw(
      UsageError,
      /storage half/,
    );
    expect(() => options(['--events-port', '10000'])).to.throw(UsageError, /both 10000/);
  });

  it('answers --help', () => {
    expect(parseLocalModeArgs(['--help'], {}, cwd)).to.deep.equal({ help: true });
  });

  const invalid: Array<[string, string[], Record<string, string>]> = [
    ['an unknown flag', ['--prot', '1'], {}],
    ['a flag without its value', ['--port'], {}],
    ['a port out of range', ['--port', '70000'], {}],
    ['a port that is not a number', [], { DIRECTDROP_LOCAL_QUEUE_PORT: 'abc' }],
    ['two services on one port', ['--port', '10000'], {}],
    ['an unknown role', ['--role', 'worker'], {}],
    ['a lease under 2 s', ['--message-lease', '1'], {}],
    [
      "a lease longer than the extension's 10 minutes",
      [],
      { DIRECTDROP_LOCAL_MESSAGE_LEASE: '601' },
    ],
    ['a lease that is not whole seconds', ['--message-lease', '2.5'], {}],
    ['a lease with func start, which cannot change it', ['--func', '--message-lease', '30'], {}],
    ['func start with no functions to run', ['--func', '--role', 'storage'], {}],
    ['a duplicate fraction above 1', ['--duplicate-events', '1.5'], {}],
    ['a negative duplicate fraction', ['--duplicate-events', '-0.1'], {}],
    [
      'a duplicate fraction that is not a number',
      [],
      { DIRECTDROP_LOCAL_DUPLICATE_EVENTS: 'some' },
    ],
  ];
  for (const [what, argv, env] of invalid) {
    it(`refuses ${what}`, () => {
      expect(() => parseLocalModeArgs(argv, env, cwd)).to.throw(UsageError);
    });
  }
});
