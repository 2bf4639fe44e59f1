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
      port: 7071,
      blobPort: 10000,
      queuePort: 10001,
      tablePort: 10002,
      dataDir: '/repo/.local',
    });
  });

  it('takes flags, in both spellings, over environment variables', () => {
    const env = { DIRECTDROP_LOCAL_PORT: '8000', DIRECTDROP_LOCAL_BLOB_PORT: '8001' };
    expect(
      options(['--port=9000', '--queue-port', '9002', '--data', 'tmp/x', '--func'], env),
    ).to.deep.equal({
      func: true,
      port: 9000,
      blobPort: 8001,
      queuePort: 9002,
      tablePort: 10002,
      dataDir: '/repo/tmp/x',
    });
    expect(options([], { DIRECTDROP_LOCAL_DATA: '/abs/data' }).dataDir).to.equal('/abs/data');
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
  ];
  for (const [what, argv, env] of invalid) {
    it(`refuses ${what}`, () => {
      expect(() => parseLocalModeArgs(argv, env, cwd)).to.throw(UsageError);
    });
  }
});
