import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'chai';

const PRINTER = join(__dirname, 'helpers', 'print-role-assignment-names.ts');

function programRun(): Record<string, string> {
  const result = spawnSync(process.execPath, ['--import', 'tsx', PRINTER], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(result.status, result.stderr).to.equal(0);
  return JSON.parse(result.stdout) as Record<string, string>;
}

describe('infra role assignment names across program runs', function () {
  this.timeout(120_000);

  it('gives every role assignment the same GUID name in two separate runs of the program', () => {
    const first = programRun();
    const second = programRun();
    const names = Object.values(first);
    expect(names.length).to.be.greaterThan(5);
    for (const name of names) expect(name).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-/);
    expect(new Set(names).size).to.equal(names.length);
    expect(second).to.deep.equal(first);
  });
});
