/**
 * The local-mode upload page: pick or drop photos, watch each upload, see the
 * processed thumbnail (click it for the display size). Bundled to app.js by build.ts.
 */
import {
  type UploadLimits,
  type UploadResult,
  DirectdropError,
  deleteUpload,
  formatBytes,
  getLimits,
  getUploadStatus,
  upload,
} from '../src/index.js';

/** Uploads at once; more files wait their turn. */
const PARALLEL_UPLOADS = 3;

// `?api=` lets the page talk to an API elsewhere; by default the page's own origin serves it.
const apiBaseUrl = new URLSearchParams(location.search).get('api') ?? '/api';

/**
 * A bearer token arrives in the fragment (`#token=…`, which browsers never send to servers)
 * and is kept for this tab only; the fragment is cleared so it does not linger in the URL.
 */
function signInToken(): string | undefined {
  const fromFragment = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromFragment) {
    sessionStorage.setItem('directdrop-token', fromFragment);
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem('directdrop-token') ?? undefined;
}
let token = signInToken();

const signIn = document.getElementById('sign-in') as HTMLElement;
const signInState = document.getElementById('sign-in-state') as HTMLParagraphElement;
const signInHelp = document.getElementById('sign-in-help') as HTMLDivElement;
const tokenForm = document.getElementById('token-form') as HTMLFormElement;
const tokenInput = document.getElementById('token-input') as HTMLInputElement;
const devSignIn = document.getElementById('dev-sign-in') as HTMLButtonElement;
const apiUrl = new URL(apiBaseUrl, location.href);
(document.getElementById('dev-token-command') as HTMLElement).textContent =
  `npx directdrop dev-token --api ${apiUrl.href.replace(/\/$/, '')}`;

/**
 * Says up front whether uploads will be accepted: a status request for an id that cannot
 * exist answers 404 to a caller the API accepts and 401 to one it does not.
 */
async function checkSignIn() {
  const probe = new URL(
    'uploads/00000000-0000-4000-8000-000000000000',
    `${apiUrl.href.replace(/\/?$/, '/')}`,
  );
  let state: 'signed-in' | 'open' | 'signed-out' | 'unknown';
  try {
    await getUploadStatus(probe.href, { apiBaseUrl, token });
    state = token ? 'signed-in' : 'open';
  } catch (error) {
    const refused = error instanceof DirectdropError && error.status === 401;
    state = refused ? 'signed-out' : 'unknown';
  }
  signIn.dataset.state = state;
  signInState.textContent = {
    'signed-in': 'Signed in: uploads go in under your token (kept for this tab only).',
    open: 'This API needs no sign-in.',
    'signed-out': token
      ? 'Not signed in: the API refused your token (it may have expired). Get a new one below.'
      : 'Not signed in: this API needs a token before it accepts uploads.',
    unknown: 'Sign-in could not be checked; uploads will say if a token is needed.',
  }[state];
  signInHelp.hidden = state !== 'signed-out';
  // Local mode's development provider answers pages of its own origin only.
  devSignIn.hidden = apiUrl.origin !== location.origin;
}

function useToken(value: string) {
  token = value;
  sessionStorage.setItem('directdrop-token', value);
  void checkSignIn();
}

tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  useToken(tokenInput.value.trim());
  tokenInput.value = '';
});
devSignIn.addEventListener('click', async () => {
  const response = await fetch('/dev-identity/token', { method: 'POST' }).catch(() => undefined);
  const body = (await response?.json().catch(() => undefined)) as
    { access_token?: string; error?: { message?: string } } | undefined;
  if (body?.access_token) useToken(body.access_token);
  else
    signInState.textContent = `No development sign-in here: ${body?.error?.message ?? 'this server does not hand out tokens'}.`;
});
void checkSignIn();

const dropZone = document.getElementById('drop-zone') as HTMLLabelElement;
const input = document.getElementById('file-input') as HTMLInputElement;
const list = document.getElementById('uploads') as HTMLUListElement;
const viewer = document.getElementById('viewer') as HTMLDialogElement;
const viewerTitle = document.getElementById('viewer-title') as HTMLParagraphElement;
const viewerImage = document.getElementById('viewer-image') as HTMLImageElement;
const limitsText = document.getElementById('limits') as HTMLSpanElement;

/** `image/jpeg` → `JPEG`: what people call the formats. */
const formatName = (contentType: string) => contentType.replace(/^image\//, '').toUpperCase();

/** The page states the server's rules, whatever they are configured to. */
function showLimits(limits: UploadLimits) {
  const names = limits.allowedContentTypes.map(formatName);
  const list = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : names[0];
  limitsText.textContent = `${list}, up to ${formatBytes(limits.maxBytes)} each.`;
  input.accept = limits.allowedContentTypes.join(',');
}

getLimits({ apiBaseUrl }).then(showLimits, (error: unknown) => {
  limitsText.textContent = `The upload service did not answer: ${error instanceof Error ? error.message : String(error)}`;
});

type State =
  | 'queued'
  | 'uploading'
  | 'processing'
  | 'processed'
  | 'rejected'
  | 'error'
  | 'cancelled'
  | 'deleted';

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
): HTMLElementTagNameMap[K] {
  return Object.assign(document.createElement(tag), props);
}

