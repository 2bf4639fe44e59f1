// Uppy 6 uploading to directdrop: @uppy/aws-s3's `signRequest` asks the directdrop API
// for the upload URL, Uppy sends the one PUT (with its progress, retries and cancel), and
// the page then polls the directdrop status for the processed variants.
import Uppy from '@uppy/core';
import AwsS3 from '@uppy/aws-s3';

const apiBaseUrl = new URLSearchParams(location.search).get('api') ?? '/api';
const results = document.getElementById('results');
/** Uppy file id → the directdrop status URL its upload reports to, and its list item. */
const statusUrls = new Map();
const items = new Map();

const uppy = new Uppy({ autoProceed: true });
uppy.use(AwsS3, {
  // A create-only upload URL allows one Put Blob; Azure has no S3 multipart.
  shouldUseMultipart: false,
  // signRequest is handed only { method, key, contentType }: no size, no file. The supported
  // way to get at the file is the key, which generateObjectKey makes from it: use the
  // Uppy file id and look the file up. The API, not the key, chooses the blob name.
  generateObjectKey: (file) => file.id,
  async signRequest(request) {
    const file = uppy.getFile(request.key);
    const response = await fetch(`${apiBaseUrl}/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        fileName: file.name,
        contentType: request.contentType || file.type,
        size: file.size,
      }),
    });
    const ticket = await response.json();
    if (!response.ok) throw new Error(ticket.error?.message ?? `HTTP ${response.status}`);
    statusUrls.set(file.id, ticket.statusUrl);
    // `headers` go on the PUT: x-ms-blob-type (Azure requires it) and the Content-Type.
    return { url: ticket.uploadUrl, headers: ticket.headers };
  },
});

function itemFor(file) {
  let item = items.get(file.id);
  if (!item) {
    item = document.createElement('li');
    items.set(file.id, item);
    item.append(
      Object.assign(document.createElement('span'), { textContent: file.name }),
      Object.assign(document.createElement('progress'), { max: 100, value: 0 }),
    );
    results.append(item);
  }
  return item;
}

async function waitForResult(statusUrl) {
  for (let delay = 250; ; delay = Math.min(delay * 1.5, 2000)) {
    const response = await fetch(statusUrl);
    if (response.status !== 404) {
      const status = await response.json();
      if (status.status !== 'pending') return status;
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

uppy.on('upload-progress', (file, progress) => {
  itemFor(file).querySelector('progress').value =
    (100 * progress.bytesUploaded) / progress.bytesTotal;
});
uppy.on('upload-error', (file, error) => {
  const item = itemFor(file);
  item.dataset.state = 'error';
  item.querySelector('span').textContent = `${file.name}: ${error.message}`;
});
uppy.on('upload-success', async (file) => {
  const item = itemFor(file);
  item.querySelector('span').textContent = `${file.name}: processing…`;
  const status = await waitForResult(statusUrls.get(file.id));
  item.dataset.state = status.status;
  if (status.status === 'processed') {
    item.querySelector('span').textContent = `${file.name}: processed`;
    const thumb = status.outputs.find((o) => o.name === 'thumb') ?? status.outputs[0];
    item.append(
      Object.assign(document.createElement('img'), {
        src: thumb.url,
        alt: `${file.name} thumbnail`,
      }),
    );
  } else {
    item.querySelector('span').textContent = `${file.name}: ${status.status} (${status.reason})`;
  }
});

const input = document.getElementById('file');
input.addEventListener('change', () => {
  for (const file of input.files) uppy.addFile({ name: file.name, type: file.type, data: file });
  input.value = '';
});
