/**
 * Runs the Azure CLI with an argument array, never a shell command line, and a bounded
 * wait: a call that outlives its timeout is killed and reported as timed out.
 */
import { spawn } from 'node:child_process';

export interface AzResult {
  /** The exit code; null when the call was killed or could not start. */
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Set when `az` could not be started at all (e.g. not installed). */
  startError?: string;
}

/**
 * On Windows `az` is `az.cmd`, which only cmd.exe can run; Node refuses to start a .cmd
 * without a shell (CVE-2024-27980). Each argument is quoted for cmd.exe here, so an
 * argument with spaces stays one argument (pulumi-command#271 is what happens otherwise).
 */
export function windowsCommandLine(args: readonly string[]): string {
  for (const arg of args) {
    if (/["%!^&|<>\r\n]/.test(arg)) {
      throw new Error(
        `Refusing to pass ${JSON.stringify(arg)} to cmd.exe: it has a shell metacharacter`,
      );
    }
  }
  return ['az.cmd', ...args].map((arg) => `"${arg}"`).join(' ');
}

export function runAz(args: readonly string[], timeoutMs: number): Promise<AzResult> {
  const windows = process.platform === 'win32';
  const child = windows
    ? spawn('cmd.exe', ['/d', '/s', '/c', `"${windowsCommandLine(args)}"`], {
        windowsVerbatimArguments: true,
        windowsHide: true,
      })
    : spawn('az', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr, timedOut, startError: error.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: timedOut ? null : code, stdout, stderr, timedOut });
    });
  });
}