function uploadItem(file: File) {
  const item = element('li', { className: 'upload' });
  const name = element('span', { className: 'name', textContent: file.name });
  const cancel = element('button', { type: 'button', textContent: 'Cancel' });
  cancel.setAttribute('aria-label', `Cancel upload of ${file.name}`);
  const progress = element('progress', { max: 100, value: 0 });
  progress.setAttribute('aria-label', `${file.name} upload progress`);
  const status = element('p', { className: 'status', textContent: 'Waiting…' });
  status.setAttribute('role', 'status');
  item.append(name, cancel, progress, status);
  list.prepend(item);

  const setState = (state: State, text: string) => {
    item.dataset.state = state;
    item.classList.toggle('rejected', state === 'rejected');
    item.classList.toggle('error', state === 'error');
    status.textContent = text;
    if (state !== 'queued' && state !== 'uploading' && state !== 'processing') cancel.remove();
  };
  setState('queued', 'Waiting…');
  return { item, cancel, progress, setState };
}

function showResult(
  item: HTMLLIElement,
  fileName: string,
  result: UploadResult,
  setState: (state: State, text: string) => void,
) {
  const { outputs } = result;
  const bySize = [...outputs].sort((a, b) => a.width - b.width);
  const thumb = outputs.find((o) => o.name === 'thumb') ?? bySize[0];
  const display = outputs.find((o) => o.name === 'display') ?? bySize[bySize.length - 1];
  const figure = element('figure');
  const open = element('button', { type: 'button' });
  open.setAttribute('aria-label', `Show ${fileName} at ${display.width} × ${display.height}`);
  open.append(
    element('img', {
      src: thumb.url,
      alt: `Thumbnail of ${fileName}`,
      width: thumb.width,
      height: thumb.height,
    }),
  );
  open.addEventListener('click', () => {
    viewerTitle.textContent = `${fileName}, ${display.width} × ${display.height}`;
    viewerImage.src = display.url;
    viewerImage.alt = `${fileName} at display size`;
    viewer.showModal();
  });
  figure.append(
    open,
    element('figcaption', {
      className: 'hint',
      textContent: outputs.map((o) => `${o.name} ${o.width} × ${o.height}`).join(', '),
    }),
  );
  // Erases the outputs, the record and anything left of the upload; its read URLs stop working.
  const remove = element('button', { type: 'button', className: 'delete', textContent: 'Delete' });
  remove.setAttribute('aria-label', `Delete ${fileName}`);
  remove.addEventListener('click', async () => {
    remove.disabled = true;
    try {
      await deleteUpload(result, { apiBaseUrl, token });
      figure.remove();
      remove.remove();
      setState('deleted', 'Deleted.');
    } catch (error) {
      remove.disabled = false;
      setState('error', `Not deleted: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
  item.append(figure, remove);
}

async function uploadOne(file: File) {
  const { item, cancel, progress, setState } = uploadItem(file);
  const controller = new AbortController();
  cancel.addEventListener('click', () => controller.abort());
  try {
    await slots.acquire(controller.signal);
  } catch {
    setState('cancelled', 'Cancelled.');
    return;
  }
  try {
    setState('uploading', 'Starting…');
    const result = await upload(file, {
      apiBaseUrl,
      token,
      signal: controller.signal,
      onProgress: (p) => {
        progress.value = p.percent;
        if (p.stage === 'uploading') setState('uploading', `Uploading… ${p.percent} %`);
        if (p.stage === 'processing') setState('processing', 'Uploaded. Processing…');
      },
      onPendingStage: (stage) =>
        setState(
          'processing',
          {
            'awaiting-upload': 'Uploaded. Waiting for storage to report it…',
            scanning: 'Uploaded. Scanning for malware…',
            processing: 'Scanned. Processing…',
          }[stage],
        ),
    });
    setState('processed', 'Ready.');
    showResult(item, file.name, result, setState);
  } catch (error) {
    if (error instanceof DirectdropError && error.code === 'aborted') {
      setState('cancelled', 'Cancelled.');
    } else if (error instanceof DirectdropError && error.code === 'rejected') {
      setState('rejected', `Rejected: ${error.message}`);
    } else if (error instanceof DirectdropError && error.stage === 'validate') {
      setState('rejected', `Not uploaded: ${error.message}`);
    } else {
      setState('error', `Failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  } finally {
    slots.release();
  }
}

/** A counting semaphore, so a drop of 50 photos does not open 50 uploads at once. */
const slots = (() => {
  let free = PARALLEL_UPLOADS;
  const waiting: (() => void)[] = [];
  return {
    acquire(signal: AbortSignal): Promise<void> {
      if (free > 0) {
        free--;
        return Promise.resolve();
      }
      return new Promise((resolve, reject) => {
        const take = () => resolve();
        waiting.push(take);
        signal.addEventListener('abort', () => {
          const index = waiting.indexOf(take);
          if (index < 0) return; // already holds a slot; upload() sees the abort
          waiting.splice(index, 1);
          reject(signal.reason);
        });
      });
    },
    release() {
      const next = waiting.shift();
      if (next) next();
      else free++;
    },
  };
})();

function addFiles(files: FileList | null) {
  for (const file of files ?? []) void uploadOne(file);
}

input.addEventListener('change', () => {
  addFiles(input.files);
  input.value = ''; // choosing the same file again should upload it again
});

dropZone.addEventListener('dragover', (event) => {
  event.preventDefault();
  dropZone.classList.add('dragging');
});
dropZone.addEventListener('dragleave', () => dropZone.classList.remove('dragging'));
dropZone.addEventListener('drop', (event) => {
  event.preventDefault();
  dropZone.classList.remove('dragging');
  addFiles(event.dataTransfer?.files ?? null);
});
// A photo dropped beside the zone would otherwise replace the page with the photo.
window.addEventListener('dragover', (event) => event.preventDefault());
window.addEventListener('drop', (event) => event.preventDefault());
